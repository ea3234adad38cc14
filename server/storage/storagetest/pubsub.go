package storagetest

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

var pubsubSvc = jid.MustParse("pubsub.example.org")

// itemIDs returns the ids of items in order.
func itemIDs(items []storage.PubSubItem) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	return out
}

func putItem(t *testing.T, s storage.Stores, svc jid.JID, node, id string, max int) {
	t.Helper()
	it := storage.PubSubItem{ID: id, Publisher: alice, Payload: []byte("<p xmlns='urn:t'>" + id + "</p>"),
		Published: time.Unix(1700000000, 0).UTC()}
	noErr(t, "PutItem "+id, s.PubSub.PutItem(t.Context(), svc, node, it, max))
}

var pubsubTests = []subtest{
	{"NodeLifecycle", func(t *testing.T, s storage.Stores) {
		ctx := t.Context()
		cfg := map[string][]string{"pubsub#access_model": {"open"}, "pubsub#roster_groups_allowed": {"a", "b"}}
		created := time.Unix(1700000000, 123000).UTC()
		noErr(t, "CreateNode", s.PubSub.CreateNode(ctx, storage.PubSubNode{Service: pubsubSvc, Node: "n2", Config: cfg, Created: created}))
		noErr(t, "CreateNode other", s.PubSub.CreateNode(ctx, storage.PubSubNode{Service: pubsubSvc, Node: "n1"}))
		noErr(t, "CreateNode other service", s.PubSub.CreateNode(ctx, storage.PubSubNode{Service: unicode, Node: "n2"}))
		wantErr(t, "CreateNode twice", s.PubSub.CreateNode(ctx, storage.PubSubNode{Service: pubsubSvc, Node: "n2"}), storage.ErrExists)
		n, err := s.PubSub.PubSubNode(ctx, pubsubSvc, "n2")
		noErr(t, "PubSubNode", err)
		if !n.Created.Equal(created) || !slices.Equal(n.Config["pubsub#roster_groups_allowed"], []string{"a", "b"}) || n.Node != "n2" {
			t.Fatalf("node = %+v", n)
		}
		_, err = s.PubSub.PubSubNode(ctx, pubsubSvc, "nope")
		wantErr(t, "PubSubNode absent", err, storage.ErrNotFound)
		nodes, err := s.PubSub.PubSubNodes(ctx, pubsubSvc)
		noErr(t, "PubSubNodes", err)
		if len(nodes) != 2 || nodes[0].Node != "n1" || nodes[1].Node != "n2" {
			t.Fatalf("nodes = %+v", nodes)
		}
		noErr(t, "SetNodeConfig", s.PubSub.SetNodeConfig(ctx, pubsubSvc, "n2", map[string][]string{"pubsub#max_items": {"3"}}))
		if n, _ := s.PubSub.PubSubNode(ctx, pubsubSvc, "n2"); n.Config["pubsub#max_items"][0] != "3" || n.Config["pubsub#access_model"] != nil {
			t.Fatalf("config after set = %v", n.Config)
		}
		wantErr(t, "SetNodeConfig absent", s.PubSub.SetNodeConfig(ctx, pubsubSvc, "nope", nil), storage.ErrNotFound)

		putItem(t, s, pubsubSvc, "n2", "i1", 0)
		noErr(t, "SetAffiliation", s.PubSub.SetAffiliation(ctx, pubsubSvc, storage.PubSubAffiliation{Node: "n2", JID: bob, Affiliation: "owner"}))
		noErr(t, "SetSubscription", s.PubSub.SetSubscription(ctx, pubsubSvc, storage.PubSubSubscription{Node: "n2", JID: bob, SubID: "s", State: "subscribed"}))
		noErr(t, "DeleteNode", s.PubSub.DeleteNode(ctx, pubsubSvc, "n2"))
		wantErr(t, "DeleteNode twice", s.PubSub.DeleteNode(ctx, pubsubSvc, "n2"), storage.ErrNotFound)
		// A node created again under the same name starts empty.
		noErr(t, "CreateNode again", s.PubSub.CreateNode(ctx, storage.PubSubNode{Service: pubsubSvc, Node: "n2"}))
		if items, _ := s.PubSub.PubSubItems(ctx, pubsubSvc, "n2", 0); len(items) != 0 {
			t.Fatalf("items survived DeleteNode: %v", itemIDs(items))
		}
		if a, _ := s.PubSub.Affiliations(ctx, pubsubSvc, "n2"); len(a) != 0 {
			t.Fatalf("affiliations survived DeleteNode: %v", a)
		}
		if sub, _ := s.PubSub.Subscriptions(ctx, pubsubSvc, "n2"); len(sub) != 0 {
			t.Fatalf("subscriptions survived DeleteNode: %v", sub)
		}
		if _, err := s.PubSub.PubSubNode(ctx, unicode, "n2"); err != nil {
			t.Fatalf("other service's node: %v", err)
		}
	}},
	{"Items", func(t *testing.T, s storage.Stores) {
		ctx := t.Context()
		wantErr(t, "PutItem without node", s.PubSub.PutItem(ctx, pubsubSvc, "n", storage.PubSubItem{ID: "x", Publisher: alice}, 0), storage.ErrNotFound)
		noErr(t, "CreateNode", s.PubSub.CreateNode(ctx, storage.PubSubNode{Service: pubsubSvc, Node: "n"}))
		for _, id := range []string{"a", "b", "c"} {
			putItem(t, s, pubsubSvc, "n", id, 0)
		}
		items, err := s.PubSub.PubSubItems(ctx, pubsubSvc, "n", 0)
		noErr(t, "PubSubItems", err)
		if got := itemIDs(items); !slices.Equal(got, []string{"c", "b", "a"}) {
			t.Fatalf("items = %v, want newest first", got)
		}
		if items[0].Publisher != alice || !bytes.Equal(items[0].Payload, []byte("<p xmlns='urn:t'>c</p>")) ||
			!items[0].Published.Equal(time.Unix(1700000000, 0)) {
			t.Fatalf("item = %+v", items[0])
		}
		// Republishing an id makes it the newest.
		putItem(t, s, pubsubSvc, "n", "a", 0)
		items, _ = s.PubSub.PubSubItems(ctx, pubsubSvc, "n", 2)
		if got := itemIDs(items); !slices.Equal(got, []string{"a", "c"}) {
			t.Fatalf("items after republish = %v", got)
		}
		// max_items trims the oldest.
		putItem(t, s, pubsubSvc, "n", "d", 2)
		items, _ = s.PubSub.PubSubItems(ctx, pubsubSvc, "n", 0)
		if got := itemIDs(items); !slices.Equal(got, []string{"d", "a"}) {
			t.Fatalf("items after max 2 = %v", got)
		}
		it, err := s.PubSub.PubSubItem(ctx, pubsubSvc, "n", "a")
		noErr(t, "PubSubItem", err)
		if it.ID != "a" {
			t.Fatalf("item = %+v", it)
		}
		_, err = s.PubSub.PubSubItem(ctx, pubsubSvc, "n", "b")
		wantErr(t, "PubSubItem trimmed", err, storage.ErrNotFound)
		noErr(t, "DeleteItem", s.PubSub.DeleteItem(ctx, pubsubSvc, "n", "a"))
		wantErr(t, "DeleteItem twice", s.PubSub.DeleteItem(ctx, pubsubSvc, "n", "a"), storage.ErrNotFound)
		putItem(t, s, pubsubSvc, "n", "e", 0)
		putItem(t, s, pubsubSvc, "n", "f", 0)
		noErr(t, "TrimItems 1", s.PubSub.TrimItems(ctx, pubsubSvc, "n", 1))
		if items, _ := s.PubSub.PubSubItems(ctx, pubsubSvc, "n", 0); !slices.Equal(itemIDs(items), []string{"f"}) {
			t.Fatalf("items after trim = %v", itemIDs(items))
		}
		noErr(t, "TrimItems 0", s.PubSub.TrimItems(ctx, pubsubSvc, "n", 0))
		if items, _ := s.PubSub.PubSubItems(ctx, pubsubSvc, "n", 0); len(items) != 0 {
			t.Fatalf("items after purge = %v", itemIDs(items))
		}
	}},
	{"AffiliationsAndSubscriptions", func(t *testing.T, s storage.Stores) {
		ctx := t.Context()
		ps := s.PubSub
		noErr(t, "aff", ps.SetAffiliation(ctx, pubsubSvc, storage.PubSubAffiliation{Node: "b", JID: bob, Affiliation: "publisher"}))
		noErr(t, "aff", ps.SetAffiliation(ctx, pubsubSvc, storage.PubSubAffiliation{Node: "a", JID: alice, Affiliation: "owner"}))
		noErr(t, "aff replace", ps.SetAffiliation(ctx, pubsubSvc, storage.PubSubAffiliation{Node: "b", JID: bob, Affiliation: "member"}))
		all, err := ps.Affiliations(ctx, pubsubSvc, "")
		noErr(t, "Affiliations", err)
		if len(all) != 2 || all[0].Node != "a" || all[1].Affiliation != "member" || all[1].JID != bob {
			t.Fatalf("affiliations = %+v", all)
		}
		if one, _ := ps.Affiliations(ctx, pubsubSvc, "a"); len(one) != 1 || one[0].JID != alice {
			t.Fatalf("affiliations of a = %+v", one)
		}
		noErr(t, "aff none", ps.SetAffiliation(ctx, pubsubSvc, storage.PubSubAffiliation{Node: "b", JID: bob, Affiliation: "none"}))
		if all, _ := ps.Affiliations(ctx, pubsubSvc, ""); len(all) != 1 {
			t.Fatalf("affiliations after none = %+v", all)
		}

		full := jid.MustParse("bob@example.org/phone")
		noErr(t, "sub", ps.SetSubscription(ctx, pubsubSvc, storage.PubSubSubscription{Node: "a", JID: full, SubID: "1", State: "pending"}))
		noErr(t, "sub", ps.SetSubscription(ctx, pubsubSvc, storage.PubSubSubscription{Node: "a", JID: full, SubID: "1", State: "subscribed"}))
		noErr(t, "sub", ps.SetSubscription(ctx, pubsubSvc, storage.PubSubSubscription{Node: "a", JID: greek, SubID: "2", State: "subscribed"}))
		subs, err := ps.Subscriptions(ctx, pubsubSvc, "a")
		noErr(t, "Subscriptions", err)
		if len(subs) != 2 || subs[0].JID != full || subs[0].State != "subscribed" || subs[1].JID != greek {
			t.Fatalf("subscriptions = %+v", subs)
		}
		noErr(t, "unsub", ps.SetSubscription(ctx, pubsubSvc, storage.PubSubSubscription{Node: "a", JID: full, SubID: "1", State: "none"}))
		if subs, _ := ps.Subscriptions(ctx, pubsubSvc, ""); len(subs) != 1 || subs[0].JID != greek {
			t.Fatalf("subscriptions after none = %+v", subs)
		}
	}},
	{"DeleteAccount", func(t *testing.T, s storage.Stores) {
		ctx := t.Context()
		ps := s.PubSub
		create(t, s, alice)
		create(t, s, bob)
		for _, u := range []jid.JID{alice, bob} {
			noErr(t, "CreateNode", ps.CreateNode(ctx, storage.PubSubNode{Service: u, Node: "urn:xmpp:avatar:data"}))
			putItem(t, s, u, "urn:xmpp:avatar:data", "x", 0)
			noErr(t, "aff", ps.SetAffiliation(ctx, u, storage.PubSubAffiliation{Node: "urn:xmpp:avatar:data", JID: u, Affiliation: "owner"}))
		}
		aliceFull := jid.MustParse("alice@example.org/desk")
		noErr(t, "sub", ps.SetSubscription(ctx, bob, storage.PubSubSubscription{Node: "urn:xmpp:avatar:data", JID: aliceFull, SubID: "1", State: "subscribed"}))
		noErr(t, "sub", ps.SetSubscription(ctx, pubsubSvc, storage.PubSubSubscription{Node: "n", JID: alice, SubID: "2", State: "subscribed"}))
		noErr(t, "sub", ps.SetSubscription(ctx, pubsubSvc, storage.PubSubSubscription{Node: "n", JID: carol, SubID: "3", State: "subscribed"}))
		noErr(t, "aff", ps.SetAffiliation(ctx, pubsubSvc, storage.PubSubAffiliation{Node: "n", JID: alice, Affiliation: "publisher"}))

		noErr(t, "DeleteAccount", s.Accounts.DeleteAccount(ctx, alice))
		if nodes, err := ps.PubSubNodes(ctx, alice); err != nil || len(nodes) != 0 {
			t.Fatalf("alice's PEP nodes after delete = %v, %v", nodes, err)
		}
		if items, _ := ps.PubSubItems(ctx, alice, "urn:xmpp:avatar:data", 0); len(items) != 0 {
			t.Fatal("alice's PEP items survived")
		}
		if subs, _ := ps.Subscriptions(ctx, bob, ""); len(subs) != 0 {
			t.Fatalf("alice's subscription to bob survived: %v", subs)
		}
		if subs, _ := ps.Subscriptions(ctx, pubsubSvc, ""); len(subs) != 1 || subs[0].JID != carol {
			t.Fatalf("service subscriptions after delete = %v", subs)
		}
		if affs, _ := ps.Affiliations(ctx, pubsubSvc, ""); len(affs) != 0 {
			t.Fatalf("alice's affiliation survived: %v", affs)
		}
		if nodes, _ := ps.PubSubNodes(ctx, bob); len(nodes) != 1 {
			t.Fatal("bob's PEP node deleted")
		}
		if items, _ := ps.PubSubItems(ctx, bob, "urn:xmpp:avatar:data", 0); len(items) != 1 {
			t.Fatal("bob's PEP items deleted")
		}
	}},
}
