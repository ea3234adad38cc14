package session

import (
	"errors"
	"hash/maphash"
	"sort"
	"sync"

	"github.com/parley-xmpp/parley/xmpp/jid"
)

// ErrTooManySessions is returned by Bind when the account already has the
// maximum number of sessions.
var ErrTooManySessions = errors.New("session: too many sessions for this account")

const shardCount = 64

type shard struct {
	mu    sync.RWMutex
	users map[jid.JID][]*Session // bare JID -> sessions
}

// Table is the set of bound sessions, sharded by bare JID.
type Table struct {
	seed        maphash.Seed
	maxSessions int
	shards      [shardCount]shard
	resume      resumeIndex // XEP-0198 resumable sessions, see resume.go
}

// NewTable returns an empty table allowing maxPerAccount sessions per
// account (0: unlimited).
func NewTable(maxPerAccount int) *Table {
	t := &Table{seed: maphash.MakeSeed(), maxSessions: maxPerAccount}
	for i := range t.shards {
		t.shards[i].users = make(map[jid.JID][]*Session)
	}
	return t
}

func (t *Table) shard(bare jid.JID) *shard {
	h := maphash.Comparable(t.seed, bare)
	return &t.shards[h%shardCount]
}

// Bind adds s to the table. If a session with the same full JID exists it
// is replaced and returned, and the caller must end it with a <conflict/>
// stream error (RFC 6120 §7.7.2.2). When the account is at its session
// limit, Bind returns ErrTooManySessions.
func (t *Table) Bind(s *Session) (replaced *Session, err error) {
	bare := s.jid.Bare()
	sh := t.shard(bare)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	list := sh.users[bare]
	for i, old := range list {
		if old.jid == s.jid {
			next := make([]*Session, len(list))
			copy(next, list)
			next[i] = s
			sh.users[bare] = next
			return old, nil
		}
	}
	if t.maxSessions > 0 && len(list) >= t.maxSessions {
		return nil, ErrTooManySessions
	}
	next := make([]*Session, len(list), len(list)+1)
	copy(next, list)
	sh.users[bare] = append(next, s)
	return nil, nil
}

// Unbind removes s if it is still the bound session for its JID, and
// reports whether it was.
func (t *Table) Unbind(s *Session) bool {
	bare := s.jid.Bare()
	sh := t.shard(bare)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	list := sh.users[bare]
	for i, cur := range list {
		if cur == s {
			if len(list) == 1 {
				delete(sh.users, bare)
				return true
			}
			next := make([]*Session, 0, len(list)-1)
			next = append(next, list[:i]...)
			sh.users[bare] = append(next, list[i+1:]...)
			return true
		}
	}
	return false
}

// Sessions returns the sessions of a bare JID. The slice is shared and
// must not be modified; the table replaces it on every change.
func (t *Table) Sessions(bare jid.JID) []*Session {
	sh := t.shard(bare)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	return sh.users[bare]
}

// Get returns the session bound to a full JID, or nil.
func (t *Table) Get(full jid.JID) *Session {
	for _, s := range t.Sessions(full.Bare()) {
		if s.jid == full {
			return s
		}
	}
	return nil
}

// Available returns the available sessions of a bare JID. Like Sessions'
// slice it may be shared and must not be modified: when every session is
// available (the usual case) it is the table's own list, not a copy.
func (t *Table) Available(bare jid.JID) []*Session {
	return AvailableOf(t.Sessions(bare))
}

// AvailableOf returns the available sessions of all: all itself when
// every one is available (no copy: all is shared, not modified), else a
// new slice. Directories implement Available with it.
func AvailableOf(all []*Session) []*Session {
	for i, s := range all {
		if s.Available() {
			continue
		}
		out := append([]*Session(nil), all[:i]...)
		for _, s := range all[i+1:] {
			if s.Available() {
				out = append(out, s)
			}
		}
		return out
	}
	return all
}

// Count returns the number of bound sessions.
func (t *Table) Count() int {
	n := 0
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.RLock()
		for _, l := range sh.users {
			n += len(l)
		}
		sh.mu.RUnlock()
	}
	return n
}

// Each calls fn for every bound session, in no particular order, without
// holding the table's locks while fn runs (for metrics: fn may take the
// session's own locks). Sessions bound or unbound meanwhile may or may not
// be seen.
func (t *Table) Each(fn func(*Session)) {
	var buf []*Session
	for i := range t.shards {
		sh := &t.shards[i]
		buf = buf[:0]
		sh.mu.RLock()
		for _, l := range sh.users {
			buf = append(buf, l...)
		}
		sh.mu.RUnlock()
		for _, s := range buf {
			fn(s)
		}
	}
}

// All returns every bound session, sorted by JID, for administration.
func (t *Table) All() []*Session {
	var out []*Session
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.RLock()
		for _, l := range sh.users {
			out = append(out, l...)
		}
		sh.mu.RUnlock()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].jid.String() < out[j].jid.String() })
	return out
}
