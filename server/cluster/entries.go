package cluster

import (
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/parley-xmpp/parley/server/session"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// entryUpdate follows the sessions bucket: the replica of the other
// nodes' sessions in the directory, and the conflicts of this node's
// sessions with newer ones elsewhere.
func (n *Node) entryUpdate(kve jetstream.KeyValueEntry) {
	key := kve.Key()
	full, err := jidOfKey(key)
	if err != nil {
		n.log.Warn("cluster: bad key in the session directory", "key", key, "err", err)
		return
	}
	var (
		conflict *session.Session
		reap     []*keyState
		ended    string // the node of a session of another node that ended
	)
	n.mu.Lock()
	ks := n.keys[key]
	switch kve.Operation() {
	case jetstream.KeyValuePut:
		e, pres, err := parseEntry(kve.Value())
		if err != nil {
			n.mu.Unlock()
			n.log.Warn("cluster: bad entry in the session directory", "session", full, "err", err)
			return
		}
		if ks == nil {
			ks = &keyState{key: key, full: full}
			n.keys[key] = ks
		}
		if kve.Revision() <= ks.rev {
			break // older than what this node knows
		}
		n.unindex(ks)
		ks.rev, ks.e, ks.pres, ks.created, ks.reaped = kve.Revision(), e, pres, kve.Created(), time.Time{}
		if e.Node != n.self {
			if l := ks.local; l != nil && l.rev != 0 && ks.rev > l.rev {
				// RFC 6120 §7.7.2.2 across nodes: the newest session wins.
				conflict = l.s
			}
			idx := n.byNode[e.Node]
			if idx == nil {
				idx = make(map[string]*keyState)
				n.byNode[e.Node] = idx
			}
			idx[key] = ks
		}
		reap = n.refreshKey(ks)
	default: // deleted or purged
		if ks == nil {
			break
		}
		n.unindex(ks)
		if ks.remote != nil {
			n.dir.remove(ks.remote)
			n.remote--
			ks.remote = nil
		}
		if l := ks.local; l != nil && !l.ended && ks.e.Node == n.self {
			// This node's entry was deleted under a live session (its
			// lease had expired for the others): write it again.
			n.log.Warn("cluster: a session's entry was deleted by another node; written again", "session", full)
			l.rev = 0
			n.markDirty(l)
		}
		if ks.e.Node != n.self {
			ended = ks.e.Node
		}
		ks.rev, ks.e, ks.pres = kve.Revision(), entry{}, nil
		if ks.local == nil {
			delete(n.keys, key)
		}
	}
	n.mu.Unlock()
	if conflict != nil {
		n.log.Info("cluster: resource bound on another node; ending this node's session", "session", full)
		conflict.Conn().Close(&stream.Error{Condition: stream.Conflict})
	}
	n.reap(reap)
	if ended != "" {
		n.sessionLeft(full, ended)
	}
}

// unindex removes ks from the index of its node's keys. n.mu is held.
func (n *Node) unindex(ks *keyState) {
	if idx := n.byNode[ks.e.Node]; idx != nil {
		delete(idx, ks.key)
		if len(idx) == 0 {
			delete(n.byNode, ks.e.Node)
		}
	}
}

// refreshNode updates the directory for every entry of node, after its
// lease changed, and returns those to reap. n.mu is held.
func (n *Node) refreshNode(node string) []*keyState {
	var reap []*keyState
	for _, ks := range n.byNode[node] {
		reap = append(reap, n.refreshKey(ks)...)
	}
	return reap
}

// refreshKey makes the directory show ks's entry of another node if that
// node is alive in the entry's incarnation, and hide it otherwise; it
// returns ks if it is to be reaped. n.mu is held.
func (n *Node) refreshKey(ks *keyState) []*keyState {
	if ks.e.Node == n.self || ks.e.Node == "" {
		if ks.remote != nil {
			// The full JID moved here (a resumption, or a newer session
			// bound here): the other node's session is gone.
			n.dir.remove(ks.remote)
			n.remote--
			ks.remote = nil
		}
		return nil
	}
	l := n.nodes[ks.e.Node]
	visible := l != nil && l.alive && l.Inc == ks.e.Inc
	switch {
	case visible && ks.remote != nil && ks.remote.Conn().(*remoteConn).node == ks.e.Node:
		applyEntry(ks.remote, ks.e, ks.pres)
	case visible:
		if ks.remote != nil {
			n.dir.remove(ks.remote)
			n.remote--
		}
		ks.remote = nil
		if n.remote >= n.opts.MaxRemoteSessions {
			n.log.Warn("cluster: max_remote_sessions reached; a session of another node is left out of the directory", "session", ks.full, "node", ks.e.Node)
			return nil
		}
		ks.remote = n.remoteSession(ks.full, ks.e, ks.pres)
		n.dir.put(ks.remote)
		n.remote++
	case ks.remote != nil:
		n.dir.remove(ks.remote)
		n.remote--
		ks.remote = nil
	}
	if visible {
		return nil
	}
	// Reaped when its node is dead; an entry of a node never seen is
	// given the TTL for the node's lease to show up. The entries of an
	// earlier incarnation of a live node are that node's to reap (sweep):
	// this node may not know its newest incarnation yet.
	if l == nil && time.Since(ks.created) < n.opts.NodeTTL || l != nil && l.alive {
		return nil
	}
	if !n.mayReap(ks) {
		return nil
	}
	return []*keyState{ks}
}

// mayReap reports whether ks may be reaped now (not tried within the
// node TTL), and records the attempt. n.mu is held.
func (n *Node) mayReap(ks *keyState) bool {
	if !ks.reaped.IsZero() && time.Since(ks.reaped) < n.opts.NodeTTL {
		return false
	}
	ks.reaped = time.Now()
	return true
}
