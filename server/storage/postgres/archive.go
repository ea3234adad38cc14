package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

var _ storage.Archive = (*DB)(nil)

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

// archiveFilter builds the WHERE clause of a query with numbered
// parameters.
type archiveFilter struct {
	where string
	args  []any
}

func (f archiveFilter) with(cond string, arg any) archiveFilter {
	args := append(slices.Clip(f.args), arg)
	return archiveFilter{
		where: f.where + " AND " + strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))),
		args:  args,
	}
}

// QueryArchive runs q over user's archive in one snapshot.
func (db *DB) QueryArchive(ctx context.Context, user jid.JID, q storage.ArchiveQuery) (storage.ArchivePage, error) {
	u := userKey(user)
	var page storage.ArchivePage
	err := db.txOpts(ctx, snapshot(), func(tx pgx.Tx) error {
		var err error
		page, err = queryArchive(ctx, tx, u, q)
		return err
	})
	return page, err
}

func queryArchive(ctx context.Context, tx pgx.Tx, u string, q storage.ArchiveQuery) (storage.ArchivePage, error) {
	var page storage.ArchivePage
	seqOf := func(id string) (int64, error) {
		var seq int64
		err := tx.QueryRow(ctx, `SELECT seq FROM archive WHERE username = $1 AND id = $2`, u, id).Scan(&seq)
		if errors.Is(err, pgx.ErrNoRows) {
			return 0, fmt.Errorf("postgres: query archive of %s: id %q: %w", u, id, storage.ErrNotFound)
		}
		if err != nil {
			return 0, fmt.Errorf("postgres: query archive of %s: %w", u, err)
		}
		return seq, nil
	}
	f := archiveFilter{where: "username = $1", args: []any{u}}
	switch {
	case q.With.IsZero():
	case q.With.IsBare():
		f = f.with("with_bare = ?", q.With.String())
	default:
		f = f.with("with_full = ?", q.With.String())
	}
	if !q.Start.IsZero() {
		f = f.with("at >= ?", nanos(q.Start))
	}
	if !q.End.IsZero() {
		f = f.with("at <= ?", nanos(q.End))
	}
	for _, b := range []struct{ id, op string }{{q.AfterID, ">"}, {q.BeforeID, "<"}} {
		if b.id == "" {
			continue
		}
		seq, err := seqOf(b.id)
		if err != nil {
			return page, err
		}
		f = f.with("seq "+b.op+" ?", seq)
	}
	if len(q.IDs) > 0 {
		ids := slices.Compact(slices.Sorted(slices.Values(q.IDs)))
		var found int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM archive WHERE username = $1 AND id = ANY($2)`, u, ids).Scan(&found); err != nil {
			return page, fmt.Errorf("postgres: query archive of %s: %w", u, err)
		}
		if found != len(ids) {
			return page, fmt.Errorf("postgres: query archive of %s: ids: %w", u, storage.ErrNotFound)
		}
		f = f.with("id = ANY(?)", ids)
	}
	if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM archive WHERE `+f.where, f.args...).Scan(&page.Count); err != nil {
		return page, fmt.Errorf("postgres: count archive of %s: %w", u, err)
	}

	pf := f
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
			pf = pf.with("seq < ?", seq)
		}
	default:
		if q.After != "" {
			seq, err := seqOf(q.After)
			if err != nil {
				return page, err
			}
			pf = pf.with("seq > ?", seq)
		}
	}
	if q.Max > storage.MaxArchivePage {
		q.Max = storage.MaxArchivePage // q+1 below must not overflow
	}
	if q.Max == 0 {
		page.Complete = page.Count == 0
		return page, nil
	}
	sqlText := `SELECT seq, id, with_full, outgoing, at, origin_id, stanza FROM archive WHERE ` + pf.where + ` ORDER BY seq ` + order
	args := slices.Clip(pf.args)
	if q.Max > 0 {
		args = append(args, q.Max+1) // one more tells whether the page is the last
		sqlText += " LIMIT $" + strconv.Itoa(len(args))
	}
	args = append(args, offset)
	sqlText += " OFFSET $" + strconv.Itoa(len(args))
	rows, err := tx.Query(ctx, sqlText, args...)
	if err != nil {
		return page, fmt.Errorf("postgres: query archive of %s: %w", u, err)
	}
	var seqs []int64
	for rows.Next() {
		var (
			m    storage.ArchivedMessage
			seq  int64
			with string
			at   int64
		)
		if err := rows.Scan(&seq, &m.ID, &with, &m.Outgoing, &at, &m.OriginID, &m.Stanza); err != nil {
			rows.Close()
			return page, fmt.Errorf("postgres: query archive of %s: %w", u, err)
		}
		if m.With, err = parseJID(with, "archive 'with'"); err != nil {
			rows.Close()
			return page, err
		}
		m.At = fromNanos(at)
		page.Messages = append(page.Messages, m)
		seqs = append(seqs, seq)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return page, fmt.Errorf("postgres: query archive of %s: %w", u, err)
	}
	seqs, countFirst := storage.FinishArchivePage(&page, seqs, q, order == "DESC")
	if !countFirst {
		return page, nil
	}
	cf := f.with("seq < ?", seqs[0])
	if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM archive WHERE `+cf.where, cf.args...).Scan(&page.FirstIndex); err != nil {
		return page, fmt.Errorf("postgres: query archive of %s: %w", u, err)
	}
	return page, nil
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
		err := db.pool.QueryRow(ctx, `SELECT id, with_full, outgoing, at, origin_id FROM archive WHERE username = $1 ORDER BY seq `+order+` LIMIT 1`, u).
			Scan(&m.ID, &with, &m.Outgoing, &at, &m.OriginID)
		if err != nil {
			return m, err
		}
		m.At = fromNanos(at)
		m.With, err = parseJID(with, "archive 'with'")
		return m, err
	}
	first, err = one("ASC")
	if errors.Is(err, pgx.ErrNoRows) {
		return first, last, false, nil
	}
	if err != nil {
		return first, last, false, fmt.Errorf("postgres: archive bounds of %s: %w", u, err)
	}
	if last, err = one("DESC"); err != nil {
		return first, last, false, fmt.Errorf("postgres: archive bounds of %s: %w", u, err)
	}
	return first, last, true, nil
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
	for _, l := range []struct {
		in  []string
		out *[]jid.JID
	}{{always, &p.Always}, {never, &p.Never}} {
		for _, s := range l.in {
			j, err := parseJID(s, "archive prefs JID")
			if err != nil {
				return p, err
			}
			*l.out = append(*l.out, j)
		}
	}
	return p, nil
}

// SetArchivePrefs stores user's archiving preferences.
func (db *DB) SetArchivePrefs(ctx context.Context, user jid.JID, p storage.ArchivePrefs) error {
	u := userKey(user)
	strs := func(js []jid.JID) []string {
		out := make([]string, len(js))
		for i, j := range js {
			out[i] = j.String()
		}
		return out
	}
	_, err := db.pool.Exec(ctx, `INSERT INTO archive_prefs(username, default_mode, always, never) VALUES ($1, $2, $3, $4)
		ON CONFLICT (username) DO UPDATE SET default_mode = excluded.default_mode, always = excluded.always, never = excluded.never`,
		u, p.Default, strs(p.Always), strs(p.Never))
	if err != nil {
		return fmt.Errorf("postgres: set archive prefs of %s: %w", u, err)
	}
	return nil
}
