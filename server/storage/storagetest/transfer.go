package storagetest

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
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

// lister returns the backend's storage.Lister, failing the test if the
// backend does not implement it on its Accounts store.
func lister(t *testing.T, s storage.Stores) storage.Lister {
	t.Helper()
	l, ok := s.Accounts.(storage.Lister)
	if !ok {
		t.Fatalf("%T does not implement storage.Lister", s.Accounts)
	}
	return l
}

var transferTests = []subtest{
	{"PubSubServices", func(t *testing.T, s storage.Stores) {
		ctx := t.Context()
		l := lister(t, s)
		svcs, err := l.PubSubServices(ctx)
		noErr(t, "PubSubServices none", err)
		if len(svcs) != 0 {
			t.Fatalf("PubSubServices of empty stores = %v", svcs)
		}
		create(t, s, alice)
		create(t, s, unicode)
		service := jid.MustParse("pubsub.example.org")
		for _, n := range []storage.PubSubNode{
			{Service: service, Node: "b"}, {Service: service, Node: "a"},
			{Service: alice, Node: "urn:xmpp:avatar:metadata"}, {Service: unicode, Node: "x"},
			{Service: bob, Node: "gone"},
		} {
			noErr(t, "CreateNode", s.PubSub.CreateNode(ctx, n))
		}
		noErr(t, "DeleteNode", s.PubSub.DeleteNode(ctx, bob, "gone"))
		svcs, err = l.PubSubServices(ctx)
		noErr(t, "PubSubServices", err)
		got := make([]string, len(svcs))
		for i, j := range svcs {
			got[i] = j.String()
		}
		want := []string{alice.String(), "pubsub.example.org", unicode.String()}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("PubSubServices = %q, want %q", got, want)
		}
		// Deleting an account removes its PEP service.
		noErr(t, "DeleteAccount", s.Accounts.DeleteAccount(ctx, unicode))
		svcs, err = l.PubSubServices(ctx)
		noErr(t, "PubSubServices after delete", err)
		if len(svcs) != 2 {
			t.Fatalf("PubSubServices after deleting %s = %v", unicode, svcs)
		}
	}},
	{"FastClients", func(t *testing.T, s storage.Stores) {
		ctx := t.Context()
		l := lister(t, s)
		create(t, s, alice)
		create(t, s, bob)
		clients, err := l.FastClients(ctx, alice)
		noErr(t, "FastClients none", err)
		if len(clients) != 0 {
			t.Fatalf("FastClients of new account = %q", clients)
		}
		tok := func(b byte) storage.FastToken {
			return storage.FastToken{ID: bytes.Repeat([]byte{b}, 16), Key: []byte{b}, Mechanism: "HT-SHA-256-NONE", Expiry: time.Now().Add(time.Hour)}
		}
		noErr(t, "PutFastToken", s.Fast.PutFastToken(ctx, alice, "zz-client", tok(1)))
		noErr(t, "PutFastToken", s.Fast.PutFastToken(ctx, alice, "a-client ✓", tok(2)))
		noErr(t, "UseFastToken", s.Fast.UseFastToken(ctx, alice, "a-client ✓", tok(2).ID, 0))
		noErr(t, "PutFastToken", s.Fast.PutFastToken(ctx, alice, "a-client ✓", tok(3)))
		noErr(t, "PutFastToken bob", s.Fast.PutFastToken(ctx, bob, "b", tok(4)))
		clients, err = l.FastClients(ctx, alice)
		noErr(t, "FastClients", err)
		if want := []string{"a-client ✓", "zz-client"}; !slices.Equal(clients, want) {
			t.Fatalf("FastClients = %q, want %q", clients, want)
		}
		noErr(t, "DeleteFastTokens", s.Fast.DeleteFastTokens(ctx, alice))
		if clients, _ = l.FastClients(ctx, alice); len(clients) != 0 {
			t.Fatalf("FastClients after DeleteFastTokens = %q", clients)
		}
	}},
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
