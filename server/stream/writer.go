package stream

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-xmpp/parley/server/metrics"
	"github.com/parley-xmpp/parley/server/session"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	xstream "github.com/parley-xmpp/parley/xmpp/stream"
)

// errSlowConsumer is returned by Deliver when the peer does not read fast
// enough and its queue is full.
var errSlowConsumer = errors.New("c2s: outbound queue full")

// outQueue is a session's bounded outbound queue. It holds nothing while
// idle; a writer goroutine exists only while it has items.
type outQueue struct {
	mu    sync.Mutex
	items []*stanza.Element
	max   int
	// bytes is the estimated memory (stanzaCost) of every stanza the
	// session holds: queued in items, unacknowledged (ack.unacked) and
	// held for an inactive client (csi.held). Past maxBytes (0:
	// unbounded) the session must be reading to take more, and never
	// takes more than burstFactor times maxBytes (overLocked).
	bytes    int
	maxBytes int
	// overSince is when bytes went past maxBytes (zero while under it),
	// and overWrites the count of writes then.
	overSince  time.Time
	overWrites uint64
	writing    bool
	closed     bool
	slow       bool     // found a slow consumer: being closed
	ack        ackState // XEP-0198 (sm.go)
	csi        csiState // XEP-0352 (csi.go)

	writes atomic.Uint64 // writes to the transport completed by the writer

	// stopped, when not nil, is closed as the writer stops: the session's
	// end waits for it (waitWriterLocked), since the batch being written
	// is in neither items nor ack.unacked until then.
	stopped chan struct{}
	// orphaned is set when the session ended without the writer having
	// stopped: the writer then hands a batch it fails to write to the
	// router itself.
	orphaned bool
}

// slowGrace is how long a session holding more than its byte budget
// may go without the writer completing a write (writeChunk bytes at
// most) before it counts as not reading.
const slowGrace = time.Second

// burstFactor is how many times its byte budget a session that reads
// may hold at most: bursts the server itself produces (offline messages
// at login, a page of the archive, a room's history) need not fit the
// budget, but they have to fit this.
const burstFactor = 4

// overLocked reports whether queueing a stanza of cost n (stanzaCost)
// on top of what the session holds makes it a slow consumer: its queue
// holds Limits.OutboundQueue stanzas, or the stanza would take it past
// Limits.OutboundQueueBytes while its client has taken nothing for
// slowGrace, or past burstFactor times that in any case. A client that
// reads may so take a burst larger than the budget (offline messages, an
// archive page), and a stanza larger than the budget still reaches a
// session that holds nothing. now is the clock. q.mu is held.
func (q *outQueue) overLocked(n int, now func() time.Time) bool {
	if q.max > 0 && len(q.items) >= q.max {
		return true
	}
	if q.maxBytes <= 0 || q.bytes == 0 || q.bytes+n <= q.maxBytes {
		q.overSince = time.Time{}
		return false
	}
	if q.bytes+n > burstFactor*q.maxBytes {
		return true
	}
	t, w := now(), q.writes.Load()
	if q.overSince.IsZero() || w != q.overWrites {
		q.overSince, q.overWrites = t, w // over the budget, but reading
		return false
	}
	return t.Sub(q.overSince) >= slowGrace
}

