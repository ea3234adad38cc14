package stream

import "testing"

// A full end queue refuses more, and starts no goroutine for them: the
// reader ends its connection itself.
func TestEndQueueFull(t *testing.T) {
	var q endQueue
	q.items = make([]endItem, maxQueuedEnds)
	q.workers = maxEnders
	if q.push(&conn{}, nil) {
		t.Error("a full queue took one more")
	}
	if n := len(q.items); n != maxQueuedEnds || q.workers != maxEnders {
		t.Errorf("%d queued, %d workers after a refusal", n, q.workers)
	}
}
