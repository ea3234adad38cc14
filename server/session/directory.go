package session

import "github.com/parley-xmpp/parley/xmpp/jid"

// Directory is where the router and modules find the bound sessions of
// the served accounts. The Table, which holds the sessions bound on this
// node, is one; a cluster would put one in front of it that also lists the
// sessions bound on its other nodes, whose Conn forwards to the node that
// holds the connection.
//
// Lookups are on every routed stanza's path: they must not allocate in the
// common case, nor block on the network. The slices returned are shared
// and must not be modified.
type Directory interface {
	// Sessions returns the sessions of a bare JID.
	Sessions(bare jid.JID) []*Session
	// Get returns the session bound to a full JID, or nil.
	Get(full jid.JID) *Session
	// Available returns the available sessions of a bare JID.
	Available(bare jid.JID) []*Session
	// All returns every bound session, sorted by JID, for administration.
	All() []*Session
}

var _ Directory = (*Table)(nil)
