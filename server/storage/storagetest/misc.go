package storagetest

import (
	"bytes"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

var vcardTests = []subtest{
	{"SetGetDelete", func(t *testing.T, s storage.Stores) {
		ctx := t.Context()
		create(t, s, alice)
		create(t, s, bob)
		_, err := s.VCards.VCard(ctx, alice)
		wantErr(t, "VCard none", err, storage.ErrNotFound)
		v1 := []byte(`<vCard xmlns="vcard-temp"><FN>Alice Ünïcødé</FN></vCard>`)
		noErr(t, "SetVCard", s.VCards.SetVCard(ctx, alice, v1))
		got, err := s.VCards.VCard(ctx, alice)
		noErr(t, "VCard", err)
		if !bytes.Equal(got, v1) {
			t.Fatalf("VCard = %q, want %q", got, v1)
		}
		_, err = s.VCards.VCard(ctx, bob)
		wantErr(t, "VCard of other user", err, storage.ErrNotFound)
		v2 := []byte(`<vCard xmlns="vcard-temp"><FN>A.</FN></vCard>`)
		noErr(t, "SetVCard replace", s.VCards.SetVCard(ctx, alice, v2))
		if got, _ := s.VCards.VCard(ctx, alice); !bytes.Equal(got, v2) {
			t.Fatalf("VCard after replace = %q, want %q", got, v2)
		}
		noErr(t, "SetVCard empty", s.VCards.SetVCard(ctx, alice, nil))
		_, err = s.VCards.VCard(ctx, alice)
		wantErr(t, "VCard after delete", err, storage.ErrNotFound)
		noErr(t, "SetVCard empty again", s.VCards.SetVCard(ctx, alice, []byte{}))
	}},
}

var privateTests = []subtest{
	{"KeyedByUserAndKey", func(t *testing.T, s storage.Stores) {
		ctx := t.Context()
		create(t, s, alice)
		create(t, s, bob)
		const k1, k2 = "storage:bookmarks storage", "jabber:iq:private exodus"
		_, err := s.Private.PrivateXML(ctx, alice, k1)
		wantErr(t, "PrivateXML none", err, storage.ErrNotFound)
		a1 := []byte(`<storage xmlns="storage:bookmarks"><conference jid="café@conf.example"/></storage>`)
		a2 := []byte(`<exodus xmlns="jabber:iq:private"/>`)
		b1 := []byte(`<storage xmlns="storage:bookmarks"/>`)
		noErr(t, "SetPrivateXML", s.Private.SetPrivateXML(ctx, alice, k1, a1))
		noErr(t, "SetPrivateXML", s.Private.SetPrivateXML(ctx, alice, k2, a2))
		noErr(t, "SetPrivateXML", s.Private.SetPrivateXML(ctx, bob, k1, b1))
		for _, c := range []struct {
			user jid.JID
			key  string
			want []byte
		}{{alice, k1, a1}, {alice, k2, a2}, {bob, k1, b1}} {
			got, err := s.Private.PrivateXML(ctx, c.user, c.key)
			noErr(t, "PrivateXML", err)
			if !bytes.Equal(got, c.want) {
				t.Fatalf("PrivateXML(%s, %q) = %q, want %q", c.user, c.key, got, c.want)
			}
		}
		_, err = s.Private.PrivateXML(ctx, bob, k2)
		wantErr(t, "PrivateXML(bob, k2)", err, storage.ErrNotFound)
		a1b := []byte(`<storage xmlns="storage:bookmarks"/>`)
		noErr(t, "SetPrivateXML replace", s.Private.SetPrivateXML(ctx, alice, k1, a1b))
		if got, _ := s.Private.PrivateXML(ctx, alice, k1); !bytes.Equal(got, a1b) {
			t.Fatalf("after replace = %q, want %q", got, a1b)
		}
		if got, _ := s.Private.PrivateXML(ctx, bob, k1); !bytes.Equal(got, b1) {
			t.Fatal("replacing alice's element changed bob's")
		}
	}},
}

var blockingTests = []subtest{
	{"BlockUnblock", func(t *testing.T, s storage.Stores) {
		ctx := t.Context()
		create(t, s, alice)
		create(t, s, bob)
		list := func(u jid.JID) []string {
			t.Helper()
			l, err := s.Blocking.BlockList(ctx, u)
			noErr(t, "BlockList", err)
			return jidStrings(l)
		}
		if l := list(alice); len(l) != 0 {
			t.Fatalf("initial BlockList = %v, want empty", l)
		}
		domain := jid.MustParse("spam.example")
		full := jid.MustParse("romeo@montague.lit/balcony")
		noErr(t, "Block", s.Blocking.Block(ctx, alice, []jid.JID{romeo, domain, unicode, full}))
		noErr(t, "Block duplicates", s.Blocking.Block(ctx, alice, []jid.JID{romeo, carol, carol}))
		want := jidStrings([]jid.JID{romeo, domain, unicode, full, carol})
		sort.Strings(want)
		if got := list(alice); !slices.Equal(got, want) {
			t.Fatalf("BlockList = %v, want %v (sorted, no duplicates, full/domain JIDs kept)", got, want)
		}
		if l := list(bob); len(l) != 0 {
			t.Fatalf("bob's BlockList = %v, want empty", l)
		}
		noErr(t, "Block(bob)", s.Blocking.Block(ctx, bob, []jid.JID{carol}))
		noErr(t, "Unblock", s.Blocking.Unblock(ctx, alice, []jid.JID{romeo, greek}))
		want = slices.DeleteFunc(want, func(s string) bool { return s == romeo.String() })
		if got := list(alice); !slices.Equal(got, want) {
			t.Fatalf("after Unblock: %v, want %v", got, want)
		}
		noErr(t, "Unblock all", s.Blocking.Unblock(ctx, alice, nil))
		if l := list(alice); len(l) != 0 {
			t.Fatalf("after Unblock all: %v, want empty", l)
		}
		if l := list(bob); !slices.Equal(l, []string{carol.String()}) {
			t.Fatalf("Unblock all for alice changed bob's list: %v", l)
		}
	}},
}

var lastTests = []subtest{
	{"SetGet", func(t *testing.T, s storage.Stores) {
		ctx := t.Context()
		create(t, s, alice)
		_, _, err := s.Last.LastActivity(ctx, alice)
		wantErr(t, "LastActivity none", err, storage.ErrNotFound)
		loc := time.FixedZone("UTC+2", 2*3600)
		at := time.Date(2025, 1, 2, 3, 4, 5, 6789, loc)
		noErr(t, "SetLastActivity", s.Last.SetLastActivity(ctx, alice, at, "Gone fishing 🎣"))
		got, status, err := s.Last.LastActivity(ctx, alice)
		noErr(t, "LastActivity", err)
		if !got.Equal(at) || status != "Gone fishing 🎣" {
			t.Fatalf("LastActivity = %v %q, want %v %q", got, status, at, "Gone fishing 🎣")
		}
		at2 := at.Add(time.Hour)
		noErr(t, "SetLastActivity replace", s.Last.SetLastActivity(ctx, alice, at2, ""))
		got, status, _ = s.Last.LastActivity(ctx, alice)
		if !got.Equal(at2) || status != "" {
			t.Fatalf("after replace = %v %q, want %v \"\"", got, status, at2)
		}
		_, _, err = s.Last.LastActivity(ctx, bob)
		wantErr(t, "LastActivity(bob)", err, storage.ErrNotFound)
	}},
}

var deleteTests = []subtest{
	{"Cascades", func(t *testing.T, s storage.Stores) {
		ctx := t.Context()
		for _, u := range []jid.JID{alice, bob} {
			create(t, s, u)
			_, err := s.Roster.PutRosterItem(ctx, u, storage.RosterItem{Contact: carol, Name: "C"})
			noErr(t, "PutRosterItem", err)
			noErr(t, "AddSubscriptionRequest", s.Roster.AddSubscriptionRequest(ctx, u,
				storage.SubscriptionRequest{From: romeo, Stanza: []byte("<presence/>"), At: time.Now()}))
			noErr(t, "StoreOffline", s.Offline.StoreOffline(ctx, u, []byte("<message/>"), 0))
			noErr(t, "SetVCard", s.VCards.SetVCard(ctx, u, []byte("<vCard/>")))
			noErr(t, "SetPrivateXML", s.Private.SetPrivateXML(ctx, u, "a b", []byte("<b xmlns='a'/>")))
			noErr(t, "Block", s.Blocking.Block(ctx, u, []jid.JID{juliet}))
			noErr(t, "SetLastActivity", s.Last.SetLastActivity(ctx, u, time.Now(), "bye"))
		}
		noErr(t, "DeleteAccount", s.Accounts.DeleteAccount(ctx, alice))

		if ok, _ := s.Accounts.AccountExists(ctx, alice); ok {
			t.Fatal("account still exists")
		}
		_, err := s.Accounts.Keys(ctx, alice)
		wantErr(t, "Keys", err, storage.ErrNotFound)
		if items, _, err := s.Roster.RosterItems(ctx, alice); err != nil || len(items) != 0 {
			t.Fatalf("roster after delete = %v, %v", items, err)
		}
		_, err = s.Roster.RosterItem(ctx, alice, carol)
		wantErr(t, "RosterItem", err, storage.ErrNotFound)
		if reqs, err := s.Roster.SubscriptionRequests(ctx, alice); err != nil || len(reqs) != 0 {
			t.Fatalf("subscription requests after delete = %v, %v", reqs, err)
		}
		if n, err := s.Offline.OfflineCount(ctx, alice); err != nil || n != 0 {
			t.Fatalf("offline count after delete = %d, %v", n, err)
		}
		if msgs, err := s.Offline.OfflineMessages(ctx, alice); err != nil || len(msgs) != 0 {
			t.Fatalf("offline messages after delete = %v, %v", msgs, err)
		}
		_, err = s.VCards.VCard(ctx, alice)
		wantErr(t, "VCard", err, storage.ErrNotFound)
		_, err = s.Private.PrivateXML(ctx, alice, "a b")
		wantErr(t, "PrivateXML", err, storage.ErrNotFound)
		if l, err := s.Blocking.BlockList(ctx, alice); err != nil || len(l) != 0 {
			t.Fatalf("block list after delete = %v, %v", l, err)
		}
		_, _, err = s.Last.LastActivity(ctx, alice)
		wantErr(t, "LastActivity", err, storage.ErrNotFound)

		// bob keeps everything.
		if ok, _ := s.Accounts.AccountExists(ctx, bob); !ok {
			t.Fatal("bob's account deleted")
		}
		if items, _, _ := s.Roster.RosterItems(ctx, bob); len(items) != 1 {
			t.Fatal("bob's roster deleted")
		}
		if reqs, _ := s.Roster.SubscriptionRequests(ctx, bob); len(reqs) != 1 {
			t.Fatal("bob's subscription requests deleted")
		}
		if n, _ := s.Offline.OfflineCount(ctx, bob); n != 1 {
			t.Fatal("bob's offline messages deleted")
		}
		if _, err := s.VCards.VCard(ctx, bob); err != nil {
			t.Fatal("bob's vCard deleted")
		}
		if _, err := s.Private.PrivateXML(ctx, bob, "a b"); err != nil {
			t.Fatal("bob's private XML deleted")
		}
		if l, _ := s.Blocking.BlockList(ctx, bob); len(l) != 1 {
			t.Fatal("bob's block list deleted")
		}
		if _, _, err := s.Last.LastActivity(ctx, bob); err != nil {
			t.Fatal("bob's last activity deleted")
		}

		// The account can be created again, starting empty.
		create(t, s, alice)
		if n, _ := s.Offline.OfflineCount(ctx, alice); n != 0 {
			t.Fatal("recreated account inherited offline messages")
		}
		wantErr(t, "DeleteAccount twice", s.Accounts.DeleteAccount(ctx, carol), storage.ErrNotFound)
	}},
}
