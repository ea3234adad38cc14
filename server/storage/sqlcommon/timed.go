package sqlcommon

import (
	"context"
	"time"
)

// Op is a kind of storage work a Timer times.
type Op uint8

// The kinds of storage work timed.
const (
	// OpQuery is a read of one statement, until its rows are read.
	OpQuery Op = iota
	// OpExec is a write of one statement.
	OpExec
	// OpTx is a transaction of several writes, commit included.
	OpTx
	// OpSnapshot is a read-only transaction of several reads.
	OpSnapshot
)

// Timer records how long the shared stores' storage work takes (the
// server's metrics).
type Timer interface {
	// TimeStorage records that work of kind op took d.
	TimeStorage(op Op, d time.Duration)
}

// timed returns c with every statement and transaction the shared stores
// run timed by m: the one seam all shared SQL goes through. A read is timed until its rows are
// closed; the statements inside a transaction count as the transaction.
func (c Conns) timed(m Timer) Conns {
	if m == nil {
		return c
	}
	c.Const = timedQuerier{c.Const, m}
	c.Built = timedQuerier{c.Built, m}
	c.W = timedExecer{c.W, m}
	if tx := c.Tx; tx != nil {
		c.Tx = func(ctx context.Context, fn func(tx Tx) error) error {
			defer observe(m, OpTx, time.Now())
			return tx(ctx, fn)
		}
	}
	if snap := c.Snap; snap != nil {
		c.Snap = func(ctx context.Context, fn func(q Querier) error) error {
			defer observe(m, OpSnapshot, time.Now())
			return snap(ctx, fn)
		}
	}
	return c
}

func observe(m Timer, op Op, start time.Time) {
	m.TimeStorage(op, time.Since(start))
}

type timedQuerier struct {
	Querier
	m Timer
}

func (q timedQuerier) QueryRow(ctx context.Context, sql string, args ...any) Row {
	return timedRow{q.Querier.QueryRow(ctx, sql, args...), q.m, time.Now()}
}

func (q timedQuerier) Query(ctx context.Context, sql string, args ...any) (Rows, error) {
	start := time.Now()
	rows, err := q.Querier.Query(ctx, sql, args...)
	if err != nil {
		observe(q.m, OpQuery, start)
		return rows, err
	}
	return &timedRows{Rows: rows, m: q.m, start: start}, nil
}

// timedRow times a one-row read until its row is scanned: drivers may
// run the query lazily, on Scan.
type timedRow struct {
	Row
	m     Timer
	start time.Time
}

func (r timedRow) Scan(dest ...any) error {
	defer observe(r.m, OpQuery, r.start)
	return r.Row.Scan(dest...)
}

type timedRows struct {
	Rows
	m      Timer
	start  time.Time
	closed bool
}

func (r *timedRows) Close() {
	r.Rows.Close()
	if !r.closed {
		r.closed = true
		observe(r.m, OpQuery, r.start)
	}
}

type timedExecer struct {
	Execer
	m Timer
}

func (e timedExecer) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	defer observe(e.m, OpExec, time.Now())
	return e.Execer.Exec(ctx, sql, args...)
}
