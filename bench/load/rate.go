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
	d := p.Reserve(time.Now())
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
