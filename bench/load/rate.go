package load

import (
	"context"
	"sync"
	"time"
)

// maxLag is how far behind its schedule a pacer may fall and still catch
// up (with back-to-back slots): late wake-ups then do not lower the rate,
// and a pause does not cause an unbounded burst.
const maxLag = 100 * time.Millisecond

// Pacer spaces events evenly at a fixed rate. A nil *Pacer, or one made
// with a rate ≤ 0, never waits. It is safe for concurrent use: concurrent
// callers get successive slots.
type Pacer struct {
	mu       sync.Mutex
	interval time.Duration
	next     time.Time
}

// NewPacer returns a pacer for rate events per second (≤ 0: unlimited).
func NewPacer(rate float64) *Pacer {
	if rate <= 0 {
		return nil
	}
	return &Pacer{interval: time.Duration(float64(time.Second) / rate)}
}

// NewPacerFrom is NewPacer whose first slot is at first (or now, if that
// has passed). Senders that share a rate should start at staggered first
// slots: pacers that all start at once stay in phase, and their combined
// events arrive in bursts of one per sender instead of evenly spaced.
func NewPacerFrom(rate float64, first time.Time) *Pacer {
	p := NewPacer(rate)
	if p != nil {
		p.next = first
	}
	return p
}

// Reserve books the next slot and returns how long to wait for it (0 when
// the slot is already due). A pacer that fell behind catches up by at most
// maxLag: slots earlier than now-maxLag are skipped.
func (p *Pacer) Reserve(now time.Time) time.Duration {
	if p == nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	slot := p.next
	if slot.IsZero() {
		slot = now
	}
	if earliest := now.Add(-maxLag); slot.Before(earliest) {
		slot = earliest
	}
	p.next = slot.Add(p.interval)
	return max(0, slot.Sub(now))
}

// Wait blocks until the caller's slot, or until ctx ends.
func (p *Pacer) Wait(ctx context.Context) error {
	return p.WaitTimer(ctx, nil)
}

// WaitTimer is Wait using t, a stopped timer the caller owns, instead of a
// new one for each wait; nil means a new one.
func (p *Pacer) WaitTimer(ctx context.Context, t *time.Timer) error {
	d := p.Reserve(time.Now())
	if d <= 0 {
		return ctx.Err()
	}
	if t == nil {
		t = time.NewTimer(d)
	} else {
		t.Reset(d)
	}
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
