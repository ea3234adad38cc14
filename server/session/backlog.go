package session

import (
	"context"
	"time"
)

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

// AwaitBacklog waits until the backlog of the session's connection is
// back under the fraction below of its limits, looking every tick. It
// reports false when the backlog did not shrink for stall (the client is
// not reading) or ctx ended; true at once when the transport reports no
// backlog. A module sending a session many stanzas at once paces itself
// with it.
func (s *Session) AwaitBacklog(ctx context.Context, below float64, tick, stall time.Duration) bool {
	b, ok := s.Backlog()
	if !ok {
		return true
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	least, since := b, time.Now()
	for b.Above(below) {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
		b, _ = s.Backlog()
		if b.Bytes < least.Bytes || b.Stanzas < least.Stanzas {
			least, since = b, time.Now()
		} else if time.Since(since) >= stall {
			return false
		}
	}
	return true
}
