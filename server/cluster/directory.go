package cluster

import (
	"hash/maphash"
	"slices"
	"sort"
	"sync"

	"github.com/parley-xmpp/parley/server/session"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// Directory is the cluster's session.Directory: the sessions bound on
// this node (the local table, where transports bind them) and a replica
// of those of the other nodes, which the node keeps from the sessions
// bucket (node.go). A lookup takes the read lock of one shard, never
// waits on the network, and allocates only the first time an account has
// sessions on this node and on another one together.
type Directory struct {
	local  *session.Table
	seed   maphash.Seed
	shards [shardCount]dirShard
}

const shardCount = 64

// dirShard holds the remote sessions of the bare JIDs hashed to it, and
// the merged lists of accounts with sessions here and elsewhere.
type dirShard struct {
	mu     sync.RWMutex
	remote map[jid.JID][]*session.Session // replaced, never modified
	// merged holds, for an account with sessions here and elsewhere, the
	// local list followed by the remote one, valid while both still hold
	// the same sessions (compared, not allocated, on each lookup).
	merged map[jid.JID][]*session.Session
}

var _ session.Directory = (*Directory)(nil)

// NewDirectory returns a directory of the sessions of local and of none
// elsewhere yet.
func NewDirectory(local *session.Table) *Directory {
	d := &Directory{local: local, seed: maphash.MakeSeed()}
	for i := range d.shards {
		d.shards[i].remote = make(map[jid.JID][]*session.Session)
		d.shards[i].merged = make(map[jid.JID][]*session.Session)
	}
	return d
}

func (d *Directory) shard(bare jid.JID) *dirShard {
	return &d.shards[maphash.Comparable(d.seed, bare)%shardCount]
}

// Sessions returns the sessions of a bare JID on every node, this node's
// first.
func (d *Directory) Sessions(bare jid.JID) []*session.Session {
	l := d.local.Sessions(bare)
	sh := d.shard(bare)
	sh.mu.RLock()
	r := sh.remote[bare]
	if len(r) == 0 {
		sh.mu.RUnlock()
		return l
	}
	if len(l) == 0 {
		sh.mu.RUnlock()
		return r
	}
	m, ok := sh.merged[bare]
	sh.mu.RUnlock()
	if ok && len(m) == len(l)+len(r) && sameList(m[:len(l)], l) && sameList(m[len(l):], r) {
		return m
	}
	list := make([]*session.Session, 0, len(l)+len(r))
	list = append(append(list, l...), r...)
	sh.mu.Lock()
	// Cached only if the remote list did not change meanwhile.
	if cur := sh.remote[bare]; sameList(cur, r) {
		sh.merged[bare] = list
	}
	sh.mu.Unlock()
	return list
}

// sameList reports whether a and b hold the same sessions in the same
// order.
func sameList(a, b []*session.Session) bool { return slices.Equal(a, b) }

// Get returns the session bound to a full JID on any node, or nil.
func (d *Directory) Get(full jid.JID) *session.Session {
	if s := d.local.Get(full); s != nil {
		return s
	}
	return d.remoteGet(full)
}

// remoteGet returns the session of another node bound to full, or nil.
func (d *Directory) remoteGet(full jid.JID) *session.Session {
	sh := d.shard(full.Bare())
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	for _, s := range sh.remote[full.Bare()] {
		if s.JID() == full {
			return s
		}
	}
	return nil
}

// Available returns the available sessions of a bare JID on every node.
// Like Sessions' slice it may be shared: when every session is available
// (the usual case) it is not a copy.
func (d *Directory) Available(bare jid.JID) []*session.Session {
	return session.AvailableOf(d.Sessions(bare))
}

// All returns every session of every node, sorted by JID.
func (d *Directory) All() []*session.Session {
	out := d.local.All()
	for i := range d.shards {
		sh := &d.shards[i]
		sh.mu.RLock()
		for _, l := range sh.remote {
			out = append(out, l...)
		}
		sh.mu.RUnlock()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].JID().String() < out[j].JID().String() })
	return out
}

// put adds or replaces the session of another node bound to s's JID.
func (d *Directory) put(s *session.Session) {
	bare := s.JID().Bare()
	sh := d.shard(bare)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	list := sh.remote[bare]
	next := make([]*session.Session, 0, len(list)+1)
	for _, o := range list {
		if o.JID() != s.JID() {
			next = append(next, o)
		}
	}
	sh.remote[bare] = append(next, s)
	delete(sh.merged, bare)
}

// remove drops s if it is still the session of another node bound to its
// JID, and reports whether it was.
func (d *Directory) remove(s *session.Session) bool {
	bare := s.JID().Bare()
	sh := d.shard(bare)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	list := sh.remote[bare]
	i := slices.Index(list, s)
	if i < 0 {
		return false
	}
	if len(list) == 1 {
		delete(sh.remote, bare)
	} else {
		sh.remote[bare] = slices.Delete(slices.Clone(list), i, i+1)
	}
	delete(sh.merged, bare)
	return true
}
