// Package serverinfo advertises the server's contact addresses (XEP-0157)
// and any configured extended information forms (XEP-0128) in the
// disco#info of the server's domains.
package serverinfo
