// Package roster is the jabber:iq:roster payload of RFC 6121 §2: typed
// roster items and queries, decoded from and encoded to stanza elements,
// with the validation RFC 6121 §2.3.3 asks of a roster set, the 'ver'
// attribute of roster versioning (RFC 6121 §2.6, XEP-0237) and the
// 'approved' flag of subscription pre-approval (RFC 6121 §3.4).
package roster
