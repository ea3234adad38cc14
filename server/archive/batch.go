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

// append appends es, in their order and next to each other in the
// queue, and returns once every one is committed, with the error that
// kept each from being (errs[i] for es[i]), or ctx's error when ctx ended
// while they waited for room in the queue (then none was queued). One
// call for several messages waits once for them all where they fit in
// one transaction, where one call each would wait for each in turn.
func (b *batcher) append(ctx context.Context, es []storage.ArchiveEntry, errs []error) {
	size := 0
	ps := make([]*pending, len(es))
	for i, e := range es {
		size += len(e.Message.Stanza)
		ps[i] = &pending{ctx: ctx, e: e, done: make(chan struct{}, 1)}
	}
	b.mu.Lock()
	for len(b.queue) > 0 && b.queued+size > b.maxBytes {
		room := b.room
		b.mu.Unlock()
		select {
		case <-room:
		case <-ctx.Done():
			err := fmt.Errorf("waiting for room in the archive queue (%d bytes): %w", b.maxBytes, ctx.Err())
			for i := range errs {
				errs[i] = err
			}
			return
		}
		b.mu.Lock()
	}
	b.queue = append(b.queue, ps...)
	b.queued += size
	lead := !b.running
	b.running = true
	b.mu.Unlock()
	// The messages are queued in a row: each is in the batch of the one
	// before it, or heads the next batch, which its caller then leads.
	for i, p := range ps {
		if i > 0 || !lead {
			<-p.done
			if !p.lead {
				errs[i] = p.err
				continue
			}
		}
		b.lead()
		errs[i] = p.err
	}
}

// appendOne is append of the one message e.
func (b *batcher) appendOne(ctx context.Context, e storage.ArchiveEntry) error {
	var err [1]error
	b.append(ctx, []storage.ArchiveEntry{e}, err[:])
	return err[0]
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
