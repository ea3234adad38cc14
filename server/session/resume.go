package session

import "sync"

// Stream resumption (XEP-0198). A transport that lets a session survive
// the loss of its connection keeps the Session bound in the Table while it
// is detached, so that routing still delivers to it (the transport queues
// what arrives) and its presence stays available; a new connection that
// resumes the session swaps itself in with SetConn. Sessions are found by
// their resumption id through the Table's resume index, which every
// listener of the server shares.

// connRef boxes a Conn for atomic swapping.
type connRef struct{ c Conn }

// SetConn makes c the session's transport connection: a resumed stream
// takes over the session of the one it resumes. Deliveries that raced
// with the swap reach the old Conn, which must forward them.
func (s *Session) SetConn(c Conn) { s.conn.Store(&connRef{c: c}) }

// SetDetached records whether the session has lost its connection and
// waits for a resumption (XEP-0198 "hibernated"). A detached session stays
// bound and available; its transport queues what it is sent.
func (s *Session) SetDetached(d bool) { s.detached.Store(d) }

// Detached reports whether the session waits for a resumption, without a
// connection: modules use it to notify the user by other means (XEP-0357).
func (s *Session) Detached() bool { return s.detached.Load() }

// resumeIndex maps resumption ids to sessions. Its lock is a leaf.
type resumeIndex struct {
	mu   sync.Mutex
	byID map[string]*Session
}

// AddResumable registers s under a resumption id.
func (t *Table) AddResumable(id string, s *Session) {
	t.resume.mu.Lock()
	defer t.resume.mu.Unlock()
	if t.resume.byID == nil {
		t.resume.byID = make(map[string]*Session)
	}
	t.resume.byID[id] = s
}

// Resumable returns the session registered under id, or nil.
func (t *Table) Resumable(id string) *Session {
	t.resume.mu.Lock()
	defer t.resume.mu.Unlock()
	return t.resume.byID[id]
}

// RemoveResumable forgets id if it still names s.
func (t *Table) RemoveResumable(id string, s *Session) {
	t.resume.mu.Lock()
	defer t.resume.mu.Unlock()
	if t.resume.byID[id] == s {
		delete(t.resume.byID, id)
	}
}
