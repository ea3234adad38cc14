package session

import (
	"slices"

	"github.com/parley-xmpp/parley/xmpp/jid"
)

// Shared state. What a module records of a session that other nodes of a
// cluster must see too — the session asked for the roster (it gets roster
// pushes), enabled carbons, requested the block list — is a flag, not a
// value (Value holds Go values that stay on the session's node). A
// cluster's directory replicates flags, the presence and the priority of
// its sessions to the other nodes, and sets them on the sessions there
// that stand for them (SetFlags, SetPresence).
//
// A directory that replicates learns of changes through the observer
// (SetObserver), called after every change of presence or flags, outside
// the session's lock.

// NewRemote returns a session standing for one bound on another node of
// a cluster, whose Conn forwards to that node.
func NewRemote(j jid.JID, conn Conn) *Session {
	s := NewSession(j, conn)
	s.remote = true
	return s
}

// Remote reports whether the session stands for one bound on another
// node of a cluster (NewRemote).
func (s *Session) Remote() bool { return s.remote }

// AnyLocal reports whether one of list is bound on this node: what
// decides whether a module keeps a user's data cached here (a cache is
// dropped when the user's last session on this node ends, a point this
// node does not see for the sessions of other nodes).
func AnyLocal(list []*Session) bool {
	for _, s := range list {
		if !s.remote {
			return true
		}
	}
	return false
}

// MaxFlags bounds the flags of one session; SetFlag past it is ignored.
const MaxFlags = 16

// Flag reports whether the flag name is set.
func (s *Session) Flag(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Contains(s.flags, name)
}

// SetFlag sets or clears the flag name. Modules name their flags after
// themselves ("carbons", "roster").
func (s *Session) SetFlag(name string, on bool) {
	s.mu.Lock()
	i := slices.Index(s.flags, name)
	switch {
	case on && i < 0 && len(s.flags) < MaxFlags:
		s.flags = append(slices.Clip(s.flags), name)
	case !on && i >= 0:
		s.flags = slices.Delete(slices.Clone(s.flags), i, i+1)
	default:
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	s.changed()
}

// Flags returns the flags set, in the order they were set. The slice is
// shared and must not be modified.
func (s *Session) Flags() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.flags
}

// SetFlags replaces every flag (for a directory that replicates them from
// another node). The observer is not called.
func (s *Session) SetFlags(flags []string) {
	if len(flags) > MaxFlags {
		flags = flags[:MaxFlags]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flags = slices.Clone(flags)
}

// SetObserver makes fn be called after each change of the session's
// presence or flags, on the goroutine that changed them and outside the
// session's lock; nil removes it. fn must not block.
func (s *Session) SetObserver(fn func(*Session)) {
	if fn == nil {
		s.observer.Store(nil)
		return
	}
	s.observer.Store(&fn)
}

// changed calls the observer, if any.
func (s *Session) changed() {
	if fn := s.observer.Load(); fn != nil {
		(*fn)(s)
	}
}
