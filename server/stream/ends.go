package stream

import "sync"

// Bounds of endQueue.
const (
	// maxEnders is how many connections end at once: their closing
	// writes, their sessions' teardown (unbinding, the unavailable
	// presence, storage writes such as last activity) and their
	// hibernation (XEP-0198).
	maxEnders = 32
	// maxQueuedEnds bounds the connections waiting to end; beyond it a
	// reader ends its connection itself.
	maxQueuedEnds = 1 << 17
)

// endQueue ends connections whose input is over with a few goroutines,
// so that a storm of disconnecting clients (a network blip, a restart of
// a client fleet) does not keep one reader goroutine per connection
// alive, each with a stack grown deep in the teardown, while the
// teardowns wait for each other on storage. A reader hands its connection
// over and returns; up to maxEnders goroutines, started on demand and
// gone when nothing is queued, end the connections in order.
type endQueue struct {
	mu      sync.Mutex
	items   []endItem // FIFO: items[head:]
	head    int
	workers int
}

type endItem struct {
	c   *conn
	err error
}

// push queues the end of c with the error that ended its input (nil: the
// client closed its stream). It reports false when the queue is full:
// the caller ends c itself.
func (q *endQueue) push(c *conn, err error) bool {
	q.mu.Lock()
	if len(q.items)-q.head >= maxQueuedEnds {
		q.mu.Unlock()
		return false
	}
	q.items = append(q.items, endItem{c, err})
	start := q.workers < maxEnders
	if start {
		q.workers++
	}
	q.mu.Unlock()
	if start {
		go q.work()
	}
	return true
}

// work ends queued connections until none is left.
func (q *endQueue) work() {
	for {
		q.mu.Lock()
		if q.head == len(q.items) {
			q.items, q.head = nil, 0
			q.workers--
			q.mu.Unlock()
			return
		}
		it := q.items[q.head]
		q.items[q.head] = endItem{}
		q.head++
		if q.head > 1024 && q.head*2 > len(q.items) {
			// Drop the done part, so that a long storm does not keep
			// growing the slice.
			q.items = append([]endItem(nil), q.items[q.head:]...)
			q.head = 0
		}
		q.mu.Unlock()
		it.c.finish(it.c.ctx, it.err)
		it.c.end()
	}
}
