package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/server/storage/sqlite"
	"github.com/parley-xmpp/parley/server/storage/sqlite/sqlitetest"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// openDB opens a SQLite database in a fresh folder.
func openDB(t *testing.T, path string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// entry is message n of sender for owner, its stanza padded to size
// bytes at least.
func entry(owner jid.JID, sender, n, size int) storage.ArchiveEntry {
	st := fmt.Sprintf(`<message xmlns="jabber:client" type="chat"><body>%d %d %s</body></message>`, sender, n, strings.Repeat("x", size))
	return storage.ArchiveEntry{Owner: owner, Message: storage.ArchivedMessage{
		ID: fmt.Sprintf("s%d-m%d", sender, n), With: jid.MustParse("peer@example.org/r"),
		At: time.Unix(1700000000, 0), Stanza: []byte(st),
	}}
}

// archiveIDs returns the IDs of owner's archive, in archive order.
func archiveIDs(t *testing.T, db storage.Archive, owner jid.JID) []string {
	t.Helper()
	page, err := db.QueryArchive(t.Context(), owner, storage.ArchiveQuery{Index: -1, Max: 100000})
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(page.Messages))
	for i, m := range page.Messages {
		ids[i] = m.ID
	}
	return ids
}

// senderMessages returns the sender and message numbers of the messages
// of owner's archive (entry's IDs), in archive order.
func senderMessages(t *testing.T, db storage.Archive, owner jid.JID) [][2]int {
	t.Helper()
	var out [][2]int
	for _, id := range archiveIDs(t, db, owner) {
		var s, n int
		if _, err := fmt.Sscanf(id, "s%d-m%d", &s, &n); err != nil {
			t.Fatal(err)
		}
		out = append(out, [2]int{s, n})
	}
	return out
}

var discard = slog.New(slog.DiscardHandler)

