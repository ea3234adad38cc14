package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"sync"
)

// maxGroup bounds how many callers' functions share one transaction.
const maxGroup = 128

// writeReq is one caller of [DB.tx] waiting in the write queue.
type writeReq struct {
	ctx context.Context
	fn  func(tx *sql.Tx) error
	// alone, when set in place of fn, runs by itself outside any
	// transaction, while no write runs (DB.alone).
	alone func() error
	err   error
	lead  bool          // set when the request is woken to lead the next group
	done  chan struct{} // one signal: the result is in err, or lead is set
}

// writeQueue is the group commit of the writer connection: concurrent
// write transactions wait in queue; one caller at a time (the leader) takes
// everything queued, runs it in one transaction and commits once.
type writeQueue struct {
	mu      sync.Mutex
	queue   []*writeReq
	running bool   // a leader is running a group
	groups  uint64 // groups run so far (for tests)
	reqs    sync.Pool
	stmts   sync.Map // query -> *sql.Stmt prepared on the writer (exec)
	// The savepoint statements of a group, prepared on the writer.
	savepoint, rollbackTo, release *sql.Stmt
}

// tx runs fn in a write transaction on the writer connection, committing
// if fn returns nil and rolling back what fn did otherwise. fn must use
// only tx: the writer has a single connection.
//
// Concurrent calls are committed together (group commit): the first caller
// to find the writer idle leads, running up to maxGroup queued functions in
// one BEGIN IMMEDIATE transaction, each inside its own SAVEPOINT so that an
// error rolls back only that caller's work, then commits once and wakes the
// others with their results; a waiting caller then takes over for the next
// group. Every caller returns only after its own data is committed (or with
// the error that kept it from being committed), as with one transaction
// each: nothing acknowledged can be lost. Should the group's transaction
// itself fail (an interrupted statement or an I/O error rolls back all of
// it), the callers still pending are rerun one transaction each.
func (db *DB) tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	if db.outer != nil {
		return db.inOuter(ctx, fn)
	}
	return db.enqueue(ctx, fn, nil)
}

// alone runs fn while the writer is held: after the writes queued before
// it are committed and before those queued after it begin, outside any
// transaction. The background checkpointer's last checkpoint before the
// WAL starts over runs so (checkpoint.go): no commit may append frames
// between it and the writer's next transaction.
func (db *DB) alone(ctx context.Context, fn func() error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	return db.enqueue(ctx, nil, fn)
}

// enqueue waits in the write queue for fn (or alone) to run, leading
// groups when its turn comes.
func (db *DB) enqueue(ctx context.Context, fn func(tx *sql.Tx) error, alone func() error) error {
	q := &db.wq
	req, _ := q.reqs.Get().(*writeReq)
	if req == nil {
		req = &writeReq{done: make(chan struct{}, 1)}
	}
	req.ctx, req.fn, req.alone = ctx, fn, alone
	q.mu.Lock()
	q.queue = append(q.queue, req)
	lead := !q.running
	q.running = true
	q.mu.Unlock()
	if !lead {
		<-req.done
		lead = req.lead
	}
	if lead {
		db.lead()
	}
	err := req.err
	*req = writeReq{done: req.done}
	q.reqs.Put(req)
	return err
}

// lead runs one group: the queue's head (the leader's own request) and
// whatever is queued behind it. It then hands the writer to the next
// waiting caller, or marks it idle.
func (db *DB) lead() {
	// Let the goroutines that are ready to run (often the callers the last
	// group just released, about to write again) join this group: on a
	// single P they would otherwise only run after it, and every group
	// would hold one caller.
	runtime.Gosched()
	q := &db.wq
	q.mu.Lock()
	n := min(len(q.queue), maxGroup)
	// A request that runs alone is a group of its own.
	for i, r := range q.queue[:n] {
		if r.alone != nil {
			n = max(i, 1)
			break
		}
	}
	group := make([]*writeReq, n)
	copy(group, q.queue)
	rest := copy(q.queue, q.queue[n:])
	clear(q.queue[rest:])
	q.queue = q.queue[:rest]
	q.groups++
	q.mu.Unlock()

	db.runGroup(group)
	// group[0] is the leader's own request: its caller reads err itself.
	for _, r := range group[1:] {
		r.done <- struct{}{}
	}

	q.mu.Lock()
	if len(q.queue) == 0 {
		q.running = false
		q.mu.Unlock()
		return
	}
	next := q.queue[0]
	q.mu.Unlock()
	next.lead = true
	next.done <- struct{}{}
}

