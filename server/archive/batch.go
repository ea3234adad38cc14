package archive

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

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
	// gatherWindow is how long the committer lets a batch gather when
	// nobody waits for its commit (messages queued by enqueue, which
	// were delivered already): a few milliseconds of a steady trickle of
	// messages share one transaction, and write their pages to the WAL
	// once, where one transaction each would write the table's and the
	// indexes' last pages again for every message. Anyone waiting for a
	// commit (settle, append, a caller waiting for room) cuts it short.
	gatherWindow = 10 * time.Millisecond
)

// batcher groups appends into transactions of the store
// (storage.ArchiveBatcher). Callers queue their messages, in order, and
// one committer goroutine (started when the queue gets its first message
// and gone once it is empty) takes what is queued (up to maxBatch
// messages and maxBatchBytes) and appends it in one transaction, in
// queue order, while the next batch gathers behind it.
//
// A caller either waits for its messages to be committed (append) or
// only for them to be queued (enqueue: the committer logs a failure).
// Every message queued gets a sequence number; settle waits until every
// message queued before it was called is committed (or failed), which
// is how a server delivering messages before they are archived still
// acknowledges only what is archived. The queue is bounded in bytes: a
// caller finding it full waits for room, or until its context ends.
type batcher struct {
	store    storage.ArchiveBatcher
	single   storage.Archive // one message at a time, after a failed batch
	log      *slog.Logger
	maxBytes int
	// stored is run by the committer for each message queued by
	// enqueue that was stored (the quota's bookkeeping).
	stored func(e storage.ArchiveEntry)

	// queuedSeq counts the messages ever queued, doneSeq those the
	// committer is done with (committed or failed): doneSeq ≥ a value
	// read from queuedSeq means everything queued until then is settled.
	// Both only grow, and are written under mu.
	queuedSeq atomic.Uint64
	doneSeq   atomic.Uint64

	mu     sync.Mutex
	queue  []*pending
	queued int // stanza bytes in queue
	// waiters are the callers waiting for room, first come first: the
	// messages of one are queued for it (by whoever freed the room) once
	// there is room for them, and no caller passes one waiting. Queuing
	// them there, and waking only those queued, keeps the next batch full
	// and a full queue from waking every waiting sender at each batch.
	waiters []*roomWaiter
	running bool // the committer goroutine runs
	// hurry counts the callers waiting for a commit (settle, append):
	// while there are any, the committer does not gather. gathering is
	// closed to cut a gathering committer's wait short.
	hurry     int
	gathering chan struct{}
	window    time.Duration // gatherWindow, but in tests
	settled   chan struct{} // closed (and replaced) when doneSeq grows
	batches   uint64        // transactions run (for tests)
}

// roomWaiter is a caller waiting for room in the queue.
type roomWaiter struct {
	ps    []*pending
	size  int
	ready chan struct{} // closed once ps are queued
}

// pending is one message waiting in the queue.
type pending struct {
	// ctx is the waiting caller's (append): a message whose caller gave
	// up before its batch began is left out. Nil for a message nobody
	// waits for (enqueue), which is always appended.
	ctx  context.Context
	e    storage.ArchiveEntry
	err  error
	done chan struct{} // closed once err is set; nil when nobody waits
}

func newBatcher(store storage.ArchiveBatcher, single storage.Archive, log *slog.Logger, maxBytes int) *batcher {
	if maxBytes <= 0 {
		maxBytes = DefaultQueueBytes
	}
	return &batcher{store: store, single: single, log: log, maxBytes: maxBytes, settled: make(chan struct{}), window: gatherWindow}
}

// append appends es, in their order and next to each other in the
// queue, and returns once every one is committed, with the error that
// kept each from being (errs[i] for es[i]), or ctx's error when ctx ended
// while they waited for room in the queue (then none was queued). One
// call for several messages waits once for them all where they fit in
// one transaction, where one call each would wait for each in turn.
func (b *batcher) append(ctx context.Context, es []storage.ArchiveEntry, errs []error) {
	ps := make([]*pending, len(es))
	for i, e := range es {
		ps[i] = &pending{ctx: ctx, e: e, done: make(chan struct{})}
	}
	if err := b.push(ctx, ps); err != nil {
		for i := range errs {
			errs[i] = err
		}
		return
	}
	b.mu.Lock()
	b.hurryLocked()
	b.mu.Unlock()
	for i, p := range ps {
		<-p.done
		errs[i] = p.err
	}
	b.mu.Lock()
	b.hurry--
	b.mu.Unlock()
}

// hurryLocked counts a caller waiting for a commit and cuts short the
// committer's gathering, if it gathers. b.mu is held.
func (b *batcher) hurryLocked() {
	b.hurry++
	b.stopGatheringLocked()
}

// stopGatheringLocked ends the committer's gathering, if it gathers.
// b.mu is held.
func (b *batcher) stopGatheringLocked() {
	if b.gathering != nil {
		close(b.gathering)
		b.gathering = nil
	}
}

// gather lets the next batch gather for gatherWindow, unless someone
// waits for a commit or the batch is full already.
func (b *batcher) gather() {
	b.mu.Lock()
	if b.hurry > 0 || len(b.waiters) > 0 || len(b.queue) >= maxBatch || b.queued >= maxBatchBytes {
		b.mu.Unlock()
		return
	}
	ch := make(chan struct{})
	b.gathering = ch
	b.mu.Unlock()
	t := time.NewTimer(b.window)
	select {
	case <-t.C:
	case <-ch:
	}
	t.Stop()
	b.mu.Lock()
	if b.gathering == ch {
		b.gathering = nil
	}
	b.mu.Unlock()
}

