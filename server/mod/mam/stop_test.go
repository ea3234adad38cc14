package mam

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/archive"
	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/server/storage/sqlite"
	"github.com/parley-xmpp/parley/server/storage/sqlite/sqlitetest"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// TestStopDrainsQueue queues a message while the store cannot write
// (SQLite's write lock held by another connection, released a little
// later): queuing returns at once, and Stop returns only once the message
// is committed, so that it is archived before storage closes.
func TestStopDrainsQueue(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	db, err := sqlite.Open(t.Context(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	m := New(Options{}).(*Module)
	m.host = fakeHost{stores: module.FeatureStores(db.Stores()), now: now}
	m.store, m.log = db, m.host.Logger()
	m.writer = archive.NewWriter("mam", db, m.log, storage.Quota{})

	release := sqlitetest.HoldWriter(t, path)
	alice, bob := jid.MustParse("alice@localhost"), jid.MustParse("bob@localhost")
	e := m.writer.Prepare(alice, storage.ArchivedMessage{ID: "m1", With: bob, Outgoing: true},
		stanza.NewMessage(stanza.TypeChat, bob.String(), "in flight"), now)
	if !m.append(t.Context(), e) {
		t.Fatal("the message was not queued")
	}
	released := make(chan struct{})
	time.AfterFunc(300*time.Millisecond, func() {
		close(released)
		release()
	})
	if err := m.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-released:
	default:
		t.Fatal("Stop returned while the store could not commit the queued message")
	}
	page, err := db.QueryArchive(t.Context(), alice, storage.ArchiveQuery{Index: -1, Max: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Messages) != 1 || page.Messages[0].ID != "m1" {
		t.Fatalf("archive after Stop: %+v, want the queued message", page.Messages)
	}
}
