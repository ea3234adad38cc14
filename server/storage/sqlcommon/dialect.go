package sqlcommon

import (
	"context"
	"slices"
	"strconv"
	"strings"
)

// Dialect is what the shared SQL needs to know of a backend.
type Dialect struct {
	// Name prefixes error messages ("sqlite", "postgres").
	Name string
	// Numbered placeholders: '$1, $2, …' instead of '?'.
	Numbered bool
	// UserColumn names the column holding the owner's bare JID ("user"
	// in SQLite, "username" in PostgreSQL where user is reserved).
	UserColumn string
	// Arrays: the backend takes a []string argument for "col = ANY(?)"
	// and stores lists (roster groups, the JIDs of archive preferences)
	// in array columns; otherwise a list is written as "col IN (?, ?, …)"
	// and stored as text (JSON, or one JID a line).
	Arrays bool
	// NullLimit: LIMIT NULL means "no limit" (PostgreSQL); otherwise it
	// is LIMIT -1 (SQLite).
	NullLimit bool
	// UserLocks: writers run concurrently (a connection pool), so those
	// that read before they write take row locks (ForUpdate) or per-user
	// advisory locks (LockUser). Without it one writer connection
	// serialises every write (SQLite).
	UserLocks bool
	// Sequences: the dialect numbers rows by sequences (nextval) where
	// SQLite takes one more than the largest.
	Sequences bool
	// RowID is the implicit column that orders a table's rows as they
	// were inserted ("rowid" in SQLite); empty where tables have explicit
	// order columns instead (PostgreSQL), see InsertOrder.
	RowID string
	// OctetLength is the function giving the size in bytes of a byte
	// column ("LENGTH" in SQLite, "octet_length" in PostgreSQL); {len} in
	// a statement stands for it.
	OctetLength string
	// OneRowInserts: a batch of archived messages is inserted one
	// prepared single-row statement a message (SQLite) rather than many
	// rows a statement. A statement that may write several rows and fail
	// half-way keeps a statement journal of what it changed, which SQLite
	// spills to a temporary file past 64 KiB (an open, writes and a close
	// for every statement of a batch); a single-row statement keeps none,
	// and where statements run in-process their count costs little.
	OneRowInserts bool
}

// InsertOrder is the column that orders a table's rows as inserted: the
// dialect's RowID, or col, the table's own order column, without one.
func (d Dialect) InsertOrder(col string) string {
	if d.RowID != "" {
		return d.RowID
	}
	return col
}

// Execer runs statements that change rows, and returns how many rows
// they changed; each backend adapts its write path to it.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (int64, error)
}

// Rows is a result set being read.
type Rows interface {
	Row
	Next() bool
	Err() error
	Close()
}

// Querier runs read queries, in a transaction or not; each backend adapts
// its driver to it.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) Row
	Query(ctx context.Context, sql string, args ...any) (Rows, error)
	// NoRows reports whether err is the driver's "no rows" error.
	NoRows(err error) bool
}

// Filter is a WHERE clause and its arguments, written with '?' and
// renumbered for the dialect as conditions are added. A Filter is a
// value: And returns a new one and leaves the receiver as it was.
type Filter struct {
	d     Dialect
	where string
	args  []any
}

// Where starts a filter with cond.
func (d Dialect) Where(cond string, args ...any) Filter {
	return Filter{d: d}.add("", cond, args)
}

// And returns f with cond added.
func (f Filter) And(cond string, args ...any) Filter {
	return f.add(" AND ", cond, args)
}

func (f Filter) add(sep, cond string, args []any) Filter {
	out := Filter{d: f.d, args: append(slices.Clip(f.args), args...)}
	out.where = f.where + sep + f.d.bind(cond, len(f.args))
	return out
}

// SQL is the text of the clause.
func (f Filter) SQL() string { return f.where }

// Args are its arguments, in the order of the placeholders; appending to
// the result does not change f.
func (f Filter) Args() []any { return slices.Clip(f.args) }

// Placeholder is the mark of the n-th argument (from 1).
func (d Dialect) Placeholder(n int) string {
	if d.Numbered {
		return "$" + strconv.Itoa(n)
	}
	return "?"
}

// bind renumbers the '?' of cond for the dialect, the first one being
// argument after+1.
func (d Dialect) bind(cond string, after int) string {
	if !d.Numbered || !strings.Contains(cond, "?") {
		return cond
	}
	var b strings.Builder
	for i, part := range strings.Split(cond, "?") {
		if i > 0 {
			b.WriteString(d.Placeholder(after + i))
		}
		b.WriteString(part)
	}
	return b.String()
}

// SQL writes text, a statement with '?' placeholders, the owner's
// column written {user} and the byte length function {len}, in the
// dialect.
func (d Dialect) SQL(text string) string {
	text = strings.ReplaceAll(text, "{user}", d.UserColumn)
	if strings.Contains(text, "{len}") {
		text = strings.ReplaceAll(text, "{len}", d.OctetLength)
	}
	return d.bind(text, 0)
}

// LimitArg is the argument of "LIMIT ?" that takes n rows, or every row
// when n <= 0.
func (d Dialect) LimitArg(n int) any {
	switch {
	case n > 0:
		return n
	case d.NullLimit:
		return nil
	}
	return -1
}

// Collect reads every row of a query with scan.
func Collect[T any](ctx context.Context, db Querier, scan func(Row) (T, error), text string, args ...any) ([]T, error) {
	rows, err := db.Query(ctx, text, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// In is the condition "col is one of vals" and its arguments.
func (d Dialect) In(col string, vals []string) (string, []any) {
	if d.Arrays {
		return col + " = ANY(?)", []any{vals}
	}
	args := make([]any, len(vals))
	for i, v := range vals {
		args[i] = v
	}
	return col + " IN (" + strings.TrimSuffix(strings.Repeat("?, ", len(vals)), ", ") + ")", args
}
