// Package disco encodes and decodes the payloads of XEP-0030 (Service
// Discovery): the disco#info query with its identities, features and
// XEP-0128 extended-information forms, and the disco#items query.
package disco
