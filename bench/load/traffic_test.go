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

// TestBounceReleasesWindow checks that a refused send is neither expected
// nor lost, and gives its sender's window back.
func TestBounceReleasesWindow(t *testing.T) {
	tr := newTraffic(2, 3, 1) // fanout 3, one send in flight per sender
	now := time.Unix(1000, 0)
	for idx := range 2 {
		tr.sent.Add(1)
		tr.senders[idx].outstanding.Add(tr.fanout)
	}
	if tr.bounce("hello") || tr.bounce(string(payload(nil, 7, now))) {
		t.Fatal("a text that is not one of ours (or of an unknown sender) counted as a bounce")
	}
	if !tr.bounce(string(payload(nil, 1, now))) {
		t.Fatal("bounce of sender 1 not counted")
	}
	select {
	case <-tr.senders[1].wake:
	default:
		t.Error("sender 1 not woken")
	}
	if o := tr.senders[1].outstanding.Load(); o != 0 {
		t.Errorf("sender 1 has %d deliveries outstanding, want 0", o)
	}
	for range 3 {
		tr.deliver(string(payload(nil, 0, now)))
	}
	var rep Report
	tr.fill(&rep)
	if rep.Sent != 2 || rep.Bounced != 1 || rep.Expected != 3 || rep.Received != 3 || rep.Lost != 0 {
		t.Errorf("sent %d, bounced %d, expected %d, received %d, lost %d; want 2, 1, 3, 3, 0",
			rep.Sent, rep.Bounced, rep.Expected, rep.Received, rep.Lost)
	}
}
