// Package router applies XMPP's delivery rules (RFC 6120 §10, RFC 6121
// §8.5) to every stanza: to the server or an account it dispatches to the
// module handlers and hooks registered for it, to a local user it picks the
// resources that take it, and it answers everything it cannot deliver with
// the stanza error the RFCs name.
package router
