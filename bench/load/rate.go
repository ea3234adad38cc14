package load

import (
	"context"
	"sync"
	"time"
)

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

// Reserve books the next slot at or after now and returns how long to wait
// for it. A pacer that fell behind (no caller for a while) does not burst:
// the next slot is never earlier than now.
func (p *Pacer) Reserve(now time.Time) time.Duration {
	if p == nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	slot := p.next
	if slot.Before(now) {
		slot = now
	}
	p.next = slot.Add(p.interval)
	return slot.Sub(now)
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
