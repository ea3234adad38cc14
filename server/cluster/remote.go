package cluster

import (
	"errors"

	"github.com/parley-xmpp/parley/server/session"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// remoteConn is the session.Conn of a session bound on another node: what
// it is given goes to that node's queue (peer.go).
type remoteConn struct {
	n    *Node
	node string // the node holding the session
	full jid.JID
}

var _ session.Conn = (*remoteConn)(nil)

// errGone is returned for a session of a node this node no longer
// reaches.
var errGone = errors.New("cluster: the session's node is gone")

// Deliver queues st for the session's node; it fails when that queue is
// full, as a local session's full queue does.
func (c *remoteConn) Deliver(st *stanza.Element) error {
	p := c.n.peer(c.node)
	if p == nil {
		return errGone
	}
	return p.enqueue(deliverMsg(p.subject, c.n.self, c.full, st))
}

// Close asks the session's node to end it.
func (c *remoteConn) Close(err *stream.Error) {
	cond := stream.SystemShutdown
	if err != nil {
		cond = err.Condition
	}
	if p := c.n.peer(c.node); p != nil {
		if e := p.enqueue(closeMsg(p.subject, c.n.self, c.full, cond)); e != nil {
			c.n.log.Warn("cluster: cannot ask a node to close a session", "node", c.node, "session", c.full, "err", e)
		}
	}
}

// RemoteAddr names the node, for logs.
func (c *remoteConn) RemoteAddr() string { return "cluster node " + c.node }

// remoteSession returns the session standing for full, bound on node, in
// the state e describes.
func (n *Node) remoteSession(full jid.JID, e entry, pres *stanza.Element) *session.Session {
	s := session.NewRemote(full, &remoteConn{n: n, node: e.Node, full: full})
	applyEntry(s, e, pres)
	return s
}

// applyEntry sets what e says of a remote session.
func applyEntry(s *session.Session, e entry, pres *stanza.Element) {
	if e.Available && pres == nil {
		pres = stanza.New(stanza.NSClient, "presence", "from", s.JID().String())
	}
	if !e.Available {
		pres = nil
	}
	s.SetPresence(pres, e.Priority)
	s.SetFlags(e.Flags)
}