// enqueue queues es, in their order and next to each other, and returns
// at once: the committer appends them in the background and logs a
// failure. The error is ctx's when it ended while they waited for room
// in the queue (then none was queued).
func (b *batcher) enqueue(ctx context.Context, es []storage.ArchiveEntry) error {
	ps := make([]*pending, len(es))
	for i, e := range es {
		ps[i] = &pending{e: e}
	}
	return b.push(ctx, ps)
}

// appendOne is append of the one message e.
func (b *batcher) appendOne(ctx context.Context, e storage.ArchiveEntry) error {
	var err [1]error
	b.append(ctx, []storage.ArchiveEntry{e}, err[:])
	return err[0]
}

// push queues ps once there is room for them, and starts the committer
// if it does not run.
func (b *batcher) push(ctx context.Context, ps []*pending) error {
	size := 0
	for _, p := range ps {
		size += len(p.e.Message.Stanza)
	}
	b.mu.Lock()
	if len(b.waiters) > 0 || !b.fitsLocked(size) {
		w := &roomWaiter{ps: ps, size: size, ready: make(chan struct{})}
		b.waiters = append(b.waiters, w)
		b.stopGatheringLocked()
		b.mu.Unlock()
		select {
		case <-w.ready:
			return nil
		case <-ctx.Done():
			b.mu.Lock()
			defer b.mu.Unlock()
			select {
			case <-w.ready:
				// Queued meanwhile.
				return nil
			default:
			}
			b.waiters = slices.DeleteFunc(b.waiters, func(o *roomWaiter) bool { return o == w })
			b.admitLocked()
			return fmt.Errorf("waiting for room in the archive queue (%d bytes): %w", b.maxBytes, ctx.Err())
		}
	}
	b.queueLocked(ps, size)
	b.mu.Unlock()
	return nil
}

// queueLocked appends ps (size bytes) to the queue and starts the
// committer if it does not run.
func (b *batcher) queueLocked(ps []*pending, size int) {
	b.queue = append(b.queue, ps...)
	b.queued += size
	b.queuedSeq.Add(uint64(len(ps)))
	if len(b.queue) >= maxBatch || b.queued >= maxBatchBytes {
		b.stopGatheringLocked()
	}
	if !b.running {
		b.running = true
		go b.commit()
	}
}

// fitsLocked reports whether size more bytes fit in the queue: within
// the bound, or alone (a message larger than the bound goes when nothing
// else is queued).
func (b *batcher) fitsLocked(size int) bool {
	return b.queued == 0 || b.queued+size <= b.maxBytes
}

// admitLocked queues the messages of the waiting callers that fit, first
// come first, and wakes those callers.
func (b *batcher) admitLocked() {
	n := 0
	for n < len(b.waiters) && b.fitsLocked(b.waiters[n].size) {
		w := b.waiters[n]
		b.queueLocked(w.ps, w.size)
		close(w.ready)
		n++
	}
	if n > 0 {
		rest := copy(b.waiters, b.waiters[n:])
		clear(b.waiters[rest:])
		b.waiters = b.waiters[:rest]
	}
}

// settle waits until every message queued before it was called is
// committed or failed, or until ctx ends (its error). With nothing
// pending it costs two atomic loads.
func (b *batcher) settle(ctx context.Context) error {
	target := b.queuedSeq.Load()
	if b.doneSeq.Load() >= target {
		return nil
	}
	b.mu.Lock()
	b.hurryLocked()
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		b.hurry--
		b.mu.Unlock()
	}()
	for {
		b.mu.Lock()
		settled := b.settled
		done := b.doneSeq.Load() >= target
		b.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-settled:
		case <-ctx.Done():
			return fmt.Errorf("waiting for the archive queue to be committed: %w", ctx.Err())
		}
	}
}

// commit is the committer: it runs batches until the queue is empty.
func (b *batcher) commit() {
	for b.batch() {
	}
}

// batch runs one batch: the queue's head and what is queued behind it,
// within the bounds. It reports whether more is queued; when not, the
// committer is marked gone.
func (b *batcher) batch() bool {
	// Let the callers that are ready to run join this batch: on one P
	// they would otherwise run only after it, and a batch would often
	// hold one message.
	runtime.Gosched()
	b.gather()
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
	b.admitLocked()
	b.batches++
	b.mu.Unlock()

	b.run(group)
	for _, p := range group {
		switch {
		case p.done != nil:
			close(p.done)
		case p.err != nil:
			b.log.Error("archive: cannot archive a message (it was delivered with a stanza-id its archive lacks)",
				"archive", p.e.Owner, "id", p.e.Message.ID, "err", p.err)
		case b.stored != nil:
			b.stored(p.e)
		}
	}

	b.mu.Lock()
	b.doneSeq.Add(uint64(len(group)))
	close(b.settled)
	b.settled = make(chan struct{})
	more := len(b.queue) > 0
	if !more {
		b.running = false
	}
	b.mu.Unlock()
	return more
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
		if p.ctx != nil {
			if err := p.ctx.Err(); err != nil {
				p.err = fmt.Errorf("archiving: %w", err)
				continue
			}
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
		p.err = b.single.AppendArchive(context.Background(), p.e.Owner, p.e.Message)
	}
}
