// Package bosh holds the names XMPP over BOSH (XEP-0124, XEP-0206) puts
// on the wire, shared by the server's transport, the client library and
// the load generator.
package bosh

const (
	// NSHTTPBind is the namespace of BOSH's <body/> wrapper (XEP-0124).
	NSHTTPBind = "http://jabber.org/protocol/httpbind"
	// NSXBOSH is the namespace of XEP-0206's attributes (xmpp:version,
	// xmpp:restart, xmpp:restartlogic).
	NSXBOSH = "urn:xmpp:xbosh"
	// Version is the BOSH version spoken (XEP-0124 'ver').
	Version = "1.11"
)