// releaseLocked takes n bytes off the queue's count, once the stanzas
// they stood for are no longer held. q.mu is held.
func (q *outQueue) releaseLocked(n int) {
	q.bytes -= n
	if q.bytes < 0 || (len(q.items) == 0 && len(q.ack.unacked) == 0 && len(q.csi.held) == 0) {
		q.bytes = 0
	}
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// Deliver implements session.Conn: it queues st without blocking.
func (c *conn) Deliver(st *stanza.Element) error {
	n, kind := 0, stanza.KindOf(st)
	if kind != stanza.KindOther {
		n = stanzaCost(st) // before taking the lock
	}
	q := &c.out
	q.mu.Lock()
	if q.ack.phase != smLive || (q.closed && q.ack.resumable) {
		return c.deliverAway(st, n) // detached, resumed or dying: sm.go
	}
	if q.closed {
		q.mu.Unlock()
		return errClosed
	}
	if q.overLocked(n, c.cfg.Now) {
		first := !q.slow
		q.slow = true
		queued, bytes, unacked := len(q.items), q.bytes, len(q.ack.unacked)
		q.mu.Unlock()
		if first {
			c.slowConsumer(queued, bytes, unacked)
		}
		return errSlowConsumer
	}
	q.bytes += n
	if c.holdLocked(st) { // XEP-0352: the client is inactive
		q.mu.Unlock()
		c.cfg.Metrics.StanzaOut(kind)
		return nil
	}
	q.items = append(q.items, st)
	if !q.writing {
		q.writing = true
		go c.flushFn()
	}
	if q.ack.id != "" && kind == stanza.KindMessage {
		c.journalLocked(st) // a cluster's (clustersm.go); releases q.mu
	} else {
		q.mu.Unlock()
	}
	c.cfg.Metrics.StanzaOut(kind)
	return nil
}

// slowConsumer ends a session that does not read what is sent to it:
// its queue reached Limits.OutboundQueue stanzas or
// Limits.OutboundQueueBytes. The session is unbound at once, so what
// arrives from now on goes to other resources or offline storage; the
// stream ends with <policy-violation/> (RFC 6120 §4.9.3.14); what it
// holds — queued, unacknowledged, held — goes back to the router when the
// session ends (endSession), like the queue of any ended session.
func (c *conn) slowConsumer(queued, bytes, unacked int) {
	c.cfg.Metrics.Limited(metrics.LimitSlowConsumer)
	c.log.Warn("c2s: slow consumer, closing", "queued", queued, "queued_bytes", bytes, "unacked", unacked,
		"max_queue", c.out.max, "max_queue_bytes", c.out.maxBytes)
	// The router found this connection through c.session, so reading it
	// here is safe.
	c.cfg.Sessions.Unbind(c.session)
	// The full write timeout: a peer that does read again finds out why
	// it was disconnected.
	go c.closeWithin(&xstream.Error{Condition: xstream.PolicyViolation, Text: "too much queued for a client that does not read: slow consumer"}, c.cfg.Limits.WriteTimeout)
}

// writeChunk is the size from which the writer writes what it has
// serialised of a batch before serialising the rest.
const writeChunk = 32 << 10

// maxSpare is the largest batch slice flush hands back to the queue for
// reuse; an idle session keeps it, empty.
const maxSpare = 16

// flush writes queued stanzas in batches, coalescing everything queued
// into one write, until the queue is empty. The slice of a written batch
// becomes the queue's again, so that a delivery appends without
// allocating.
func (c *conn) flush() {
	q := &c.out
	var prev []*stanza.Element // the last batch written, to reuse
	written := 0               // cost of what prev held and no one holds now
	for {
		if prev != nil {
			clear(prev) // hold no stanza past its delivery
			if cap(prev) > maxSpare {
				prev = nil
			}
		}
		q.mu.Lock()
		if written != 0 {
			q.releaseLocked(written)
			written = 0
		}
		batch := q.items
		if len(batch) == 0 || q.closed {
			if len(batch) == 0 && prev != nil && !q.closed {
				q.items = prev[:0]
			}
			q.stopWritingLocked()
			q.mu.Unlock()
			return
		}
		q.items = nil
		if prev != nil {
			q.items = prev[:0]
			prev = nil
		}
		requestAck := c.handOffLocked(batch) // XEP-0198: counted from here
		acked := q.ack.on                    // then held until acknowledged
		q.mu.Unlock()
		bp := bufPool.Get().(*[]byte)
		buf := (*bp)[:0]
		var err error
		for i, st := range batch {
			buf = st.AppendBytes(buf) // no copy of its own unless shared
			if len(buf) >= writeChunk && i < len(batch)-1 {
				// A large batch goes out in pieces: no second copy of it
				// all, and each piece shows the client is reading.
				if err = c.writeRaw(buf); err != nil {
					break
				}
				q.writes.Add(1)
				buf = buf[:0]
			}
		}
		if err == nil {
			if requestAck {
				buf = append(buf, ackRequestXML...)
			}
			if err = c.writeRaw(buf); err == nil {
				q.writes.Add(1)
			}
		}
		if cap(buf) <= 64<<10 {
			*bp = buf[:0]
			bufPool.Put(bp)
		}
		if err != nil {
			q.mu.Lock()
			q.closed = true
			// The batch may be partly written; messages in it are handed
			// back to the router like any undelivered ones (with stream
			// management they are among the unacknowledged already):
			// through the queue, which the session's end drains once the
			// writer has stopped, or by the writer itself when the
			// session ended without waiting for it.
			orphan := q.orphaned && !q.ack.on
			if !q.ack.on && !orphan {
				q.items = append(batch, q.items...)
			}
			q.stopWritingLocked()
			q.mu.Unlock()
			c.t.Close()
			if orphan {
				c.handBackOrphan(batch)
			}
			return
		}
		if !acked {
			for _, st := range batch {
				if isStanza(st) {
					written += stanzaCost(st)
				}
			}
		}
		prev = batch
	}
}

// stopWritingLocked records that the writer stops, for whoever waits
// for it (waitWriterLocked). q.mu is held.
func (q *outQueue) stopWritingLocked() {
	q.writing = false
	if q.stopped != nil {
		close(q.stopped)
		q.stopped = nil
	}
}

// waitWriterLocked waits for the writer to stop, for the session's end:
// a batch being written is back in the queue when its write fails, and a
// drain before then would miss it. The transport is closed by then, so a
// write in progress fails at once; the wait is bounded by the write
// timeout all the same, past which the writer is left to hand back what
// it fails to write itself (orphaned): nothing is lost either way, the
// wait only keeps the order. q.closed is set, so no writer starts
// meanwhile; q.mu is held, and released while waiting.
func (c *conn) waitWriterLocked() {
	q := &c.out
	if !q.writing {
		return
	}
	if q.stopped == nil {
		q.stopped = make(chan struct{})
	}
	stopped := q.stopped
	q.mu.Unlock()
	t := time.NewTimer(c.cfg.Limits.WriteTimeout)
	select {
	case <-stopped:
	case <-t.C:
	}
	t.Stop()
	q.mu.Lock()
	if q.writing {
		q.orphaned = true
		c.log.Error("c2s: the writer did not stop when the session ended; it hands back what it fails to write")
	}
}

// handBackOrphan hands a batch the writer failed to write to the router,
// when the session ended before the writer stopped (waitWriterLocked).
func (c *conn) handBackOrphan(batch []*stanza.Element) {
	ctx, cancel := context.WithTimeout(context.Background(), endSessionWait)
	defer cancel()
	c.reroute(ctx, batch, time.Time{})
}

// writeRaw writes b to the connection with the write timeout.
func (c *conn) writeRaw(b []byte) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if c.closing.Load() && c.sentClose {
		return errClosed
	}
	_ = c.t.SetWriteDeadline(c.cfg.Now().Add(c.cfg.Limits.WriteTimeout))
	if c.closing.Load() {
		// Checked after setting the deadline: either closeWithin's one
		// comes later, or we see closing and apply it ourselves.
		_ = c.t.SetWriteDeadline(time.Unix(0, c.closeBy.Load()))
	}
	return c.t.Write(b)
}

