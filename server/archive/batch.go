package archive

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"sync"

	"github.com/parley-xmpp/parley/server/storage"
)

// Defaults of the batcher's bounds.
const (
	// DefaultQueueBytes bounds the stanza bytes waiting to be archived:
	// past it a caller waits for room before its message joins the queue.
	DefaultQueueBytes = 8 << 20
	// maxBatch bounds the messages of one transaction.
	maxBatch = 512
	// maxBatchBytes bounds the stanza bytes of one transaction (a
	// single larger message still goes, alone).
	maxBatchBytes = 1 << 20
)

// batcher groups the appends of concurrent callers into one transaction
// of the store (storage.ArchiveBatcher): the first caller to find the
// store idle leads, taking what is queued (up to maxBatch messages and
// maxBatchBytes) and appending it in one transaction, in queue order,
// then wakes those callers with the outcome and hands the lead to the next
// one waiting. Every caller returns only once its own message is committed
// (or with the error that kept it from being), as with one transaction
// each: a message acknowledged is in the archive, a crash right after
// included. The queue is bounded in bytes: a caller finding it full
// waits for room, or until its context ends.
type batcher struct {
	store    storage.ArchiveBatcher
	single   storage.Archive // one message at a time, after a failed batch
	log      *slog.Logger
	maxBytes int

	mu      sync.Mutex
	queue   []*pending
	queued  int           // stanza bytes in queue
	running bool          // a leader is appending a batch
	room    chan struct{} // closed (and replaced) when queue bytes are freed
	batches uint64        // transactions run (for tests)
}

// pending is one caller's message waiting in the queue.
type pending struct {
	ctx  context.Context
	e    storage.ArchiveEntry
	err  error
	lead bool          // set when the caller is woken to lead the next batch
	done chan struct{} // one signal: err is set, or lead is
}

func newBatcher(store storage.ArchiveBatcher, single storage.Archive, log *slog.Logger, maxBytes int) *batcher {
	if maxBytes <= 0 {
		maxBytes = DefaultQueueBytes
	}
	return &batcher{store: store, single: single, log: log, maxBytes: maxBytes, room: make(chan struct{})}
}

// append appends e and returns once it is committed, with the error that
// kept it from being, or ctx's error when ctx ended while it waited for
// room in the queue (then it was not queued).
func (b *batcher) append(ctx context.Context, e storage.ArchiveEntry) error {
	size := len(e.Message.Stanza)
	p := &pending{ctx: ctx, e: e, done: make(chan struct{}, 1)}
	b.mu.Lock()
	for len(b.queue) > 0 && b.queued+size > b.maxBytes {
		room := b.room
		b.mu.Unlock()
		select {
		case <-room:
		case <-ctx.Done():
			return fmt.Errorf("waiting for room in the archive queue (%d bytes): %w", b.maxBytes, ctx.Err())
		}
		b.mu.Lock()
	}
	b.queue = append(b.queue, p)
	b.queued += size
	lead := !b.running
	b.running = true
	b.mu.Unlock()
	if !lead {
		<-p.done
		lead = p.lead
	}
	if lead {
		b.lead()
	}
	return p.err
}

// lead runs one batch: the queue's head (the leader's own message) and
// what is queued behind it, within the bounds. It then hands the lead to
// the next waiting caller, or marks the store idle.
func (b *batcher) lead() {
	// Let the callers that are ready to run (often those the last batch
	// released, about to append again) join this batch: on one P they
	// would otherwise run only after it, and every batch would hold one
	// message.
	runtime.Gosched()
	b.mu.Lock()
	n, bytes := 0, 0
	for n < len(b.queue) && n < maxBatch {
		size := len(b.queue[n].e.Message.Stanza)
		if n > 0 && bytes+size > maxBatchBytes {
			break
		}
		n++
		bytes += size
	}
	group := make([]*pending, n)
	copy(group, b.queue)
	rest := copy(b.queue, b.queue[n:])
	clear(b.queue[rest:])
	b.queue = b.queue[:rest]
	b.queued -= bytes
	close(b.room)
	b.room = make(chan struct{})
	b.batches++
	b.mu.Unlock()

	b.run(group)
	// group[0] is the leader's own message: its caller reads err itself.
	for _, p := range group[1:] {
		p.done <- struct{}{}
	}

	b.mu.Lock()
	if len(b.queue) == 0 {
		b.running = false
		b.mu.Unlock()
		return
	}
	next := b.queue[0]
	b.mu.Unlock()
	next.lead = true
	next.done <- struct{}{}
}

// run appends the messages of group in one transaction and sets each
// one's err. A message whose caller gave up (context ended) before the
// batch began is left out with that error. Should the transaction fail,
// the messages are appended one by one, so that one bad message fails
// alone.
func (b *batcher) run(group []*pending) {
	entries := make([]storage.ArchiveEntry, 0, len(group))
	live := group[:0:0]
	for _, p := range group {
		if err := p.ctx.Err(); err != nil {
			p.err = fmt.Errorf("archiving: %w", err)
			continue
		}
		entries = append(entries, p.e)
		live = append(live, p)
	}
	if len(entries) == 0 {
		return
	}
	// One caller's context ending must not roll back the others'
	// messages: the transaction runs to its end.
	stored, err := b.store.AppendArchiveBatch(context.Background(), entries)
	if err == nil {
		if stored < len(entries) {
			b.log.Warn("archive: messages skipped: their IDs were in their archives already", "skipped", len(entries)-stored)
		}
		return
	}
	if len(live) == 1 {
		live[0].err = err
		return
	}
	b.log.Warn("archive: a batch failed; appending its messages one by one", "messages", len(live), "err", err)
	for _, p := range live {
		p.err = b.single.AppendArchive(context.WithoutCancel(p.ctx), p.e.Owner, p.e.Message)
	}
}
