// Package ping is the server module for XEP-0199 (XMPP Ping): it answers
// pings addressed to a served domain and, on behalf of an account
// (XEP-0199 §4.5), pings addressed to a local bare JID, including the
// pings a client sends without a 'to' (handled as addressed to its own
// bare JID).
//
// Pinging connected clients when a stream is idle is the c2s transport's
// job, not this module's.
package ping
