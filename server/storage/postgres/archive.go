package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

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
	seq       BIGSERIAL PRIMARY KEY,
	username  TEXT COLLATE "C" NOT NULL,
	id        TEXT COLLATE "C" NOT NULL,
	with_bare TEXT COLLATE "C" NOT NULL,
	with_full TEXT COLLATE "C" NOT NULL,
	outgoing  BOOLEAN NOT NULL,
	at        BIGINT NOT NULL,
	origin_id TEXT NOT NULL,
	stanza    BYTEA NOT NULL,
	UNIQUE (username, id)
);
CREATE INDEX archive_user_at ON archive(username, at);
CREATE INDEX archive_user_with_at ON archive(username, with_bare, at);
CREATE INDEX archive_at ON archive(at);

CREATE TABLE archive_prefs (
	username     TEXT COLLATE "C" PRIMARY KEY,
	default_mode TEXT NOT NULL,
	always       TEXT[] NOT NULL,
	never        TEXT[] NOT NULL
);
`

// AppendArchive adds m at the end of user's archive.
func (db *DB) AppendArchive(ctx context.Context, user jid.JID, m storage.ArchivedMessage) error {
	u := userKey(user)
	tag, err := db.pool.Exec(ctx, `INSERT INTO archive(username, id, with_bare, with_full, outgoing, at, origin_id, stanza)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (username, id) DO NOTHING`,
		u, m.ID, m.With.Bare().String(), m.With.String(), m.Outgoing, nanos(m.At), m.OriginID, nonNil(m.Stanza))
	if err != nil {
		return fmt.Errorf("postgres: archive message for %s: %w", u, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: archive message %s for %s: %w", m.ID, u, storage.ErrExists)
	}
	return nil
}

// ReplaceArchived replaces the stanza of message id in user's archive.
func (db *DB) ReplaceArchived(ctx context.Context, user jid.JID, id string, stanza []byte) error {
	u := userKey(user)
	tag, err := db.pool.Exec(ctx, `UPDATE archive SET stanza = $1 WHERE username = $2 AND id = $3`, nonNil(stanza), u, id)
	if err != nil {
		return fmt.Errorf("postgres: replace archived message %s of %s: %w", id, u, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: replace archived message %s of %s: %w", id, u, storage.ErrNotFound)
	}
	return nil
}

// PurgeArchive removes the messages of user's archive older than before.
func (db *DB) PurgeArchive(ctx context.Context, user jid.JID, before time.Time) (int64, error) {
	u := userKey(user)
	tag, err := db.pool.Exec(ctx, `DELETE FROM archive WHERE username = $1 AND at < $2`, u, nanos(before))
	if err != nil {
		return 0, fmt.Errorf("postgres: purge archive of %s: %w", u, err)
	}
	return tag.RowsAffected(), nil
}

// QueryArchive runs q over user's archive in one snapshot.
func (db *DB) QueryArchive(ctx context.Context, user jid.JID, q storage.ArchiveQuery) (storage.ArchivePage, error) {
	u := userKey(user)
	var page storage.ArchivePage
	err := db.txOpts(ctx, snapshot(), func(tx pgx.Tx) error {
		var err error
		page, err = dialect().QueryArchive(ctx, shared{tx}, u, q)
		return err
	})
	return page, err
}

// ArchiveBounds returns the first and last messages of user's archive.
func (db *DB) ArchiveBounds(ctx context.Context, user jid.JID) (first, last storage.ArchivedMessage, ok bool, err error) {
	return dialect().ArchiveBounds(ctx, shared{db.pool}, userKey(user))
}

// DeleteArchive removes user's whole archive (not the preferences).
func (db *DB) DeleteArchive(ctx context.Context, user jid.JID) error {
	u := userKey(user)
	if _, err := db.pool.Exec(ctx, `DELETE FROM archive WHERE username = $1`, u); err != nil {
		return fmt.Errorf("postgres: delete archive of %s: %w", u, err)
	}
	return nil
}

// PurgeArchives removes every archived message older than before.
func (db *DB) PurgeArchives(ctx context.Context, before time.Time) (int64, error) {
	tag, err := db.pool.Exec(ctx, `DELETE FROM archive WHERE at < $1`, nanos(before))
	if err != nil {
		return 0, fmt.Errorf("postgres: purge archives: %w", err)
	}
	return tag.RowsAffected(), nil
}

// ArchivePrefs returns user's archiving preferences.
func (db *DB) ArchivePrefs(ctx context.Context, user jid.JID) (storage.ArchivePrefs, error) {
	u := userKey(user)
	var (
		p             storage.ArchivePrefs
		always, never []string
	)
	err := db.pool.QueryRow(ctx, `SELECT default_mode, always, never FROM archive_prefs WHERE username = $1`, u).Scan(&p.Default, &always, &never)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, fmt.Errorf("postgres: archive prefs of %s: %w", u, storage.ErrNotFound)
	}
	if err != nil {
		return p, fmt.Errorf("postgres: archive prefs of %s: %w", u, err)
	}
	if p.Always, err = dialect().ParseJIDs(always, "archive prefs JID"); err != nil {
		return p, err
	}
	if p.Never, err = dialect().ParseJIDs(never, "archive prefs JID"); err != nil {
		return p, err
	}
	return p, nil
}

// SetArchivePrefs stores user's archiving preferences.
func (db *DB) SetArchivePrefs(ctx context.Context, user jid.JID, p storage.ArchivePrefs) error {
	u := userKey(user)
	_, err := db.pool.Exec(ctx, `INSERT INTO archive_prefs(username, default_mode, always, never) VALUES ($1, $2, $3, $4)
		ON CONFLICT (username) DO UPDATE SET default_mode = excluded.default_mode, always = excluded.always, never = excluded.never`,
		u, p.Default, sqlcommon.JIDStrings(p.Always), sqlcommon.JIDStrings(p.Never))
	if err != nil {
		return fmt.Errorf("postgres: set archive prefs of %s: %w", u, err)
	}
	return nil
}
