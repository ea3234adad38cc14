package session

import (
	"encoding/xml"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// Conn is what a transport provides for a bound session.
type Conn interface {
	// Deliver queues a stanza for the peer without blocking. It returns an
	// error when the session is closed or its queue is full (the transport
	// then ends the session as a slow consumer).
	Deliver(st *stanza.Element) error
	// Close ends the stream, with a stream error when err is non-nil.
	Close(err *stream.Error)
	// RemoteAddr returns the peer's address for logs and throttling.
	RemoteAddr() string
}

// Session is one bound resource. Its identity never changes; presence and
// per-module values are guarded by a mutex because modules running on
// other sessions' goroutines read them.
type Session struct {
	jid      jid.JID
	conn     atomic.Pointer[connRef]        // swapped on stream resumption (resume.go)
	detached atomic.Bool                    // see resume.go
	observer atomic.Pointer[func(*Session)] // see shared.go
	remote   bool                           // see shared.go; set at creation

	mu        sync.Mutex
	available bool
	priority  int
	// presence is the last available presence without its 'from' when
	// that was the session's JID (Presence puts it back): an idle session
	// keeps no attribute slice and no JID string for it (some 80 bytes).
	presence *stanza.Element
	// values are the modules' per-session values: a few, found by a
	// linear search (a map cost an idle session some 300 bytes).
	values []value
	flags  []string // see shared.go; replaced, never modified
}

// value is one per-session value of a module.
type value struct{ key, v any }

// NewSession returns an unbound session for the full JID j.
func NewSession(j jid.JID, conn Conn) *Session {
	s := &Session{jid: j}
	s.conn.Store(&connRef{c: conn})
	return s
}

// JID returns the session's full JID.
func (s *Session) JID() jid.JID { return s.jid }

// Conn returns the transport connection.
func (s *Session) Conn() Conn { return s.conn.Load().c }

// Deliver queues a stanza for the session.
func (s *Session) Deliver(st *stanza.Element) error { return s.Conn().Deliver(st) }

// SetPresence records the session's current broadcast presence. An
// unavailable presence (or nil) makes the session unavailable.
func (s *Session) SetPresence(p *stanza.Element, priority int) {
	s.SetSharedPresence(p, priority, nil)
}

// SetSharedPresence is SetPresence keeping, when share has it, the copy
// of the same presence another session keeps (PresenceShare) instead of
// p; with a nil share it is SetPresence. Neither p nor its children may
// be modified afterwards.
func (s *Session) SetSharedPresence(p *stanza.Element, priority int, share *PresenceShare) {
	var kept *stanza.Element
	available := p != nil && p.Type() != stanza.TypeUnavailable
	if available {
		kept = share.share(s.withoutFrom(p)) // outside the session's lock
	}
	s.mu.Lock()
	if !available {
		s.available = false
		s.presence = nil
		s.priority = 0
	} else {
		s.available = true
		s.presence = kept
		s.priority = priority
	}
	s.mu.Unlock()
	s.changed()
}

// withoutFrom returns p without its 'from' attribute when that is the
// session's full JID: a new element sharing p's children (which the
// session never modifies), or p itself when it has no such attribute.
func (s *Session) withoutFrom(p *stanza.Element) *stanza.Element {
	i := slices.IndexFunc(p.Attr, func(a stanza.Attr) bool { return a.Name.Space == "" && a.Name.Local == "from" })
	if i < 0 || p.Attr[i].Value != s.jid.String() {
		return p
	}
	var attrs []stanza.Attr
	if len(p.Attr) > 1 { // exactly the others: no room kept for the session's life
		attrs = make([]stanza.Attr, 0, len(p.Attr)-1)
		attrs = append(append(attrs, p.Attr[:i]...), p.Attr[i+1:]...)
	}
	return &stanza.Element{Name: p.Name, Attr: attrs, Children: p.Children}
}

// Available reports whether the session sent initial presence and is not
// unavailable since.
func (s *Session) Available() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.available
}

// Priority returns the priority of the session's last presence.
func (s *Session) Priority() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.priority
}

// Presence returns the session's last available presence, or nil, with
// the 'from' it was set with. Callers must not modify it (Clone it first):
// its children may be shared.
func (s *Session) Presence() *stanza.Element {
	s.mu.Lock()
	p := s.presence
	s.mu.Unlock()
	if p == nil || p.Get("from") != "" {
		return p
	}
	attrs := make([]stanza.Attr, len(p.Attr), len(p.Attr)+1)
	copy(attrs, p.Attr)
	attrs = append(attrs, stanza.Attr{Name: xml.Name{Local: "from"}, Value: s.jid.String()})
	return &stanza.Element{Name: p.Name, Attr: attrs, Children: p.Children}
}

// Value returns a per-session value stored by a module under key.
func (s *Session) Value(key any) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := s.find(key); i >= 0 {
		return s.values[i].v
	}
	return nil
}

// find returns the index of key in s.values, or -1. s.mu is held.
func (s *Session) find(key any) int {
	for i := range s.values {
		if s.values[i].key == key {
			return i
		}
	}
	return -1
}

// SetValue stores a per-session value; nil deletes it. Keys should be of a
// module's own unexported type so modules cannot collide.
func (s *Session) SetValue(key, v any) {
	s.Update(key, func(any) any { return v })
}

// Update runs fn with the per-session value under key while holding the
// session lock, and stores what fn returns; for read-modify-write values.
func (s *Session) Update(key any, fn func(old any) any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.find(key)
	var old any
	if i >= 0 {
		old = s.values[i].v
	}
	v := fn(old)
	switch {
	case v == nil && i >= 0:
		last := len(s.values) - 1
		s.values[i] = s.values[last]
		s.values[last] = value{}
		s.values = s.values[:last]
	case v == nil:
	case i >= 0:
		s.values[i].v = v
	default:
		if s.values == nil {
			s.values = make([]value, 0, 2)
		}
		s.values = append(s.values, value{key, v})
	}
}
