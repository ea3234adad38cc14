package sqlcommon

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// Archive is the SQL of storage.Archive. A preference's JID lists are
// text arrays where the dialect has arrays, one text a JID a line
// otherwise.
type Archive struct {
	D    Dialect
	R    Querier  // reads
	W    Execer   // writes
	Tx   Transact // writes of several statements (batches)
	Snap Snapshot // reads that must agree
}

var _ storage.ArchiveBatcher = Archive{}

// QueryArchive runs q over user's archive in one snapshot, so that the
// count and the page agree.
func (a Archive) QueryArchive(ctx context.Context, user jid.JID, q storage.ArchiveQuery) (storage.ArchivePage, error) {
	var page storage.ArchivePage
	err := a.Snap(ctx, func(r Querier) error {
		var err error
		page, err = a.D.QueryArchive(ctx, r, UserKey(user), q)
		return err
	})
	return page, err
}

// AppendArchive adds m at the end of user's archive; storage.ErrExists
// if user's archive has a message of its ID. One statement: SQLite's
// group commit batches it with the other writes.
func (a Archive) AppendArchive(ctx context.Context, user jid.JID, m storage.ArchivedMessage) error {
	u := UserKey(user)
	n, err := a.W.Exec(ctx, ArchiveRowInsert(a.D),
		u, m.ID, m.With.Bare().String(), m.With.String(), m.Outgoing, Nanos(m.At), m.OriginID, NonNil(m.Stanza))
	if err != nil {
		return fmt.Errorf("%s: archive message for %s: %w", a.D.Name, u, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: archive message %s for %s: %w", a.D.Name, m.ID, u, storage.ErrExists)
	}
	return nil
}

// batchRows is how many messages one statement of AppendArchiveBatch
// inserts (8 parameters each: well within SQLite's and PostgreSQL's
// bounds on parameters).
const batchRows = 64

// AppendArchiveBatch appends entries in one transaction, batchRows to a
// statement (one where the dialect has OneRowInserts).
func (a Archive) AppendArchiveBatch(ctx context.Context, entries []storage.ArchiveEntry) (int, error) {
	if len(entries) == 0 {
		return 0, nil
	}
	rows := batchRows
	if a.D.OneRowInserts {
		rows = 1
	}
	one := ArchiveRowInsert(a.D)
	stored := 0
	err := a.Tx(ctx, func(tx Tx) error {
		stored = 0
		args := make([]any, 0, 8*min(len(entries), rows))
		for rest := entries; len(rest) > 0; {
			chunk := rest[:min(len(rest), rows)]
			rest = rest[len(chunk):]
			args = args[:0]
			for _, e := range chunk {
				m := e.Message
				args = append(args, UserKey(e.Owner), m.ID, m.With.Bare().String(), m.With.String(), m.Outgoing, Nanos(m.At), m.OriginID, NonNil(m.Stanza))
			}
			text := one
			if len(chunk) > 1 {
				text = a.batchInsert(len(chunk))
			}
			n, err := tx.Exec(ctx, text, args...)
			if err != nil {
				return err
			}
			stored += int(n)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("%s: archive %d messages: %w", a.D.Name, len(entries), err)
	}
	return stored, nil
}

// ArchiveRowInsert is the INSERT of one archived message in dialect d:
// AppendArchive's statement, and each of a batch's where
// d.OneRowInserts (SQLite prepares it once, see its Open).
func ArchiveRowInsert(d Dialect) string { return Archive{D: d}.batchInsert(1) }

// batchInsert is the INSERT of n archived messages, in the dialect.
func (a Archive) batchInsert(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO archive({user}, id, with_bare, with_full, outgoing, at, origin_id, stanza) VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?)")
	}
	b.WriteString(` ON CONFLICT({user}, id) DO NOTHING`)
	return a.D.SQL(b.String())
}

// ArchiveBounds returns the first and last messages of user's archive.
func (a Archive) ArchiveBounds(ctx context.Context, user jid.JID) (first, last storage.ArchivedMessage, ok bool, err error) {
	return a.D.ArchiveBounds(ctx, a.R, UserKey(user))
}

// DeleteArchive removes user's whole archive (not the preferences).
func (a Archive) DeleteArchive(ctx context.Context, user jid.JID) error {
	u := UserKey(user)
	if _, err := a.W.Exec(ctx, a.D.SQL(`DELETE FROM archive WHERE {user} = ?`), u); err != nil {
		return fmt.Errorf("%s: delete archive of %s: %w", a.D.Name, u, err)
	}
	return nil
}

// ReplaceArchived replaces the stanza of message id in user's archive
// (a tombstone after a retraction); storage.ErrNotFound if it has none.
func (a Archive) ReplaceArchived(ctx context.Context, user jid.JID, id string, stanza []byte) error {
	u := UserKey(user)
	n, err := a.W.Exec(ctx, a.D.SQL(`UPDATE archive SET stanza = ? WHERE {user} = ? AND id = ?`), NonNil(stanza), u, id)
	if err != nil {
		return fmt.Errorf("%s: replace archived message %s of %s: %w", a.D.Name, id, u, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: replace archived message %s of %s: %w", a.D.Name, id, u, storage.ErrNotFound)
	}
	return nil
}

// PurgeArchive removes the messages of user's archive older than before.
func (a Archive) PurgeArchive(ctx context.Context, user jid.JID, before time.Time) (int64, error) {
	u := UserKey(user)
	n, err := a.W.Exec(ctx, a.D.SQL(`DELETE FROM archive WHERE {user} = ? AND at < ?`), u, Nanos(before))
	if err != nil {
		return 0, fmt.Errorf("%s: purge archive of %s: %w", a.D.Name, u, err)
	}
	return n, nil
}

// PurgeArchives removes every archived message older than before.
func (a Archive) PurgeArchives(ctx context.Context, before time.Time) (int64, error) {
	n, err := a.W.Exec(ctx, a.D.SQL(`DELETE FROM archive WHERE at < ?`), Nanos(before))
	if err != nil {
		return 0, fmt.Errorf("%s: purge archives: %w", a.D.Name, err)
	}
	return n, nil
}

// ArchivePrefs returns user's archiving preferences; storage.ErrNotFound
// if none are stored.
func (a Archive) ArchivePrefs(ctx context.Context, user jid.JID) (storage.ArchivePrefs, error) {
	u := UserKey(user)
	var (
		p             storage.ArchivePrefs
		always, never jidList
	)
	err := a.R.QueryRow(ctx, a.D.SQL(`SELECT default_mode, always, never FROM archive_prefs WHERE {user} = ?`), u).
		Scan(&p.Default, a.D.jidListDest(&always), a.D.jidListDest(&never))
	if a.R.NoRows(err) {
		return p, fmt.Errorf("%s: archive prefs of %s: %w", a.D.Name, u, storage.ErrNotFound)
	}
	if err != nil {
		return p, fmt.Errorf("%s: archive prefs of %s: %w", a.D.Name, u, err)
	}
	if p.Always, err = a.D.jids(always, "archive prefs JID"); err != nil {
		return p, err
	}
	if p.Never, err = a.D.jids(never, "archive prefs JID"); err != nil {
		return p, err
	}
	return p, nil
}

// SetArchivePrefs stores user's archiving preferences.
func (a Archive) SetArchivePrefs(ctx context.Context, user jid.JID, p storage.ArchivePrefs) error {
	u := UserKey(user)
	_, err := a.W.Exec(ctx, a.D.SQL(`INSERT INTO archive_prefs({user}, default_mode, always, never) VALUES (?, ?, ?, ?)
		ON CONFLICT({user}) DO UPDATE SET default_mode = excluded.default_mode, always = excluded.always, never = excluded.never`),
		u, p.Default, a.D.jidListArg(p.Always), a.D.jidListArg(p.Never))
	if err != nil {
		return fmt.Errorf("%s: set archive prefs of %s: %w", a.D.Name, u, err)
	}
	return nil
}
