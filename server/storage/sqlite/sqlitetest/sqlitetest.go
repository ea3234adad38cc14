// Package sqlitetest helps tests hold back the writes of a SQLite store
// (server/storage/sqlite).
package sqlitetest

import (
	"database/sql"
	"sync"
	"testing"

	// The driver the store uses.
	_ "modernc.org/sqlite"
)

// HoldWriter takes SQLite's write lock of the database file at path from
// a connection of its own, as another process would: the store's writes
// (its commits) then wait for it, up to the store's busy timeout (10 s),
// while its reads go on. The returned function releases the lock; it may
// be called more than once, and is called when the test ends.
func HoldWriter(t testing.TB, path string) (release func()) {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_txlock=immediate")
	if err != nil {
		t.Fatalf("sqlitetest: opening %s: %v", path, err)
	}
	tx, err := db.Begin()
	if err != nil {
		db.Close()
		t.Fatalf("sqlitetest: taking the write lock of %s: %v", path, err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			tx.Rollback()
			db.Close()
		})
	}
	t.Cleanup(release)
	return release
}
