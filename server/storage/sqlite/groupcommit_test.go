package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// groupFixture opens a database with a scratch table t(k TEXT PRIMARY KEY).
func groupFixture(t *testing.T) *DB {
	t.Helper()
	db := openTemp(t)
	if _, err := db.exec(t.Context(), `CREATE TABLE t(k TEXT PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	return db
}

// holdWriter runs a write transaction that blocks until the returned
// function is called.
func holdWriter(t *testing.T, db *DB) (release func(), done <-chan error) {
	t.Helper()
	started, unblock := make(chan struct{}), make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- db.tx(t.Context(), func(tx *sql.Tx) error {
			close(started)
			<-unblock
			_, err := tx.ExecContext(t.Context(), `INSERT INTO t(k) VALUES ('holder')`)
			return err
		})
	}()
	<-started
	return func() { close(unblock) }, errc
}

// waitQueued waits until n requests are queued.
func waitQueued(t *testing.T, db *DB, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		db.wq.mu.Lock()
		l := len(db.wq.queue)
		db.wq.mu.Unlock()
		if l >= n {
			return
		}
	}
	t.Fatalf("fewer than %d writers queued", n)
}

func keys(t *testing.T, db *DB) map[string]bool {
	t.Helper()
	rows, err := db.r.QueryContext(t.Context(), `SELECT k FROM t`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]bool{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		got[k] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestGroupCommitIsolatesErrors queues writers behind a held transaction
// so that they run as one group: the failing ones lose only their own
// writes, the others are committed, and each gets its own result.
func TestGroupCommitIsolatesErrors(t *testing.T) {
	db := groupFixture(t)
	const n = 20
	errBoom := errors.New("boom")
	release, holder := holdWriter(t, db)
	db.wq.mu.Lock()
	before := db.wq.groups
	db.wq.mu.Unlock()

	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = db.tx(t.Context(), func(tx *sql.Tx) error {
				if _, err := tx.ExecContext(t.Context(), `INSERT INTO t(k) VALUES (?)`, fmt.Sprint(i)); err != nil {
					return err
				}
				if i%3 == 0 {
					return errBoom // after writing: the write must be undone
				}
				if i == 7 {
					// A constraint error inside the group.
					_, err := tx.ExecContext(t.Context(), `INSERT INTO t(k) VALUES ('holder')`)
					return err
				}
				return nil
			})
		})
	}
	waitQueued(t, db, n)
	release()
	if err := <-holder; err != nil {
		t.Fatalf("holder: %v", err)
	}
	wg.Wait()

	got := keys(t, db)
	for i := range n {
		k := fmt.Sprint(i)
		switch {
		case i%3 == 0:
			if !errors.Is(errs[i], errBoom) || got[k] {
				t.Errorf("writer %d: err %v, row present %v; want boom and no row", i, errs[i], got[k])
			}
		case i == 7:
			if errs[i] == nil || got[k] {
				t.Errorf("writer 7: err %v, row present %v; want a constraint error and no row", errs[i], got[k])
			}
		default:
			if errs[i] != nil || !got[k] {
				t.Errorf("writer %d: err %v, row present %v; want committed", i, errs[i], got[k])
			}
		}
	}
	db.wq.mu.Lock()
	groups := db.wq.groups - before
	db.wq.mu.Unlock()
	if groups != 1 {
		t.Errorf("%d queued writers ran in %d groups; want 1", n, groups)
	}
}

// TestGroupCommitBrokenTransaction ends the group's transaction from
// inside one function, as SQLite does after an interrupt or an I/O error:
// that caller gets its error and every other one is still committed.
func TestGroupCommitBrokenTransaction(t *testing.T) {
	db := groupFixture(t)
	const n = 6
	errBoom := errors.New("boom")
	release, holder := holdWriter(t, db)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = db.tx(t.Context(), func(tx *sql.Tx) error {
				if _, err := tx.ExecContext(t.Context(), `INSERT INTO t(k) VALUES (?)`, fmt.Sprint(i)); err != nil {
					return err
				}
				if i == 3 {
					if _, err := tx.ExecContext(t.Context(), `ROLLBACK`); err != nil {
						return err
					}
					return errBoom
				}
				return nil
			})
		})
		waitQueued(t, db, i+1) // a known order: 0, 1, 2 run before 3
	}
	release()
	if err := <-holder; err != nil {
		t.Fatalf("holder: %v", err)
	}
	wg.Wait()
	got := keys(t, db)
	for i := range n {
		k := fmt.Sprint(i)
		if i == 3 {
			if !errors.Is(errs[i], errBoom) || got[k] {
				t.Errorf("writer 3: err %v, row present %v; want boom and no row", errs[i], got[k])
			}
			continue
		}
		if errs[i] != nil || !got[k] {
			t.Errorf("writer %d: err %v, row present %v; want committed", i, errs[i], got[k])
		}
	}
}

// TestGroupCommitCanceledContext: a caller whose context ends while it
// waits gets the context's error and nothing of it is written.
func TestGroupCommitCanceledContext(t *testing.T) {
	db := groupFixture(t)
	release, holder := holdWriter(t, db)
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		errc <- db.tx(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO t(k) VALUES ('canceled')`)
			return err
		})
	}()
	okc := make(chan error, 1)
	go func() {
		waitQueued(t, db, 1)
		okc <- db.tx(t.Context(), func(tx *sql.Tx) error {
			_, err := tx.ExecContext(t.Context(), `INSERT INTO t(k) VALUES ('ok')`)
			return err
		})
	}()
	waitQueued(t, db, 2)
	cancel()
	release()
	if err := <-holder; err != nil {
		t.Fatalf("holder: %v", err)
	}
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("canceled writer: %v; want context.Canceled", err)
	}
	if err := <-okc; err != nil {
		t.Errorf("other writer: %v", err)
	}
	got := keys(t, db)
	if got["canceled"] || !got["ok"] {
		t.Errorf("rows %v; want ok and not canceled", got)
	}
}
