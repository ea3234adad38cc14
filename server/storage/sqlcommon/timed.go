package sqlcommon

import (
	"context"
	"time"

	"github.com/parley-xmpp/parley/server/metrics"
)

// timed returns c with every statement and transaction the shared stores
// run timed into m (parley_storage_operation_duration_seconds): the one
// seam all shared SQL goes through. A read is timed until its rows are
// closed; the statements inside a transaction count as the transaction.
func (c Conns) timed(m *metrics.Metrics) Conns {
	if m == nil {
		return c
	}
	c.Const = timedQuerier{c.Const, m}
	c.Built = timedQuerier{c.Built, m}
	c.W = timedExecer{c.W, m}
	if tx := c.Tx; tx != nil {
		c.Tx = func(ctx context.Context, fn func(tx Tx) error) error {
			defer observe(m, metrics.StorageTx, time.Now())
			return tx(ctx, fn)
		}
	}
	if snap := c.Snap; snap != nil {
		c.Snap = func(ctx context.Context, fn func(q Querier) error) error {
			defer observe(m, metrics.StorageSnapshot, time.Now())
			return snap(ctx, fn)
		}
	}
	return c
}

func observe(m *metrics.Metrics, op metrics.StorageOp, start time.Time) {
	m.Storage(op, time.Since(start))
}

type timedQuerier struct {
	Querier
	m *metrics.Metrics
}

func (q timedQuerier) QueryRow(ctx context.Context, sql string, args ...any) Row {
	return timedRow{q.Querier.QueryRow(ctx, sql, args...), q.m, time.Now()}
}

func (q timedQuerier) Query(ctx context.Context, sql string, args ...any) (Rows, error) {
	start := time.Now()
	rows, err := q.Querier.Query(ctx, sql, args...)
	if err != nil {
		observe(q.m, metrics.StorageQuery, start)
		return rows, err
	}
	return &timedRows{Rows: rows, m: q.m, start: start}, nil
}

// timedRow times a one-row read until its row is scanned: drivers may
// run the query lazily, on Scan.
type timedRow struct {
	Row
	m     *metrics.Metrics
	start time.Time
}

func (r timedRow) Scan(dest ...any) error {
	defer observe(r.m, metrics.StorageQuery, r.start)
	return r.Row.Scan(dest...)
}

type timedRows struct {
	Rows
	m      *metrics.Metrics
	start  time.Time
	closed bool
}

func (r *timedRows) Close() {
	r.Rows.Close()
	if !r.closed {
		r.closed = true
		observe(r.m, metrics.StorageQuery, r.start)
	}
}

type timedExecer struct {
	Execer
	m *metrics.Metrics
}

func (e timedExecer) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	defer observe(e.m, metrics.StorageExec, time.Now())
	return e.Execer.Exec(ctx, sql, args...)
}
