package stream

import (
	"testing"
	"time"

	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// Past its byte budget a session takes more only while its client reads
// (the writer completes writes), and never past burstFactor times the
// budget; an oversized stanza still reaches a session that holds nothing.
func TestOverLocked(t *testing.T) {
	now := time.Unix(1000, 0)
	clock := func() time.Time { return now }
	q := &outQueue{maxBytes: 1000}
	if q.overLocked(5000, clock) {
		t.Fatal("an oversized stanza refused by an empty queue")
	}
	q.bytes = 900
	if q.overLocked(100, clock) {
		t.Fatal("refused within the budget")
	}
	// Over the budget: taken, and again while writes complete.
	if q.overLocked(200, clock) {
		t.Fatal("refused at once over the budget")
	}
	q.bytes = 1100
	now = now.Add(slowGrace / 2)
	q.writes.Add(1)
	if q.overLocked(200, clock) {
		t.Fatal("refused while the client reads")
	}
	// Then nothing is written for slowGrace: a slow consumer.
	now = now.Add(slowGrace - time.Millisecond)
	if q.overLocked(200, clock) {
		t.Fatal("refused before slowGrace without a write")
	}
	now = now.Add(time.Millisecond)
	if !q.overLocked(200, clock) {
		t.Fatal("taken after slowGrace without a write")
	}
	// Whatever the client reads, never past burstFactor times the budget.
	q.writes.Add(1)
	q.bytes = burstFactor*1000 - 100
	if !q.overLocked(200, clock) {
		t.Fatal("taken past burstFactor times the budget")
	}
	// Back under the budget, the clock starts again.
	q.bytes = 100
	if q.overLocked(100, clock) || !q.overSince.IsZero() {
		t.Fatal("under the budget but still timed")
	}
	// The stanza count bounds too.
	q.max, q.items = 1, make([]*stanza.Element, 1)
	if !q.overLocked(1, clock) {
		t.Fatal("taken past the stanza count")
	}
}

// Stanzas held for an inactive client (XEP-0352) count against the
// byte budget; past half of it they are released to the writer rather
// than held, so an inactive client is never taken for a slow consumer
// because of what the server chose to hold.
func TestCSIHeldBytesRelease(t *testing.T) {
	cfg := &Config{}
	cfg.withDefaults()
	c := &conn{cfg: cfg}
	q := &c.out
	q.maxBytes = 4000
	q.closed = true // no writer: only the queues are looked at
	q.csi.inactive = true
	held := 0
	for i := range 40 {
		st := stanza.New(stanza.NSClient, "presence", "from", "contact@example.org/"+string(rune('a'+i)))
		q.bytes += stanzaCost(st) // as Deliver does
		if c.holdLocked(st) {
			held++
			continue
		}
		if q.bytes <= q.maxBytes/2 {
			t.Fatalf("released at %d of %d bytes", q.bytes, q.maxBytes)
		}
		if len(q.csi.held) != 0 || len(q.items) != held {
			t.Fatalf("after release: %d held, %d queued, want 0 and %d", len(q.csi.held), len(q.items), held)
		}
		return
	}
	t.Fatalf("%d presences (%d bytes) held, budget %d", held, q.bytes, q.maxBytes)
}
