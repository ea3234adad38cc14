package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/server/storage/sqlcommon"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

var (
	_ storage.Archive         = (*DB)(nil)
	_ storage.ArchiveRewriter = (*DB)(nil)
)

// archiveSchema is the migration adding message archives (XEP-0313) and
// their preferences (XEP-0441). seq gives the archive order; with_bare
// serves 'with' filters on a bare JID and with_full those on a full JID.
const archiveSchema = `
CREATE TABLE archive (
	seq       INTEGER PRIMARY KEY AUTOINCREMENT,
	user      TEXT NOT NULL,
	id        TEXT NOT NULL,
	with_bare TEXT NOT NULL,
	with_full TEXT NOT NULL,
	outgoing  INTEGER NOT NULL,
	at        INTEGER NOT NULL,
	origin_id TEXT NOT NULL,
	stanza    BLOB NOT NULL,
	UNIQUE (user, id)
);
CREATE INDEX archive_user_at ON archive(user, at);
CREATE INDEX archive_user_with_at ON archive(user, with_bare, at);
CREATE INDEX archive_at ON archive(at);

CREATE TABLE archive_prefs (
	user         TEXT PRIMARY KEY,
	default_mode TEXT NOT NULL,
	always       TEXT NOT NULL,
	never        TEXT NOT NULL
);
`

// AppendArchive adds m at the end of user's archive.
func (db *DB) AppendArchive(ctx context.Context, user jid.JID, m storage.ArchivedMessage) error {
	u := userKey(user)
	res, err := db.exec(ctx, `INSERT INTO archive(user, id, with_bare, with_full, outgoing, at, origin_id, stanza)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(user, id) DO NOTHING`,
		u, m.ID, m.With.Bare().String(), m.With.String(), m.Outgoing, nanos(m.At), m.OriginID, nonNil(m.Stanza))
	if err != nil {
		return fmt.Errorf("sqlite: archive message for %s: %w", u, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: archive message for %s: %w", u, err)
	} else if n == 0 {
		return fmt.Errorf("sqlite: archive message %s for %s: %w", m.ID, u, storage.ErrExists)
	}
	return nil
}

// ReplaceArchived replaces the stanza of message id in user's archive.
func (db *DB) ReplaceArchived(ctx context.Context, user jid.JID, id string, stanza []byte) error {
	u := userKey(user)
	res, err := db.exec(ctx, `UPDATE archive SET stanza = ? WHERE user = ? AND id = ?`, nonNil(stanza), u, id)
	if err != nil {
		return fmt.Errorf("sqlite: replace archived message %s of %s: %w", id, u, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: replace archived message %s of %s: %w", id, u, err)
	} else if n == 0 {
		return fmt.Errorf("sqlite: replace archived message %s of %s: %w", id, u, storage.ErrNotFound)
	}
	return nil
}

// PurgeArchive removes the messages of user's archive older than before.
func (db *DB) PurgeArchive(ctx context.Context, user jid.JID, before time.Time) (int64, error) {
	u := userKey(user)
	res, err := db.exec(ctx, `DELETE FROM archive WHERE user = ? AND at < ?`, u, nanos(before))
	if err != nil {
		return 0, fmt.Errorf("sqlite: purge archive of %s: %w", u, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlite: purge archive of %s: %w", u, err)
	}
	return n, nil
}

// QueryArchive runs q over user's archive in one read transaction.
func (db *DB) QueryArchive(ctx context.Context, user jid.JID, q storage.ArchiveQuery) (storage.ArchivePage, error) {
	u := userKey(user)
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return storage.ArchivePage{}, fmt.Errorf("sqlite: query archive of %s: %w", u, err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	return dialect().QueryArchive(ctx, querier{tx}, u, q)
}

// ArchiveBounds returns the first and last messages of user's archive.
func (db *DB) ArchiveBounds(ctx context.Context, user jid.JID) (first, last storage.ArchivedMessage, ok bool, err error) {
	return dialect().ArchiveBounds(ctx, querier{db.r}, userKey(user))
}

// DeleteArchive removes user's whole archive (not the preferences).
func (db *DB) DeleteArchive(ctx context.Context, user jid.JID) error {
	u := userKey(user)
	if _, err := db.exec(ctx, `DELETE FROM archive WHERE user = ?`, u); err != nil {
		return fmt.Errorf("sqlite: delete archive of %s: %w", u, err)
	}
	return nil
}

// PurgeArchives removes every archived message older than before.
func (db *DB) PurgeArchives(ctx context.Context, before time.Time) (int64, error) {
	res, err := db.exec(ctx, `DELETE FROM archive WHERE at < ?`, nanos(before))
	if err != nil {
		return 0, fmt.Errorf("sqlite: purge archives: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlite: purge archives: %w", err)
	}
	return n, nil
}

// ArchivePrefs returns user's archiving preferences.
func (db *DB) ArchivePrefs(ctx context.Context, user jid.JID) (storage.ArchivePrefs, error) {
	u := userKey(user)
	var (
		p             storage.ArchivePrefs
		always, never string
	)
	err := db.queryRow(ctx, `SELECT default_mode, always, never FROM archive_prefs WHERE user = ?`, u).Scan(&p.Default, &always, &never)
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("sqlite: archive prefs of %s: %w", u, storage.ErrNotFound)
	}
	if err != nil {
		return p, fmt.Errorf("sqlite: archive prefs of %s: %w", u, err)
	}
	if p.Always, err = dialect().SplitJIDs(always, "archive prefs JID"); err != nil {
		return p, err
	}
	if p.Never, err = dialect().SplitJIDs(never, "archive prefs JID"); err != nil {
		return p, err
	}
	return p, nil
}

// SetArchivePrefs stores user's archiving preferences.
func (db *DB) SetArchivePrefs(ctx context.Context, user jid.JID, p storage.ArchivePrefs) error {
	u := userKey(user)
	_, err := db.exec(ctx, `INSERT INTO archive_prefs(user, default_mode, always, never) VALUES (?, ?, ?, ?)
		ON CONFLICT(user) DO UPDATE SET default_mode = excluded.default_mode, always = excluded.always, never = excluded.never`,
		u, p.Default, sqlcommon.JoinJIDs(p.Always), sqlcommon.JoinJIDs(p.Never))
	if err != nil {
		return fmt.Errorf("sqlite: set archive prefs of %s: %w", u, err)
	}
	return nil
}
