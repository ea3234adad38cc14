package archive

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"time"

	"github.com/parley-xmpp/parley/server/session"
	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/mam"
	"github.com/parley-xmpp/parley/xmpp/rsm"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stanzaid"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// Writer appends messages to archives and keeps each archive within a
// quota. It is safe for concurrent use.
type Writer struct {
	name  string // the module, for log messages
	store storage.Archive
	log   *slog.Logger
	quota storage.Quota
	usage *usageCache
	// batch groups concurrent appends into one transaction where the
	// store can (storage.ArchiveBatcher); nil: one transaction each.
	batch *batcher
}

// NewWriter returns a Writer over store; q bounds every archive it
// appends to (a zero field sets no bound). name prefixes its log
// messages. Where store appends in batches (storage.ArchiveBatcher),
// concurrent appends share transactions, with at most
// DefaultQueueBytes of stanzas waiting.
func NewWriter(name string, store storage.Archive, log *slog.Logger, q storage.Quota) *Writer {
	return NewWriterQueue(name, store, log, q, DefaultQueueBytes)
}

// NewWriterQueue is NewWriter with queueBytes bounding the stanza bytes
// waiting to be archived (≤ 0: DefaultQueueBytes).
func NewWriterQueue(name string, store storage.Archive, log *slog.Logger, q storage.Quota, queueBytes int) *Writer {
	w := &Writer{name: name, store: store, log: log, quota: q, usage: newUsageCache()}
	if b, ok := store.(storage.ArchiveBatcher); ok {
		w.batch = newBatcher(b, store, log, queueBytes)
		w.batch.stored = func(e storage.ArchiveEntry) {
			w.enforceQuota(context.Background(), e.Owner, len(e.Message.Stanza))
		}
	}
	return w
}

// Append stores st in owner's archive as am (its At, OriginID and Stanza
// filled in from now and st) and trims the archive if it went over the
// quota. A storage failure is returned; the caller decides whether the
// message still goes out.
func (w *Writer) Append(ctx context.Context, owner jid.JID, am storage.ArchivedMessage, st *stanza.Element, now time.Time) error {
	var err [1]error
	w.AppendEntries(ctx, []Entry{w.Prepare(owner, am, st, now)}, err[:])
	return err[0]
}

// Entry is a message ready to be archived: Prepare's result.
type Entry struct {
	owner jid.JID
	am    storage.ArchivedMessage
}

// Prepare makes st an Entry of owner's archive as am (its At, OriginID
// and Stanza filled in from now and st): st as it is now, whatever
// happens to it before the entry is appended.
func (w *Writer) Prepare(owner jid.JID, am storage.ArchivedMessage, st *stanza.Element, now time.Time) Entry {
	// The precision of the stamps results carry, so a stamp given back
	// as start or end matches its own message.
	am.At = now.Truncate(time.Microsecond)
	am.OriginID = stanzaid.OriginID(st)
	// With its namespace declared, so the stored bytes parse back into
	// jabber:client wherever they are read.
	am.Stanza = st.AppendXML(nil, "")
	return Entry{owner: owner, am: am}
}

// AppendEntries appends es, in their order, as Append does each, and sets
// errs[i] (len(errs) ≥ len(es)) to the error of es[i], nil once it is
// stored. Where the store appends in batches, the caller waits once for
// them all where they fit in one transaction (a chat message's copy in
// its sender's archive and the one in its recipient's), not once each.
func (w *Writer) AppendEntries(ctx context.Context, es []Entry, errs []error) {
	if w.batch != nil {
		se := make([]storage.ArchiveEntry, len(es))
		for i, e := range es {
			se[i] = storage.ArchiveEntry{Owner: e.owner, Message: e.am}
		}
		w.batch.append(ctx, se, errs)
	} else {
		for i, e := range es {
			errs[i] = w.store.AppendArchive(ctx, e.owner, e.am)
		}
	}
	for i, e := range es {
		if errs[i] != nil {
			errs[i] = fmt.Errorf("%s: archiving a message for %s: %w", w.name, e.owner, errs[i])
			continue
		}
		w.enforceQuota(ctx, e.owner, len(e.am.Stanza))
	}
}

// EnqueueEntries queues es to be appended, in their order, as
// AppendEntries does, and returns without waiting for the transaction:
// errs[i] (len(errs) ≥ len(es)) is set to the error that kept es[i] from
// being queued (ctx ended while the queue was full), nil once it is
// queued. A queued message is appended in the background whatever
// happens to ctx; should that fail, the failure is logged (the message
// may have been delivered with a stanza-id its archive lacks). Settle
// waits for what is queued. Where the store does not append in batches,
// EnqueueEntries is AppendEntries.
func (w *Writer) EnqueueEntries(ctx context.Context, es []Entry, errs []error) {
	if w.batch == nil {
		w.AppendEntries(ctx, es, errs)
		return
	}
	se := make([]storage.ArchiveEntry, len(es))
	for i, e := range es {
		se[i] = storage.ArchiveEntry{Owner: e.owner, Message: e.am}
	}
	err := w.batch.enqueue(ctx, se)
	for i, e := range es {
		errs[i] = nil
		if err != nil {
			errs[i] = fmt.Errorf("%s: archiving a message for %s: %w", w.name, e.owner, err)
		}
	}
}

