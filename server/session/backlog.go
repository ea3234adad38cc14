package session

// Backlog is what a connection holds for its peer (queued, and for
// XEP-0198 not yet acknowledged) against the limits past which the
// transport ends the session as a slow consumer. A zero maximum means no
// limit of that kind.
type Backlog struct {
	// Stanzas is how many stanzas wait to be written; MaxStanzas bounds it.
	Stanzas, MaxStanzas int
	// Bytes is the memory the session holds for its peer; MaxBytes is its
	// budget.
	Bytes, MaxBytes int
}

// Above reports whether b is past the fraction frac of either of its
// limits.
func (b Backlog) Above(frac float64) bool {
	return (b.MaxStanzas > 0 && float64(b.Stanzas) > frac*float64(b.MaxStanzas)) ||
		(b.MaxBytes > 0 && float64(b.Bytes) > frac*float64(b.MaxBytes))
}

// BacklogReporter is implemented by connections that can tell their
// backlog. A module that sends a session many stanzas at once (stored
// offline messages) paces itself with it, so that a reading client is not
// taken for a slow consumer.
type BacklogReporter interface {
	Backlog() Backlog
}

// Backlog returns the backlog of the session's connection; ok is false
// when the transport does not report one.
func (s *Session) Backlog() (b Backlog, ok bool) {
	r, ok := s.Conn().(BacklogReporter)
	if !ok {
		return Backlog{}, false
	}
	return r.Backlog(), true
}
