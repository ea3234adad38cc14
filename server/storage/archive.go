package storage

import (
	"context"
	"slices"
	"time"

	"github.com/parley-xmpp/parley/xmpp/jid"
)

// ArchivedMessage is one message of a user's archive (XEP-0313 §3).
type ArchivedMessage struct {
	// ID is the archive UID, also the XEP-0359 stanza-id; unique within
	// the user's archive and never reused.
	ID string
	// With is the other party: 'to' of an outgoing message, 'from' of an
	// incoming one.
	With     jid.JID
	Outgoing bool
	At       time.Time
	// OriginID is the sender's XEP-0359 origin-id, or "".
	OriginID string
	// Stanza is the message as archived (our serialisation).
	Stanza []byte
}

// MaxArchivePage is the largest page a backend returns for one query with a
// positive Max, whatever the caller asked.
const MaxArchivePage = 10000

// ArchiveQuery selects and pages archived messages. Zero values mean "no
// filter". Messages are in archive order (the order they were appended).
type ArchiveQuery struct {
	// With matches the other party: a bare JID matches every resource, a
	// full JID only itself.
	With jid.JID
	// Start and End bound At, inclusively.
	Start, End time.Time
	// AfterID and BeforeID bound the result set, exclusively; IDs
	// restricts it to the given messages.
	AfterID, BeforeID string
	IDs               []string

	// After and Before page through the result set (XEP-0059): the page
	// starts after After, or ends before Before.
	After, Before string
	// Last takes the page at the end of the set (before Before, or the
	// last messages), otherwise the page at its start (after After).
	Last bool
	// Index, when >= 0, starts the page at this position of the set.
	Index int
	// Max is the page size; 0 returns no messages (only Count), a
	// negative value the whole result. Callers facing clients bound it
	// (the MAM module caps it at its page limit); backends treat values
	// above MaxArchivePage as MaxArchivePage.
	Max int
}

// ArchivePage is the answer to an ArchiveQuery.
type ArchivePage struct {
	Messages []ArchivedMessage
	// Count is the size of the whole result set (filters without paging).
	Count int
	// FirstIndex is the position of Messages[0] in the result set.
	FirstIndex int
	// Complete is true when the page reaches the end of the set in its
	// direction (the last message for forward paging, the first for Last).
	Complete bool
}

// ArchivePrefs are a user's archiving preferences (XEP-0441).
type ArchivePrefs struct {
	Default       string // "always", "never" or "roster"
	Always, Never []jid.JID
}

// Archive stores message archives (XEP-0313) and their preferences.
type Archive interface {
	// AppendArchive adds a message at the end of user's archive;
	// ErrExists if its ID is already used there.
	AppendArchive(ctx context.Context, user jid.JID, m ArchivedMessage) error
	// QueryArchive runs a query; ErrNotFound when AfterID, BeforeID, After,
	// Before or one of IDs is not in user's archive.
	QueryArchive(ctx context.Context, user jid.JID, q ArchiveQuery) (ArchivePage, error)
	// ArchiveBounds returns the first and last messages of user's archive
	// (Stanza left empty); ok is false for an empty archive.
	ArchiveBounds(ctx context.Context, user jid.JID) (first, last ArchivedMessage, ok bool, err error)
	// DeleteArchive removes user's whole archive.
	DeleteArchive(ctx context.Context, user jid.JID) error
	// PurgeArchives removes every archived message older than before, in
	// every archive, and returns how many it removed.
	PurgeArchives(ctx context.Context, before time.Time) (int64, error)
	// ArchiveUsage returns how many messages user's archive holds and the
	// total size of their stored stanzas.
	ArchiveUsage(ctx context.Context, user jid.JID) (Usage, error)
	// TrimArchive removes the oldest messages of user's archive until what
	// is left fits in q, and returns what it removed and what is left. It
	// is the archive quota's rolling retention: the archive keeps the
	// newest messages.
	TrimArchive(ctx context.Context, user jid.JID, q Quota) (removed, left Usage, err error)
	// ArchivePrefs returns user's preferences; ErrNotFound if never set.
	ArchivePrefs(ctx context.Context, user jid.JID) (ArchivePrefs, error)
	// SetArchivePrefs stores user's preferences.
	SetArchivePrefs(ctx context.Context, user jid.JID, p ArchivePrefs) error
}

// ArchiveEntry is one message to append to an archive: Message at the
// end of Owner's archive.
type ArchiveEntry struct {
	Owner   jid.JID
	Message ArchivedMessage
}

// ArchiveBatcher is implemented by archive stores that append many
// messages at once, in one transaction: the archive writer's batches.
type ArchiveBatcher interface {
	// AppendArchiveBatch appends entries in their order (each at the end
	// of its owner's archive), all or none: the messages are stored once
	// it returns nil. An entry whose ID its owner's archive already has
	// is skipped (as AppendArchive's ErrExists); stored counts the others.
	AppendArchiveBatch(ctx context.Context, entries []ArchiveEntry) (stored int, err error)
}

// ArchiveRewriter is implemented by archive stores that can change one
// archive in place: replace a stored message (a retracted message's
// tombstone, XEP-0424 and XEP-0425, takes its contents' place and keeps
// its position, stamp and ID) and purge one archive by age (a chat room's
// retention, where PurgeArchives applies one retention to every archive).
type ArchiveRewriter interface {
	// ReplaceArchived replaces the stanza of message id in user's
	// archive; ErrNotFound if there is none.
	ReplaceArchived(ctx context.Context, user jid.JID, id string, stanza []byte) error
	// PurgeArchive removes the messages of user's archive older than
	// before and returns how many it removed.
	PurgeArchive(ctx context.Context, user jid.JID, before time.Time) (int64, error)
}

// FinishArchivePage is the part of an archive query that is the same for
// every backend. The backend read up to Max+1 rows (one more tells whether
// the page is the last), in descending order when it pages backwards, with
// seqs the archive positions of page.Messages and page.Count the size of
// the whole result. FinishArchivePage trims the page to Max, restores
// archive order, sets Complete, and sets FirstIndex when the query gave an
// index. It returns the seqs of the kept messages and whether the backend
// still has to count the messages before the first one for FirstIndex.
func FinishArchivePage(page *ArchivePage, seqs []int64, q ArchiveQuery, descending bool) ([]int64, bool) {
	page.Complete = q.Max < 0 || len(page.Messages) <= q.Max
	if !page.Complete {
		page.Messages, seqs = page.Messages[:q.Max], seqs[:q.Max]
	}
	if descending {
		slices.Reverse(page.Messages)
		slices.Reverse(seqs)
	}
	if q.Index >= 0 {
		page.FirstIndex = min(q.Index, page.Count)
		page.Complete = q.Index+len(page.Messages) >= page.Count
		return seqs, false
	}
	return seqs, len(page.Messages) > 0
}
