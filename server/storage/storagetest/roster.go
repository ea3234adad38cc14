package storagetest

import (
	"bytes"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// normItem makes nil and empty group lists compare equal.
func normItem(it storage.RosterItem) storage.RosterItem {
	if len(it.Groups) == 0 {
		it.Groups = nil
	}
	return it
}

func sameItem(a, b storage.RosterItem) bool { return reflect.DeepEqual(normItem(a), normItem(b)) }

var rosterTests = []subtest{
	{"Empty", func(t *testing.T, s storage.Stores) {
		create(t, s, alice)
		items, ver, err := s.Roster.RosterItems(t.Context(), alice)
		noErr(t, "RosterItems", err)
		if len(items) != 0 || ver != 0 {
			t.Fatalf("RosterItems of new account = %v, %d; want none, 0", items, ver)
		}
		_, err = s.Roster.RosterItem(t.Context(), alice, bob)
		wantErr(t, "RosterItem absent", err, storage.ErrNotFound)
		_, err = s.Roster.DeleteRosterItem(t.Context(), alice, bob)
		wantErr(t, "DeleteRosterItem absent", err, storage.ErrNotFound)
		if _, ver, _ := s.Roster.RosterItems(t.Context(), alice); ver != 0 {
			t.Fatalf("failed delete changed the version to %d", ver)
		}
	}},
	{"PutGetSorted", func(t *testing.T, s storage.Stores) {
		ctx := t.Context()
		create(t, s, alice)
		want := []storage.RosterItem{
			{Contact: romeo, Name: "Romeo", Groups: []string{"Friends", "Верона"}, Subscription: storage.SubBoth},
			{Contact: bob, Subscription: storage.SubTo, AskOut: false},
			{Contact: unicode, Name: "Jürgen ✓", Subscription: storage.SubFrom, PreApproved: true},
			{Contact: carol, Name: "", Subscription: storage.SubNone, AskOut: true, Groups: []string{"b", "a"}},
		}
		for _, it := range want {
			if _, err := s.Roster.PutRosterItem(ctx, alice, it); err != nil {
				t.Fatalf("PutRosterItem(%s): %v", it.Contact, err)
			}
		}
		items, ver, err := s.Roster.RosterItems(ctx, alice)
		noErr(t, "RosterItems", err)
		if ver <= 0 {
			t.Fatalf("version after 4 puts = %d, want > 0", ver)
		}
		if !slices.IsSortedFunc(items, func(a, b storage.RosterItem) int {
			return strings.Compare(a.Contact.String(), b.Contact.String())
		}) {
			t.Fatalf("RosterItems not sorted by contact: %v", items)
		}
		if len(items) != len(want) {
			t.Fatalf("RosterItems returned %d items, want %d", len(items), len(want))
		}
		for _, w := range want {
			got, err := s.Roster.RosterItem(ctx, alice, w.Contact)
			noErr(t, "RosterItem", err)
			if !sameItem(got, w) {
				t.Fatalf("RosterItem(%s) = %+v, want %+v", w.Contact, got, w)
			}
			i := slices.IndexFunc(items, func(it storage.RosterItem) bool { return it.Contact == w.Contact })
			if i < 0 || !sameItem(items[i], w) {
				t.Fatalf("RosterItems lacks %+v: %+v", w, items)
			}
		}
		// Group order is preserved.
		got, _ := s.Roster.RosterItem(ctx, alice, carol)
		if !slices.Equal(got.Groups, []string{"b", "a"}) {
			t.Fatalf("groups = %q, want [b a] in order", got.Groups)
		}
	}},
	{"Replace", func(t *testing.T, s storage.Stores) {
		ctx := t.Context()
		create(t, s, alice)
		_, err := s.Roster.PutRosterItem(ctx, alice, storage.RosterItem{Contact: bob, Name: "Bob", Groups: []string{"x"}})
		noErr(t, "PutRosterItem", err)
		repl := storage.RosterItem{Contact: bob, Name: "Robert", Subscription: storage.SubBoth}
		_, err = s.Roster.PutRosterItem(ctx, alice, repl)
		noErr(t, "PutRosterItem replace", err)
		items, _, err := s.Roster.RosterItems(ctx, alice)
		noErr(t, "RosterItems", err)
		if len(items) != 1 || !sameItem(items[0], repl) {
			t.Fatalf("RosterItems after replace = %+v, want [%+v]", items, repl)
		}
	}},
	{"VersionMonotonic", func(t *testing.T, s storage.Stores) {
		ctx := t.Context()
		create(t, s, alice)
		create(t, s, bob)
		var last int64
		step := func(what string, v int64, err error) {
			t.Helper()
			noErr(t, what, err)
			if v <= last {
				t.Fatalf("%s: version %d not greater than previous %d", what, v, last)
			}
			_, cur, err := s.Roster.RosterItems(ctx, alice)
			noErr(t, "RosterItems", err)
			if cur != v {
				t.Fatalf("%s: RosterItems version %d, returned version %d", what, cur, v)
			}
			last = v
		}
		v, err := s.Roster.PutRosterItem(ctx, alice, storage.RosterItem{Contact: bob})
		step("put bob", v, err)
		v, err = s.Roster.PutRosterItem(ctx, alice, storage.RosterItem{Contact: carol})
		step("put carol", v, err)
		v, err = s.Roster.PutRosterItem(ctx, alice, storage.RosterItem{Contact: bob, Name: "again"})
		step("replace bob", v, err)
		v, err = s.Roster.DeleteRosterItem(ctx, alice, bob)
		step("delete bob", v, err)
		v, err = s.Roster.DeleteRosterItem(ctx, alice, carol)
		step("delete carol", v, err)
		v, err = s.Roster.PutRosterItem(ctx, alice, storage.RosterItem{Contact: bob})
		step("put bob again", v, err)

		// Versions are per user: bob's roster is untouched.
		if _, bv, err := s.Roster.RosterItems(ctx, bob); err != nil || bv != 0 {
			t.Fatalf("bob's roster version = %d, %v; want 0", bv, err)
		}
		_, err = s.Roster.DeleteRosterItem(ctx, alice, carol)
		wantErr(t, "delete absent", err, storage.ErrNotFound)
		if _, cur, _ := s.Roster.RosterItems(ctx, alice); cur != last {
			t.Fatalf("failed delete changed version %d -> %d", last, cur)
		}
	}},
	{"Delete", func(t *testing.T, s storage.Stores) {
		ctx := t.Context()
		create(t, s, alice)
		for _, c := range []jid.JID{bob, carol} {
			_, err := s.Roster.PutRosterItem(ctx, alice, storage.RosterItem{Contact: c})
			noErr(t, "PutRosterItem", err)
		}
		_, err := s.Roster.DeleteRosterItem(ctx, alice, bob)
		noErr(t, "DeleteRosterItem", err)
		_, err = s.Roster.RosterItem(ctx, alice, bob)
		wantErr(t, "RosterItem deleted", err, storage.ErrNotFound)
		items, _, _ := s.Roster.RosterItems(ctx, alice)
		if len(items) != 1 || items[0].Contact != carol {
			t.Fatalf("RosterItems after delete = %+v, want only carol", items)
		}
	}},
	{"PerUser", func(t *testing.T, s storage.Stores) {
		ctx := t.Context()
		create(t, s, alice)
		create(t, s, bob)
		_, err := s.Roster.PutRosterItem(ctx, alice, storage.RosterItem{Contact: carol, Name: "A's Carol"})
		noErr(t, "put", err)
		_, err = s.Roster.PutRosterItem(ctx, bob, storage.RosterItem{Contact: carol, Name: "B's Carol"})
		noErr(t, "put", err)
		a, _ := s.Roster.RosterItem(ctx, alice, carol)
		b, _ := s.Roster.RosterItem(ctx, bob, carol)
		if a.Name != "A's Carol" || b.Name != "B's Carol" {
			t.Fatalf("rosters not separated per user: %q, %q", a.Name, b.Name)
		}
		_, err = s.Roster.DeleteRosterItem(ctx, alice, carol)
		noErr(t, "delete", err)
		if _, err := s.Roster.RosterItem(ctx, bob, carol); err != nil {
			t.Fatalf("deleting alice's item removed bob's: %v", err)
		}
	}},
	{"SubscriptionRequests", func(t *testing.T, s storage.Stores) {
		ctx := t.Context()
		create(t, s, alice)
		t0 := time.Date(2024, 5, 1, 12, 0, 0, 123456789, time.UTC)
		reqs := []storage.SubscriptionRequest{
			{From: romeo, Stanza: []byte(`<presence type="subscribe" from="romeo@montague.lit"/>`), At: t0.Add(2 * time.Second)},
			{From: unicode, Stanza: []byte(`<presence type="subscribe"><status>grüß</status></presence>`), At: t0},
			{From: bob, Stanza: []byte(`<presence type="subscribe" from="bob@example.org"/>`), At: t0.Add(time.Second)},
		}
		for _, r := range reqs {
			noErr(t, "AddSubscriptionRequest", s.Roster.AddSubscriptionRequest(ctx, alice, r))
		}
		got, err := s.Roster.SubscriptionRequests(ctx, alice)
		noErr(t, "SubscriptionRequests", err)
		wantOrder := []jid.JID{unicode, bob, romeo}
		if len(got) != 3 {
			t.Fatalf("SubscriptionRequests = %d requests, want 3", len(got))
		}
		for i, w := range wantOrder {
			if got[i].From != w {
				t.Fatalf("request %d from %s, want %s (oldest first)", i, got[i].From, w)
			}
			j := slices.IndexFunc(reqs, func(r storage.SubscriptionRequest) bool { return r.From == w })
			if !bytes.Equal(got[i].Stanza, reqs[j].Stanza) || !got[i].At.Equal(reqs[j].At) {
				t.Fatalf("request from %s = %q at %v, want %q at %v", w, got[i].Stanza, got[i].At, reqs[j].Stanza, reqs[j].At)
			}
		}
		// Replacing keeps one request per requester.
		repl := storage.SubscriptionRequest{From: bob, Stanza: []byte(`<presence type="subscribe"><status>again</status></presence>`), At: t0.Add(time.Hour)}
		noErr(t, "AddSubscriptionRequest replace", s.Roster.AddSubscriptionRequest(ctx, alice, repl))
		got, _ = s.Roster.SubscriptionRequests(ctx, alice)
		if len(got) != 3 {
			t.Fatalf("after replace: %d requests, want 3", len(got))
		}
		i := slices.IndexFunc(got, func(r storage.SubscriptionRequest) bool { return r.From == bob })
		if !bytes.Equal(got[i].Stanza, repl.Stanza) {
			t.Fatalf("replaced request stanza = %q, want %q", got[i].Stanza, repl.Stanza)
		}
		noErr(t, "DeleteSubscriptionRequest", s.Roster.DeleteSubscriptionRequest(ctx, alice, bob))
		noErr(t, "DeleteSubscriptionRequest absent", s.Roster.DeleteSubscriptionRequest(ctx, alice, bob))
		noErr(t, "DeleteSubscriptionRequest never", s.Roster.DeleteSubscriptionRequest(ctx, alice, greek))
		got, _ = s.Roster.SubscriptionRequests(ctx, alice)
		if len(got) != 2 || got[0].From != unicode || got[1].From != romeo {
			t.Fatalf("after delete: %v", got)
		}
		// Requests are per user.
		other, err := s.Roster.SubscriptionRequests(ctx, bob)
		noErr(t, "SubscriptionRequests(bob)", err)
		if len(other) != 0 {
			t.Fatalf("bob has alice's requests: %v", other)
		}
	}},
}
