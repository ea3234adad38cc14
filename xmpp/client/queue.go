package client

import (
	"context"
	"sync"

	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// queue is an unbounded FIFO of elements, so that a slow consumer never
// stalls the reader (which must keep delivering IQ replies).
type queue struct {
	mu     sync.Mutex
	items  []*stanza.Element
	closed bool
	notify chan struct{} // capacity 1: "something changed"
}

func newQueue() *queue { return &queue{notify: make(chan struct{}, 1)} }

// push appends el; it is dropped if the queue is closed.
func (q *queue) push(el *stanza.Element) {
	q.mu.Lock()
	if !q.closed {
		q.items = append(q.items, el)
	}
	q.mu.Unlock()
	q.signal()
}

// close marks the end of input; pop drains what is left, then reports ok
// false.
func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.signal()
}

func (q *queue) signal() {
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// pop waits for the next element. It returns ok false when the queue is
// closed and empty, or ctx's error when ctx ends first.
func (q *queue) pop(ctx context.Context) (el *stanza.Element, ok bool, err error) {
	for {
		q.mu.Lock()
		if len(q.items) > 0 {
			el = q.items[0]
			q.items[0] = nil
			q.items = q.items[1:]
			more := len(q.items) > 0
			q.mu.Unlock()
			if more {
				q.signal()
			}
			return el, true, nil
		}
		closed := q.closed
		q.mu.Unlock()
		if closed {
			q.signal() // let other waiters see the end too
			return nil, false, nil
		}
		select {
		case <-q.notify:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
	}
}