// runGroup runs the functions of group in one transaction and sets each
// request's err.
func (db *DB) runGroup(group []*writeReq) {
	if r := group[0]; r.alone != nil {
		r.err = r.alone()
		return
	}
	if len(group) == 1 {
		group[0].err = db.runOne(group[0])
		return
	}
	q := &db.wq
	bg := context.Background()
	tx, err := db.w.BeginTx(bg, nil)
	if err != nil {
		for _, r := range group {
			r.err = fmt.Errorf("sqlite: begin: %w", err)
		}
		return
	}
	ran := make([]bool, len(group)) // fn ran and its savepoint was released
	broken := false
	for i, r := range group {
		if err := r.ctx.Err(); err != nil {
			r.err = fmt.Errorf("sqlite: begin: %w", err)
			continue
		}
		if _, err := tx.StmtContext(bg, q.savepoint).ExecContext(bg); err != nil {
			broken = true
			break
		}
		if r.err = r.fn(tx); r.err != nil {
			if _, err := tx.StmtContext(bg, q.rollbackTo).ExecContext(bg); err != nil {
				// The whole transaction is gone (SQLite rolls it all back
				// after an interrupt or an I/O error): r's error stands,
				// the others are rerun alone below.
				broken = true
				break
			}
		}
		if _, err := tx.StmtContext(bg, q.release).ExecContext(bg); err != nil {
			if r.err == nil {
				r.err = fmt.Errorf("sqlite: release savepoint: %w", err)
				ran[i] = true // rerun below: nothing of it was committed
			}
			broken = true
			break
		}
		ran[i] = r.err == nil
	}
	if !broken {
		if err := tx.Commit(); err != nil {
			for i, r := range group {
				if ran[i] {
					r.err = fmt.Errorf("sqlite: commit: %w", err)
				}
			}
		}
		return
	}
	_ = tx.Rollback()
	for i, r := range group {
		if ran[i] || r.err == nil {
			r.err = db.runOne(r)
		}
	}
}

// runOne runs one request in its own transaction.
func (db *DB) runOne(r *writeReq) error {
	if err := r.ctx.Err(); err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	tx, err := db.w.BeginTx(context.Background(), nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	if err := r.fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	return nil
}

// exec runs one statement as a write transaction of its own, through the
// group commit. The statement is prepared once on the writer connection
// and reused: parsing it again costs as much as running it.
func (db *DB) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if db.outer != nil {
		var res sql.Result
		err := db.inOuter(ctx, func(tx *sql.Tx) error {
			var err error
			res, err = tx.ExecContext(ctx, query, args...)
			return err
		})
		return res, err
	}
	st, err := db.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	var res sql.Result
	err = db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		res, err = tx.StmtContext(ctx, st).ExecContext(ctx, args...)
		return err
	})
	return res, err
}

// prepared returns query prepared on the writer connection. It must not
// be called inside a transaction of the writer, whose only connection the
// transaction holds.
func (db *DB) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := db.wq.stmts.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := db.w.PrepareContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("sqlite: prepare: %w", err)
	}
	if prev, loaded := db.wq.stmts.LoadOrStore(query, st); loaded {
		_ = st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// closeStmts closes the statements prepared on the writer.
func (q *writeQueue) closeStmts() error {
	var errs []error
	q.stmts.Range(func(k, v any) bool {
		errs = append(errs, v.(*sql.Stmt).Close())
		q.stmts.Delete(k)
		return true
	})
	return errors.Join(errs...)
}

// prepare prepares the savepoint statements of the groups on w.
func (q *writeQueue) prepare(ctx context.Context, w *sql.DB) error {
	for _, p := range []struct {
		st    **sql.Stmt
		query string
	}{{&q.savepoint, `SAVEPOINT grp`}, {&q.rollbackTo, `ROLLBACK TO grp`}, {&q.release, `RELEASE grp`}} {
		st, err := w.PrepareContext(ctx, p.query)
		if err != nil {
			return fmt.Errorf("sqlite: prepare %s: %w", p.query, err)
		}
		*p.st = st
		q.stmts.Store(p.query, st) // closed with the others
	}
	return nil
}