// TestBatchOrder appends from many goroutines at once: every message is
// stored once, each goroutine's messages in the order it appended them,
// and transactions were shared.
func TestBatchOrder(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "a.db"))
	b := newBatcher(db, db, discard, 0)
	owners := []jid.JID{jid.MustParse("a@example.org"), jid.MustParse("b@example.org")}
	const senders, each = 64, 20
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			for n := range each {
				if err := b.appendOne(t.Context(), entry(owners[s%2], s, n, 10)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	total := 0
	for _, o := range owners {
		msgs := senderMessages(t, db, o)
		total += len(msgs)
		next := map[int]int{} // sender -> next message expected
		for _, m := range msgs {
			s, n := m[0], m[1]
			if n != next[s] {
				t.Fatalf("%s: sender %d's message %d stored where %d was due", o, s, n, next[s])
			}
			next[s]++
		}
	}
	if total != senders*each {
		t.Errorf("%d messages stored, want %d", total, senders*each)
	}
	if b.batches >= senders*each {
		t.Errorf("%d transactions for %d messages: none shared", b.batches, senders*each)
	}
}

// TestBatchQueueBound fills the queue while the store cannot write: a
// caller finding no room waits, and gives up when its context ends
// (then its message is not archived), the queue never holds more than
// its bound, and what was queued is committed once the store can write.
// A caller whose context ends while its message is queued gets the error
// and its message is left out.
func TestBatchQueueBound(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.db")
	db := openDB(t, path)
	const size = 1000
	b := newBatcher(db, db, discard, 3*size+500) // room for three messages
	owner := jid.MustParse("a@example.org")
	release := sqlitetest.HoldWriter(t, path)
	errs := make(chan error, 4)
	// The first message's caller leads and waits for the lock with its
	// batch; three more fill the queue behind it, one of which gives up.
	cancelled, cancel := context.WithCancel(t.Context())
	for i := range 4 {
		ctx := t.Context()
		if i == 2 {
			ctx = cancelled
		}
		go func() { errs <- b.appendOne(ctx, entry(owner, i, 0, size)) }()
		eventually(t, fmt.Sprintf("message %d queued", i), func() bool {
			b.mu.Lock()
			defer b.mu.Unlock()
			// The leader's message left the queue for its batch.
			return b.batches == 1 && len(b.queue) == i
		})
	}
	b.mu.Lock()
	queued := b.queued
	b.mu.Unlock()
	if queued > b.maxBytes {
		t.Fatalf("%d bytes queued, bound %d", queued, b.maxBytes)
	}
	// No room for a fifth: its caller waits until its context ends.
	short, cancelShort := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancelShort()
	if err := b.appendOne(short, entry(owner, 9, 0, size)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("append to a full queue: %v, want the context's deadline", err)
	}
	cancel()
	release()
	var failed int
	for range 4 {
		if err := <-errs; err != nil {
			if !errors.Is(err, context.Canceled) {
				t.Errorf("append: %v", err)
			}
			failed++
		}
	}
	ids := archiveIDs(t, db, owner)
	if failed != 1 || strings.Join(ids, " ") != "s0-m0 s1-m0 s3-m0" {
		t.Errorf("%d appends failed; archive %v, want s0-m0 s1-m0 s3-m0 (s2 given up, s9 never queued)", failed, ids)
	}
}

// TestBatchCommittedBeforeReturn checks that a message is committed when
// append returns: a copy of the database files taken right then, without
// closing the database (as after a crash of the process), holds every
// message appended.
func TestBatchCommittedBeforeReturn(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.db")
	db := openDB(t, path)
	w := NewWriter("test", db, discard, storage.Quota{})
	owner := jid.MustParse("a@example.org")
	var wg sync.WaitGroup
	for s := range 16 {
		wg.Go(func() {
			for n := range 10 {
				e := entry(owner, s, n, 10)
				if err := w.batch.appendOne(t.Context(), e); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	crash := filepath.Join(t.TempDir(), "crash.db")
	for _, suffix := range []string{"", "-wal"} {
		copyFile(t, path+suffix, crash+suffix)
	}
	copied := openDB(t, crash)
	if ids := archiveIDs(t, copied, owner); len(ids) != 160 {
		t.Errorf("the crash image holds %d messages, want 160", len(ids))
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// eventually waits until cond holds, failing t after ten seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		<-tick.C
	}
}

// BenchmarkAppend archives messages of 1,000 accounts from 64 goroutines
// at once, as the MAM module does under load: through the Writer's
// batches (one transaction and one INSERT per 64 rows) and, for
// comparison, one AppendArchive each (SQLite's group commit: a savepoint
// and a statement per row). Each operation is one message archived.
func BenchmarkAppend(b *testing.B) {
	for _, batched := range []bool{true, false} {
		b.Run(fmt.Sprintf("batched=%v", batched), func(b *testing.B) {
			db, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "a.db"), nil)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			w := NewWriter("bench", db, discard, storage.Quota{})
			owners := make([]jid.JID, 1000)
			for i := range owners {
				owners[i] = jid.MustParse(fmt.Sprintf("user%d@localhost", i))
			}
			var n atomic.Int64
			b.SetParallelism(64)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := int(n.Add(1))
					e := entry(owners[i%len(owners)], i, 0, 120)
					var err error
					if batched {
						err = w.batch.appendOne(b.Context(), e)
					} else {
						err = db.AppendArchive(b.Context(), e.Owner, e.Message)
					}
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// TestBatchAppendMany appends several messages a call from many
// goroutines at once, one call holding more messages than a transaction
// takes: every message is stored once, each call's messages in their
// order, every caller returns with each of its messages committed, and
// the messages of a call shared transactions.
func TestBatchAppendMany(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "a.db"))
	b := newBatcher(db, db, discard, 0)
	owners := []jid.JID{jid.MustParse("a@example.org"), jid.MustParse("b@example.org")}
	const senders, each, big = 32, 10, maxBatch*2 + 7
	var wg sync.WaitGroup
	check := func(es []storage.ArchiveEntry, errs []error) {
		for i, err := range errs {
			if err != nil {
				t.Error(err)
				return
			}
			// Committed before append returned: a reader sees it.
			page, err := db.QueryArchive(t.Context(), es[i].Owner, storage.ArchiveQuery{Index: -1, Max: 1, IDs: []string{es[i].Message.ID}})
			if err != nil || len(page.Messages) != 1 {
				t.Errorf("message %s of %s not readable once append returned: %v", es[i].Message.ID, es[i].Owner, err)
			}
		}
	}
	for s := range senders {
		wg.Go(func() {
			for n := range each {
				// A chat message's two copies: the sender's, the recipient's.
				es := []storage.ArchiveEntry{entry(owners[s%2], s, n, 10), entry(owners[1-s%2], s, n, 10)}
				errs := make([]error, len(es))
				b.append(t.Context(), es, errs)
				check(es, errs)
			}
		})
	}
	wg.Go(func() {
		es := make([]storage.ArchiveEntry, big)
		for n := range es {
			es[n] = entry(owners[n%2], senders, n, 10)
		}
		errs := make([]error, len(es))
		b.append(t.Context(), es, errs)
		check(es, errs)
	})
	wg.Wait()
	total := 0
	for _, o := range owners {
		msgs := senderMessages(t, db, o)
		total += len(msgs)
		next := map[int]int{} // sender -> next message expected
		for _, m := range msgs {
			s, n := m[0], m[1]
			if s == senders {
				if n < next[s] || n%2 != map[string]int{"a@example.org": 0, "b@example.org": 1}[o.String()] {
					t.Fatalf("%s: the big call's message %d out of place", o, n)
				}
				next[s] = n + 1
				continue
			}
			if n != next[s] {
				t.Fatalf("%s: sender %d's message %d stored where %d was due", o, s, n, next[s])
			}
			next[s]++
		}
	}
	if want := senders*each*2 + big; total != want {
		t.Errorf("%d messages stored, want %d", total, want)
	}
	if b.batches >= senders*each*2+big/maxBatch {
		t.Errorf("%d transactions for %d calls: none shared", b.batches, senders*each+1)
	}
}

// TestEnqueueSettle queues messages while the store cannot write: with
// nothing queued, settle returns at once; queuing returns without
// waiting for the commit; settle waits until what was queued before it
// is committed (giving up when its context ends); many goroutines
// queuing at once get every message stored once, each goroutine's in its
// order, in shared transactions.
func TestEnqueueSettle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.db")
	db := openDB(t, path)
	b := newBatcher(db, db, discard, 0)
	owner := jid.MustParse("a@example.org")
	release := sqlitetest.HoldWriter(t, path)
	if err := b.settle(t.Context()); err != nil {
		t.Fatalf("settle with nothing queued: %v", err)
	}
	if err := b.enqueue(t.Context(), []storage.ArchiveEntry{entry(owner, 0, 0, 10), entry(owner, 0, 1, 10)}); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := b.settle(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("settle while the store cannot commit: %v, want the context's deadline", err)
	}
	if ids := archiveIDs(t, db, owner); len(ids) != 0 {
		t.Fatalf("archive %v before the store could write", ids)
	}
	release()
	if err := b.settle(t.Context()); err != nil {
		t.Fatal(err)
	}
	if ids := strings.Join(archiveIDs(t, db, owner), " "); ids != "s0-m0 s0-m1" {
		t.Fatalf("archive %q once settled, want s0-m0 s0-m1", ids)
	}

	batches := func() uint64 {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.batches
	}
	before := batches()
	const senders, each = 32, 20
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			for n := range each {
				if err := b.enqueue(t.Context(), []storage.ArchiveEntry{entry(owner, s+1, n, 10)}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := b.settle(t.Context()); err != nil {
		t.Fatal(err)
	}
	msgs := senderMessages(t, db, owner)
	if len(msgs) != 2+senders*each {
		t.Fatalf("%d messages stored once settled, want %d", len(msgs), 2+senders*each)
	}
	next := map[int]int{}
	for _, m := range msgs {
		if m[1] != next[m[0]] {
			t.Fatalf("sender %d's message %d stored where %d was due", m[0], m[1], next[m[0]])
		}
		next[m[0]]++
	}
	if n := batches() - before; n >= senders*each {
		t.Errorf("%d transactions for %d messages: none shared", n, senders*each)
	}
}

// TestQueueRoomInOrder fills the queue while the store cannot write and
// lets callers wait for room one after another: they get in in the order
// they came, each once there is room for it.
func TestQueueRoomInOrder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.db")
	db := openDB(t, path)
	const size = 1000
	b := newBatcher(db, db, discard, size+500) // room for one message
	owner := jid.MustParse("a@example.org")
	release := sqlitetest.HoldWriter(t, path)
	one := func(n int) []storage.ArchiveEntry { return []storage.ArchiveEntry{entry(owner, 0, n, size)} }
	// Message 0 goes to the committer, which waits for the lock; message
	// 1 fills the queue.
	for n := range 2 {
		if err := b.enqueue(t.Context(), one(n)); err != nil {
			t.Fatal(err)
		}
		eventually(t, fmt.Sprintf("message %d queued", n), func() bool {
			b.mu.Lock()
			defer b.mu.Unlock()
			return b.batches == 1 && len(b.queue) == n
		})
	}
	const waiting = 8
	errs := make(chan error, waiting)
	for i := range waiting {
		go func() { errs <- b.enqueue(t.Context(), one(2+i)) }()
		eventually(t, fmt.Sprintf("caller %d waiting", i), func() bool {
			b.mu.Lock()
			defer b.mu.Unlock()
			return len(b.waiters) == i+1
		})
	}
	release()
	for range waiting {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if err := b.settle(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := make([]string, 2+waiting)
	for n := range want {
		want[n] = fmt.Sprintf("s0-m%d", n)
	}
	if got := archiveIDs(t, db, owner); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("archive %v, want the callers in the order they came: %v", got, want)
	}
}

// TestGatherWindow: messages nobody waits for gather for the committer's
// window, so that a trickle of them shares one transaction; a caller
// waiting for a commit (settle, append) cuts the window short. The
// window is an hour here: a committer that did not gather would commit
// the first message alone, and one whose window nothing cut short would
// keep settle and append waiting past their deadline.
func TestGatherWindow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.db")
	db := openDB(t, path)
	b := newBatcher(db, db, discard, 0)
	b.window = time.Hour
	owner := jid.MustParse("a@example.org")
	gathering := func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.gathering != nil
	}
	waitGathering := func() {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !gathering() {
			if time.Now().After(deadline) {
				t.Fatal("the committer never gathered a batch")
			}
			time.Sleep(time.Millisecond)
		}
	}
	if err := b.enqueue(t.Context(), []storage.ArchiveEntry{entry(owner, 0, 0, 10)}); err != nil {
		t.Fatal(err)
	}
	waitGathering()
	if err := b.enqueue(t.Context(), []storage.ArchiveEntry{entry(owner, 0, 1, 10)}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := b.settle(ctx); err != nil {
		t.Fatalf("settle while the committer gathers: %v", err)
	}
	b.mu.Lock()
	batches := b.batches
	b.mu.Unlock()
	if batches != 1 {
		t.Errorf("%d transactions for two messages queued within the window, want 1", batches)
	}
	if ids := strings.Join(archiveIDs(t, db, owner), " "); ids != "s0-m0 s0-m1" {
		t.Fatalf("archive %q once settled, want s0-m0 s0-m1", ids)
	}

	// A caller that waits for its own commit does not wait for the window.
	if err := b.enqueue(t.Context(), []storage.ArchiveEntry{entry(owner, 0, 2, 10)}); err != nil {
		t.Fatal(err)
	}
	waitGathering()
	done := make(chan error, 1)
	go func() { done <- b.appendOne(ctx, entry(owner, 0, 3, 10)) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatal("append waited for the gathering window")
	}
}
