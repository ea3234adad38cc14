// Package muc holds the payloads of XEP-0045 (Multi-User Chat) shared by
// the server and clients: the namespaces, roles and affiliations, the
// <item/> of muc#user and muc#admin, status codes, the <history/> request
// of a join, and direct invitations (XEP-0249).
//
// It does no I/O and keeps no state; server/mod/muc implements the
// service.
package muc
