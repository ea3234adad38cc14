package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

var _ storage.Archive = (*DB)(nil)

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

// archiveFilter is the WHERE clause of a query's result set.
type archiveFilter struct {
	where strings.Builder
	args  []any
}

func (f *archiveFilter) add(cond string, args ...any) {
	f.where.WriteString(" AND ")
	f.where.WriteString(cond)
	f.args = append(f.args, args...)
}

// QueryArchive runs q over user's archive in one read transaction.
func (db *DB) QueryArchive(ctx context.Context, user jid.JID, q storage.ArchiveQuery) (storage.ArchivePage, error) {
	u := userKey(user)
	var page storage.ArchivePage
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return page, fmt.Errorf("sqlite: query archive of %s: %w", u, err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only

	seqOf := func(id string) (int64, error) {
		var seq int64
		err := tx.QueryRowContext(ctx, `SELECT seq FROM archive WHERE user = ? AND id = ?`, u, id).Scan(&seq)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, fmt.Errorf("sqlite: query archive of %s: id %q: %w", u, id, storage.ErrNotFound)
		}
		if err != nil {
			return 0, fmt.Errorf("sqlite: query archive of %s: %w", u, err)
		}
		return seq, nil
	}
	f := &archiveFilter{args: []any{u}}
	f.where.WriteString("user = ?")
	switch {
	case q.With.IsZero():
	case q.With.IsBare():
		f.add("with_bare = ?", q.With.String())
	default:
		f.add("with_full = ?", q.With.String())
	}
	if !q.Start.IsZero() {
		f.add("at >= ?", nanos(q.Start))
	}
	if !q.End.IsZero() {
		f.add("at <= ?", nanos(q.End))
	}
	for _, b := range []struct {
		id, op string
	}{{q.AfterID, ">"}, {q.BeforeID, "<"}} {
		if b.id == "" {
			continue
		}
		seq, err := seqOf(b.id)
		if err != nil {
			return page, err
		}
		f.add("seq "+b.op+" ?", seq)
	}
	if len(q.IDs) > 0 {
		marks := strings.TrimSuffix(strings.Repeat("?, ", len(q.IDs)), ", ")
		var found int
		args := []any{u}
		for _, id := range q.IDs {
			args = append(args, id)
		}
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(DISTINCT id) FROM archive WHERE user = ? AND id IN (`+marks+`)`, args...).Scan(&found); err != nil {
			return page, fmt.Errorf("sqlite: query archive of %s: %w", u, err)
		}
		if found != len(uniq(q.IDs)) {
			return page, fmt.Errorf("sqlite: query archive of %s: ids: %w", u, storage.ErrNotFound)
		}
		f.add("id IN ("+marks+")", args[1:]...)
	}
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM archive WHERE `+f.where.String(), f.args...).Scan(&page.Count); err != nil {
		return page, fmt.Errorf("sqlite: count archive of %s: %w", u, err)
	}

	// The page: a further bound, an order and a limit.
	pf := &archiveFilter{args: append([]any(nil), f.args...)}
	pf.where.WriteString(f.where.String())
	order, offset := "ASC", 0
	switch {
	case q.Index >= 0:
		offset = q.Index
	case q.Last:
		order = "DESC"
		if q.Before != "" {
			seq, err := seqOf(q.Before)
			if err != nil {
				return page, err
			}
			pf.add("seq < ?", seq)
		}
	default:
		if q.After != "" {
			seq, err := seqOf(q.After)
			if err != nil {
				return page, err
			}
			pf.add("seq > ?", seq)
		}
	}
	if q.Max > storage.MaxArchivePage {
		q.Max = storage.MaxArchivePage // q+1 below must not overflow
	}
	if q.Max == 0 {
		page.Complete = page.Count == 0
		return page, nil
	}
	limit := -1
	if q.Max > 0 {
		limit = q.Max + 1 // one more tells whether the page is the last
	}
	rows, err := tx.QueryContext(ctx, `SELECT seq, id, with_full, outgoing, at, origin_id, stanza FROM archive WHERE `+
		pf.where.String()+` ORDER BY seq `+order+` LIMIT ? OFFSET ?`, append(pf.args, limit, offset)...)
	if err != nil {
		return page, fmt.Errorf("sqlite: query archive of %s: %w", u, err)
	}
	defer rows.Close()
	var seqs []int64
	for rows.Next() {
		var (
			m    storage.ArchivedMessage
			seq  int64
			with string
			at   int64
		)
		if err := rows.Scan(&seq, &m.ID, &with, &m.Outgoing, &at, &m.OriginID, &m.Stanza); err != nil {
			return page, fmt.Errorf("sqlite: query archive of %s: %w", u, err)
		}
		if m.With, err = parseJID(with, "archive 'with'"); err != nil {
			return page, err
		}
		m.At = fromNanos(at)
		page.Messages = append(page.Messages, m)
		seqs = append(seqs, seq)
	}
	if err := rows.Err(); err != nil {
		return page, fmt.Errorf("sqlite: query archive of %s: %w", u, err)
	}
	seqs, countFirst := storage.FinishArchivePage(&page, seqs, q, order == "DESC")
	if !countFirst {
		return page, nil
	}
	firstSeq := seqs[0]
	args := append(append([]any(nil), f.args...), firstSeq)
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM archive WHERE `+f.where.String()+` AND seq < ?`, args...).Scan(&page.FirstIndex); err != nil {
		return page, fmt.Errorf("sqlite: query archive of %s: %w", u, err)
	}
	return page, nil
}

func uniq(ids []string) map[string]bool {
	m := make(map[string]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	return m
}

// ArchiveBounds returns the first and last messages of user's archive.
func (db *DB) ArchiveBounds(ctx context.Context, user jid.JID) (first, last storage.ArchivedMessage, ok bool, err error) {
	u := userKey(user)
	one := func(order string) (storage.ArchivedMessage, error) {
		var (
			m    storage.ArchivedMessage
			with string
			at   int64
		)
		err := db.r.QueryRowContext(ctx, `SELECT id, with_full, outgoing, at, origin_id FROM archive WHERE user = ? ORDER BY seq `+order+` LIMIT 1`, u).
			Scan(&m.ID, &with, &m.Outgoing, &at, &m.OriginID)
		if err != nil {
			return m, err
		}
		m.At = fromNanos(at)
		m.With, err = parseJID(with, "archive 'with'")
		return m, err
	}
	first, err = one("ASC")
	if errors.Is(err, sql.ErrNoRows) {
		return first, last, false, nil
	}
	if err != nil {
		return first, last, false, fmt.Errorf("sqlite: archive bounds of %s: %w", u, err)
	}
	last, err = one("DESC")
	if err != nil {
		return first, last, false, fmt.Errorf("sqlite: archive bounds of %s: %w", u, err)
	}
	return first, last, true, nil
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
	if p.Always, err = splitJIDs(always); err != nil {
		return p, err
	}
	if p.Never, err = splitJIDs(never); err != nil {
		return p, err
	}
	return p, nil
}

// SetArchivePrefs stores user's archiving preferences.
func (db *DB) SetArchivePrefs(ctx context.Context, user jid.JID, p storage.ArchivePrefs) error {
	u := userKey(user)
	_, err := db.exec(ctx, `INSERT INTO archive_prefs(user, default_mode, always, never) VALUES (?, ?, ?, ?)
		ON CONFLICT(user) DO UPDATE SET default_mode = excluded.default_mode, always = excluded.always, never = excluded.never`,
		u, p.Default, joinJIDs(p.Always), joinJIDs(p.Never))
	if err != nil {
		return fmt.Errorf("sqlite: set archive prefs of %s: %w", u, err)
	}
	return nil
}

// joinJIDs and splitJIDs store a JID list as lines (a JID has no newline).
func joinJIDs(js []jid.JID) string {
	s := make([]string, len(js))
	for i, j := range js {
		s[i] = j.String()
	}
	return strings.Join(s, "\n")
}

func splitJIDs(s string) ([]jid.JID, error) {
	if s == "" {
		return nil, nil
	}
	var out []jid.JID
	for _, line := range strings.Split(s, "\n") {
		j, err := parseJID(line, "archive prefs JID")
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, nil
}