// closeWriteWait bounds the writes made while a stream is being closed.
const closeWriteWait = 5 * time.Second

// Close implements session.Conn: it ends the stream from another goroutine,
// with a stream error when err is non-nil.
func (c *conn) Close(err *xstream.Error) {
	c.closeWithin(err, closeWriteWait)
}

// closeWithin is Close giving the peer at most wait to take what is being
// written and the stream error. A slow consumer, already unbound, gets the
// full write timeout so that a peer that does read again finds out why it
// was disconnected; a replaced or shut-down session gets closeWriteWait.
func (c *conn) closeWithin(err *xstream.Error, wait time.Duration) {
	c.endIfDetached() // XEP-0198: a detached session has no stream to close
	by := c.cfg.Now().Add(wait)
	c.closeBy.Store(by.UnixNano())
	if !c.closing.CompareAndSwap(false, true) {
		return
	}
	c.out.mu.Lock()
	c.out.closed = true
	c.out.mu.Unlock()
	// The writer may be blocked on a peer that does not read, holding
	// writeMu for up to WriteTimeout: bound what is left by wait.
	_ = c.t.SetWriteDeadline(by)
	c.writeCloseWithin(err, wait)
	c.t.Close()
}

// closeStream ends the stream from the reader goroutine. On a clean close
// what is queued is written first.
func (c *conn) closeStream(err *xstream.Error) {
	if !c.closing.CompareAndSwap(false, true) {
		return
	}
	if err == nil {
		// Wait briefly for the writer to finish what is queued.
		deadline := c.cfg.Now().Add(2 * time.Second)
		for c.cfg.Now().Before(deadline) {
			c.out.mu.Lock()
			idle := !c.out.writing
			var batch []*stanza.Element
			counted := false
			if idle {
				batch = c.out.items
				c.out.items = nil
				c.out.closed = true
				// XEP-0198: unacknowledged from here, as in flush, so the
				// session's end hands them back unless acked. No ack
				// request: the peer closed its xstream.
				_ = c.handOffLocked(batch)
				counted = c.out.ack.on
			}
			c.out.mu.Unlock()
			if idle {
				var buf []byte
				for _, st := range batch {
					buf = st.AppendBytes(buf)
				}
				if len(buf) > 0 && c.writeRaw(buf) != nil && !counted {
					// As in flush: handed back to the router when the
					// session ends.
					c.out.mu.Lock()
					c.out.items = append(batch, c.out.items...)
					c.out.mu.Unlock()
				}
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	c.out.mu.Lock()
	c.out.closed = true
	c.out.mu.Unlock()
	c.writeClose(err)
}

// writeClose writes the stream error (if any) and the closing tag; for an
// error before the stream header was sent it sends a header first.
func (c *conn) writeClose(err *xstream.Error) {
	c.writeCloseWithin(err, closeWriteWait)
}

func (c *conn) writeCloseWithin(err *xstream.Error, wait time.Duration) {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if c.sentClose {
		return
	}
	c.sentClose = true
	var buf []byte
	if !c.sentHeader {
		h := c.header()
		if c.domain == "" {
			h.From = ""
		}
		buf = c.t.AppendOpen(buf, h)
	}
	if err != nil {
		buf = c.t.AppendStreamElement(buf, err.Element())
	}
	buf = c.t.AppendClose(buf)
	_ = c.t.SetWriteDeadline(c.cfg.Now().Add(wait))
	_ = c.t.Write(buf)
}

// Backlog implements session.BacklogReporter: what the session holds against
// the limits of overLocked.
func (c *conn) Backlog() session.Backlog {
	q := &c.out
	q.mu.Lock()
	defer q.mu.Unlock()
	return session.Backlog{Stanzas: len(q.items), MaxStanzas: q.max, Bytes: q.bytes, MaxBytes: q.maxBytes}
}
