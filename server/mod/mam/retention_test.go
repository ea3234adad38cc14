package mam

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/server/storage/sqlite"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// fakeHost is the part of module.Host the purge uses.
type fakeHost struct {
	module.Host
	stores module.Stores
	now    time.Time
}

func (h fakeHost) Stores() module.Stores { return h.stores }
func (h fakeHost) Now() time.Time        { return h.now }
func (h fakeHost) Logger() *slog.Logger  { return slog.New(slog.DiscardHandler) }

func TestRetentionPurge(t *testing.T) {
	db, err := sqlite.Open(t.Context(), t.TempDir()+"/db", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	alice := jid.MustParse("alice@localhost")
	for i, age := range []time.Duration{100 * 24 * time.Hour, 31 * 24 * time.Hour, 29 * 24 * time.Hour, time.Hour} {
		err := db.AppendArchive(t.Context(), alice, storage.ArchivedMessage{
			ID: fmt.Sprint(i), With: jid.MustParse("bob@localhost"), At: now.Add(-age), Stanza: []byte("<message/>"),
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	m := New(Options{Retention: 30 * 24 * time.Hour}).(*Module)
	m.host = fakeHost{stores: module.FeatureStores(db.Stores()), now: now}
	m.store, m.log = db, m.host.Logger()
	m.purge(t.Context())
	page, err := db.QueryArchive(t.Context(), alice, storage.ArchiveQuery{Index: -1, Max: -1})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Messages) != 2 || page.Messages[0].ID != "2" {
		t.Fatalf("after purge: %+v", page.Messages)
	}
}

func TestArchivable(t *testing.T) {
	for _, c := range []struct {
		m    *stanza.Element
		want bool
	}{
		{stanza.NewMessage("chat", "a@b", "hi"), true},
		{stanza.NewMessage("", "a@b", "hi"), true},
		{stanza.NewMessage("chat", "a@b", ""), false},
		{stanza.NewMessage("headline", "a@b", "hi"), false},
		{stanza.NewMessage("groupchat", "a@b", "hi"), false},
		{stanza.NewMessage("error", "a@b", "hi"), false},
		{stanza.NewMessage("chat", "a@b", "").Append(stanza.New(nsHints, "store")), true},
		{stanza.NewMessage("chat", "a@b", "hi").Append(stanza.New(nsHints, "no-store")), false},
		{stanza.NewMessage("chat", "a@b", "hi").Append(stanza.New(nsHints, "no-permanent-store")), false},
	} {
		if got := archivable(c.m); got != c.want {
			t.Errorf("archivable(%s) = %v, want %v", c.m, got, c.want)
		}
	}
}
