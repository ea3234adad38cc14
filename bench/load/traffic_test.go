package load

import (
	"slices"
	"testing"
	"time"
)

// TestStaggeredSendersEvenlySpaced checks that senders sharing a rate send
// evenly spaced, not in bursts of one send per sender.
func TestStaggeredSendersEvenlySpaced(t *testing.T) {
	const n, total = 4, 400.0 // 100 sends/s each: 10 ms apart, 2.5 ms between senders
	start := time.Unix(1000, 0)
	var slots []time.Duration
	for k := range n {
		p := NewPacerFrom(total/n, start.Add(staggered(k, n, total/n)))
		for range 3 {
			slots = append(slots, p.Reserve(start))
		}
	}
	slices.Sort(slots)
	for i, s := range slots {
		if want := time.Duration(i) * 2500 * time.Microsecond; s != want {
			t.Fatalf("slot %d at %v, want %v (all: %v)", i, s, want, slots)
		}
	}
	if staggered(3, 4, 0) != 0 || NewPacerFrom(0, start) != nil {
		t.Error("an unlimited rate should not stagger")
	}
}

func TestPacerFromPastStartsNow(t *testing.T) {
	now := time.Unix(1000, 0)
	p := NewPacerFrom(100, now.Add(-time.Second))
	// A first slot further back than maxLag is moved up to now-maxLag.
	if d := p.Reserve(now); d != 0 {
		t.Fatalf("first wait %v, want 0", d)
	}
}