// Settle returns once every message queued (EnqueueEntries) before it was
// called is committed, or failed and was logged: the barrier before the
// server acknowledges anything to a client. The error is ctx's, should it
// end first. With nothing queued it costs two atomic loads.
func (w *Writer) Settle(ctx context.Context) error {
	if w.batch == nil {
		return nil
	}
	return w.batch.settle(ctx)
}

// Forget drops what the Writer knows of owner's archive (deleted).
func (w *Writer) Forget(owner jid.JID) { w.usage.forget(owner) }

// StorageQuery turns a protocol query into a storage query whose page is
// at most maxPage messages.
func StorageQuery(mq mam.Query, maxPage int) storage.ArchiveQuery {
	sq := storage.ArchiveQuery{
		With: mq.With, Start: mq.Start, End: mq.End,
		AfterID: mq.AfterID, BeforeID: mq.BeforeID, IDs: mq.IDs,
		Index: mq.RSM.Index, Max: mq.RSM.Max,
	}
	if sq.Max < 0 || sq.Max > maxPage {
		sq.Max = maxPage
	}
	switch {
	case mq.RSM.Index >= 0:
	case mq.RSM.HasBefore:
		// RSM leaves <before/> with <after/> undefined; before wins.
		sq.Last, sq.Before = true, mq.RSM.Before
	case mq.RSM.HasAfter:
		sq.After = mq.RSM.After
	}
	return sq
}

// Run runs sq over owner's archive; an unknown message ID in the query is
// <item-not-found/> (XEP-0313 §4.1.4).
func Run(ctx context.Context, store storage.Archive, owner jid.JID, sq storage.ArchiveQuery) (storage.ArchivePage, error) {
	page, err := store.QueryArchive(ctx, owner, sq)
	if errors.Is(err, storage.ErrNotFound) {
		return page, stanza.Errorf(stanza.ItemNotFound, "no such message in the archive")
	}
	if err != nil {
		return page, fmt.Errorf("archive: query of %s: %w", owner, err)
	}
	return page, nil
}

// Result renders one archived message as the <message/> carrying its
// <result/> (XEP-0313 §4.2), from the archive's owner to the requester.
func Result(am storage.ArchivedMessage, queryID, owner, to string) (*stanza.Element, error) {
	el, err := stream.ParseElement(am.Stanza, stream.DefaultLimits())
	if err != nil {
		return nil, fmt.Errorf("archive: message %s of %s unreadable: %w", am.ID, owner, err)
	}
	res := mam.Result{QueryID: queryID, ID: am.ID, Stamp: am.At, Message: el}
	return res.Element(owner, to, stanzaid.New()), nil
}

// Fin is the <fin/> that ends the results of page (XEP-0313 §4.3).
func Fin(page storage.ArchivePage) *stanza.Element {
	fin := mam.Fin{Complete: page.Complete, Set: rsm.Result{FirstIndex: -1, Count: page.Count}}
	if len(page.Messages) > 0 {
		fin.Set.First, fin.Set.FirstIndex = page.Messages[0].ID, page.FirstIndex
		fin.Set.Last = page.Messages[len(page.Messages)-1].ID
	}
	return fin.Element()
}

// Ordered returns the messages of page in the order they are sent:
// archive order, or reversed for a XEP-0313 <flip-page/>.
func Ordered(page storage.ArchivePage, flip bool) []storage.ArchivedMessage {
	if !flip {
		return page.Messages
	}
	msgs := slices.Clone(page.Messages)
	slices.Reverse(msgs)
	return msgs
}

// FitBacklog shortens page to what s can take at once on top of what it
// holds: at most half of each of its connection's limits, so that an
// archive page of large messages (up to 100 of the largest stanzas) does
// not make the client a slow consumer; XEP-0313 lets a page hold fewer
// messages than asked for, and the client pages on from <fin/>. A
// forward page keeps its first messages, a backward one (RSM <before/>)
// its last; at least one message is kept.
func FitBacklog(page storage.ArchivePage, s *session.Session, backward bool) storage.ArchivePage {
	b, ok := s.Backlog()
	if !ok || len(page.Messages) <= 1 {
		return page
	}
	roomBytes, roomStanzas := math.MaxInt, math.MaxInt
	if b.MaxBytes > 0 {
		roomBytes = max(0, b.MaxBytes/2-b.Bytes)
	}
	if b.MaxStanzas > 0 {
		roomStanzas = max(0, b.MaxStanzas/2-b.Stanzas)
	}
	n, size := 0, 0
	for n < len(page.Messages) {
		i := n
		if backward {
			i = len(page.Messages) - 1 - n
		}
		size += len(page.Messages[i].Stanza) + resultOverhead
		if n > 0 && (size > roomBytes || n+1 > roomStanzas) {
			break
		}
		n++
	}
	if n == len(page.Messages) {
		return page
	}
	if backward {
		dropped := len(page.Messages) - n
		page.Messages = page.Messages[dropped:]
		if page.FirstIndex >= 0 {
			page.FirstIndex += dropped
		}
	} else {
		page.Messages = page.Messages[:n]
	}
	page.Complete = false
	return page
}

// resultOverhead is roughly what wrapping an archived message in its
// <result/> and <forwarded/> adds.
const resultOverhead = 256
