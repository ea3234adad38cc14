package sqlcommon

import (
	"context"
	"fmt"
	"slices"

	"github.com/parley-xmpp/parley/server/storage"
)

// ArchiveColumns are the columns ScanArchived reads, in its order.
const ArchiveColumns = "seq, id, with_full, outgoing, at, origin_id, stanza"

// ScanArchived reads a row of ArchiveColumns: the archive position and
// the message. Scan's own error is returned as it is.
func (d Dialect) ScanArchived(row Row) (int64, storage.ArchivedMessage, error) {
	var (
		m    storage.ArchivedMessage
		seq  int64
		with string
		at   int64
	)
	if err := row.Scan(&seq, &m.ID, &with, &m.Outgoing, &at, &m.OriginID, &m.Stanza); err != nil {
		return 0, m, err
	}
	var err error
	m.With, err = d.ParseJID(with, "archive 'with'")
	m.At = FromNanos(at)
	return seq, m, err
}

// QueryArchive runs q over the archive of user u (its UserKey) with q
// running the statements; the caller gives it one snapshot (a read
// transaction) so that the count and the page agree.
func (d Dialect) QueryArchive(ctx context.Context, db Querier, u string, q storage.ArchiveQuery) (storage.ArchivePage, error) {
	var page storage.ArchivePage
	fail := func(what string, err error) (storage.ArchivePage, error) {
		return page, fmt.Errorf("%s: %s archive of %s: %w", d.Name, what, u, err)
	}
	seqOf := func(id string) (int64, error) {
		var seq int64
		err := db.QueryRow(ctx, `SELECT seq FROM archive WHERE `+d.UserColumn+` = `+d.Placeholder(1)+` AND id = `+d.Placeholder(2), u, id).Scan(&seq)
		if db.NoRows(err) {
			return 0, fmt.Errorf("%s: query archive of %s: id %q: %w", d.Name, u, id, storage.ErrNotFound)
		}
		if err != nil {
			return 0, fmt.Errorf("%s: query archive of %s: %w", d.Name, u, err)
		}
		return seq, nil
	}
	f := d.Where(d.UserColumn+" = ?", u)
	switch {
	case q.With.IsZero():
	case q.With.IsBare():
		f = f.And("with_bare = ?", q.With.String())
	default:
		f = f.And("with_full = ?", q.With.String())
	}
	if !q.Start.IsZero() {
		f = f.And("at >= ?", Nanos(q.Start))
	}
	if !q.End.IsZero() {
		f = f.And("at <= ?", Nanos(q.End))
	}
	for _, b := range []struct{ id, op string }{{q.AfterID, ">"}, {q.BeforeID, "<"}} {
		if b.id == "" {
			continue
		}
		seq, err := seqOf(b.id)
		if err != nil {
			return page, err
		}
		f = f.And("seq "+b.op+" ?", seq)
	}
	if len(q.IDs) > 0 {
		ids := slices.Compact(slices.Sorted(slices.Values(q.IDs)))
		in, args := d.In("id", ids)
		idf := d.Where(d.UserColumn+" = ?", u).And(in, args...)
		var found int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM archive WHERE `+idf.SQL(), idf.Args()...).Scan(&found); err != nil {
			return fail("query", err)
		}
		if found != len(ids) {
			return fail("query", fmt.Errorf("ids: %w", storage.ErrNotFound))
		}
		f = f.And(in, args...)
	}
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM archive WHERE `+f.SQL(), f.Args()...).Scan(&page.Count); err != nil {
		return fail("count", err)
	}

	// The page: a further bound, an order and a limit.
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
			pf = pf.And("seq < ?", seq)
		}
	default:
		if q.After != "" {
			seq, err := seqOf(q.After)
			if err != nil {
				return page, err
			}
			pf = pf.And("seq > ?", seq)
		}
	}
	if q.Max > storage.MaxArchivePage {
		q.Max = storage.MaxArchivePage // q+1 below must not overflow
	}
	if q.Max == 0 {
		page.Complete = page.Count == 0
		return page, nil
	}
	text := `SELECT ` + ArchiveColumns + ` FROM archive WHERE ` + pf.SQL() + ` ORDER BY seq ` + order
	args := pf.Args()
	switch {
	case q.Max > 0:
		args = append(args, q.Max+1) // one more tells whether the page is the last
		text += " LIMIT " + d.Placeholder(len(args))
	case !d.NullLimit:
		text += " LIMIT -1" // SQLite's OFFSET needs a LIMIT
	}
	args = append(args, offset)
	text += " OFFSET " + d.Placeholder(len(args))
	seqs, err := d.readArchivePage(ctx, db, text, args, &page)
	if err != nil {
		return fail("query", err)
	}
	seqs, countFirst := storage.FinishArchivePage(&page, seqs, q, order == "DESC")
	if !countFirst {
		return page, nil
	}
	cf := f.And("seq < ?", seqs[0])
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM archive WHERE `+cf.SQL(), cf.Args()...).Scan(&page.FirstIndex); err != nil {
		return fail("query", err)
	}
	return page, nil
}

// readArchivePage appends the messages of the query to page and returns
// their seqs.
func (d Dialect) readArchivePage(ctx context.Context, db Querier, text string, args []any, page *storage.ArchivePage) ([]int64, error) {
	rows, err := db.Query(ctx, text, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var seqs []int64
	for rows.Next() {
		seq, m, err := d.ScanArchived(rows)
		if err != nil {
			return nil, err
		}
		page.Messages = append(page.Messages, m)
		seqs = append(seqs, seq)
	}
	return seqs, rows.Err()
}

// ArchiveBounds returns the first and last messages of u's archive
// (Stanza left empty); ok is false for an empty archive.
func (d Dialect) ArchiveBounds(ctx context.Context, db Querier, u string) (first, last storage.ArchivedMessage, ok bool, err error) {
	one := func(order string) (storage.ArchivedMessage, error) {
		var (
			m    storage.ArchivedMessage
			with string
			at   int64
		)
		err := db.QueryRow(ctx, `SELECT id, with_full, outgoing, at, origin_id FROM archive WHERE `+d.UserColumn+` = `+d.Placeholder(1)+` ORDER BY seq `+order+` LIMIT 1`, u).
			Scan(&m.ID, &with, &m.Outgoing, &at, &m.OriginID)
		if err != nil {
			return m, err
		}
		m.At = FromNanos(at)
		m.With, err = d.ParseJID(with, "archive 'with'")
		return m, err
	}
	first, err = one("ASC")
	if db.NoRows(err) {
		return first, last, false, nil
	}
	if err == nil {
		last, err = one("DESC")
	}
	if err != nil {
		return first, last, false, fmt.Errorf("%s: archive bounds of %s: %w", d.Name, u, err)
	}
	return first, last, true, nil
}
