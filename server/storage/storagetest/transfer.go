package storagetest

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/storage"
)

// importer returns the backend's storage.Importer, failing the test if the
// backend does not implement it on its Accounts store.
func importer(t *testing.T, s storage.Stores) storage.Importer {
	t.Helper()
	im, ok := s.Accounts.(storage.Importer)
	if !ok {
		t.Fatalf("%T does not implement storage.Importer", s.Accounts)
	}
	return im
}

var transferTests = []subtest{
	{"PrivateKeys", func(t *testing.T, s storage.Stores) {
		ctx := t.Context()
		create(t, s, alice)
		create(t, s, bob)
		keys, err := s.Private.PrivateKeys(ctx, alice)
		noErr(t, "PrivateKeys none", err)
		if len(keys) != 0 {
			t.Fatalf("PrivateKeys of new account = %q, want none", keys)
		}
		for _, k := range []string{"z:ns z", "storage:bookmarks storage", "jabber:iq:private ëxodus"} {
			noErr(t, "SetPrivateXML", s.Private.SetPrivateXML(ctx, alice, k, []byte("<x/>")))
		}
		noErr(t, "SetPrivateXML bob", s.Private.SetPrivateXML(ctx, bob, "b b", []byte("<b/>")))
		noErr(t, "SetPrivateXML replace", s.Private.SetPrivateXML(ctx, alice, "z:ns z", []byte("<y/>")))
		keys, err = s.Private.PrivateKeys(ctx, alice)
		noErr(t, "PrivateKeys", err)
		if want := []string{"jabber:iq:private ëxodus", "storage:bookmarks storage", "z:ns z"}; !slices.Equal(keys, want) {
			t.Fatalf("PrivateKeys = %q, want %q", keys, want)
		}
	}},
	{"SetRosterVersion", func(t *testing.T, s storage.Stores) {
		ctx := t.Context()
		im := importer(t, s)
		create(t, s, alice)
		if _, err := s.Roster.PutRosterItem(ctx, alice, storage.RosterItem{Contact: bob}); err != nil {
			t.Fatal(err)
		}
		noErr(t, "SetRosterVersion", im.SetRosterVersion(ctx, alice, 41))
		if _, ver, err := s.Roster.RosterItems(ctx, alice); err != nil || ver != 41 {
			t.Fatalf("version after SetRosterVersion(41) = %d, %v", ver, err)
		}
		if ver, err := s.Roster.PutRosterItem(ctx, alice, storage.RosterItem{Contact: carol}); err != nil || ver != 42 {
			t.Fatalf("version after next put = %d, %v; want 42", ver, err)
		}
		// A roster never written gets its version too.
		noErr(t, "SetRosterVersion new", im.SetRosterVersion(ctx, bob, 7))
		if _, ver, _ := s.Roster.RosterItems(ctx, bob); ver != 7 {
			t.Fatalf("version of bob = %d, want 7", ver)
		}
	}},
	{"ImportOffline", func(t *testing.T, s storage.Stores) {
		ctx := t.Context()
		im := importer(t, s)
		create(t, s, alice)
		noErr(t, "StoreOffline", s.Offline.StoreOffline(ctx, alice, []byte("<message>first</message>"), 0))
		t0 := time.Date(2021, 3, 4, 5, 6, 7, 123456789, time.UTC)
		msgs := []storage.OfflineMessage{
			{ID: 99, Stanza: []byte("<message>b</message>"), At: t0.Add(time.Hour)},
			{ID: 1, Stanza: []byte("<message>a ✓</message>"), At: t0},
			{ID: 5, Stanza: []byte("<message>c</message>"), At: t0.Add(time.Minute)},
		}
		noErr(t, "ImportOffline", im.ImportOffline(ctx, alice, msgs))
		got, err := s.Offline.OfflineMessages(ctx, alice)
		noErr(t, "OfflineMessages", err)
		if len(got) != 4 {
			t.Fatalf("got %d messages, want 4", len(got))
		}
		for i, m := range msgs {
			g := got[i+1]
			if !bytes.Equal(g.Stanza, m.Stanza) || !g.At.Equal(m.At) {
				t.Fatalf("message %d = %q at %v, want %q at %v", i, g.Stanza, g.At, m.Stanza, m.At)
			}
		}
		// No quota on import, but the quota still applies afterwards.
		err = s.Offline.StoreOffline(ctx, alice, []byte("<message/>"), 4)
		wantErr(t, "StoreOffline over quota after import", err, storage.ErrQuota)
		noErr(t, "ImportOffline none", im.ImportOffline(ctx, alice, nil))
	}},
}
