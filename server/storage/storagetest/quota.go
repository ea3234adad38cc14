package storagetest

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// fixed returns a stanza of exactly n bytes whose content names i.
func fixed(i, n int) []byte {
	b := fmt.Appendf(nil, "<m>%d</m>", i)
	return append(b, bytes.Repeat([]byte(" "), n-len(b))...)
}

// pe is one private XML element to store.
func pe(key string, data []byte) []storage.PrivateElement {
	return []storage.PrivateElement{{Key: key, Data: data}}
}

var quotaTests = []subtest{
	{"OfflineBytes", func(t *testing.T, s storage.Stores) {
		ctx := t.Context()
		create(t, s, alice)
		q := storage.Quota{Count: 10, Bytes: 250}
		for i := range 2 {
			noErr(t, "StoreOfflineWithin", s.Offline.StoreOfflineWithin(ctx, alice, fixed(i, 100), q))
		}
		// 200 bytes stored: 60 more would make 260.
		wantErr(t, "StoreOfflineWithin over the bytes", s.Offline.StoreOfflineWithin(ctx, alice, fixed(2, 60), q), storage.ErrQuota)
		noErr(t, "StoreOfflineWithin up to the bytes", s.Offline.StoreOfflineWithin(ctx, alice, fixed(3, 50), q))
		wantErr(t, "StoreOfflineWithin when full", s.Offline.StoreOfflineWithin(ctx, alice, fixed(4, 10), q), storage.ErrQuota)
		wantErr(t, "StoreOfflineWithin larger than the quota", s.Offline.StoreOfflineWithin(ctx, bob, fixed(5, 251), q), storage.ErrQuota)
		// Another user's quota is its own.
		noErr(t, "StoreOfflineWithin(bob)", s.Offline.StoreOfflineWithin(ctx, bob, fixed(6, 200), q))
		msgs, err := s.Offline.OfflineMessages(ctx, alice)
		noErr(t, "OfflineMessages", err)
		if len(msgs) != 3 {
			t.Fatalf("alice has %d messages, want 3", len(msgs))
		}
		// Delivering frees the room.
		noErr(t, "DeleteOffline", s.Offline.DeleteOffline(ctx, alice, []int64{msgs[0].ID}))
		noErr(t, "StoreOfflineWithin after delete", s.Offline.StoreOfflineWithin(ctx, alice, fixed(7, 100), q))
		// The count still holds.
		small := storage.Quota{Count: 4}
		wantErr(t, "StoreOfflineWithin over the count", s.Offline.StoreOfflineWithin(ctx, alice, fixed(8, 10), storage.Quota{Count: 3}), storage.ErrQuota)
		noErr(t, "StoreOfflineWithin within the count", s.Offline.StoreOfflineWithin(ctx, alice, fixed(9, 10), small))
	}},
	{"OfflineBytesConcurrent", func(t *testing.T, s storage.Stores) {
		ctx := t.Context()
		create(t, s, alice)
		const writers, each = 8, 10
		q := storage.Quota{Bytes: 3000}
		var wg sync.WaitGroup
		errs := make(chan error, writers*each)
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					err := s.Offline.StoreOfflineWithin(ctx, alice, fixed(w*each+i, 100), q)
					if err != nil && !errors.Is(err, storage.ErrQuota) {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("StoreOfflineWithin: %v", err)
		}
		msgs, err := s.Offline.OfflineMessages(ctx, alice)
		noErr(t, "OfflineMessages", err)
		if len(msgs) != 30 {
			t.Fatalf("%d writers racing stored %d messages of 100 bytes in a 3000-byte quota, want exactly 30", writers, len(msgs))
		}
	}},
	{"PrivateEntriesAndBytes", func(t *testing.T, s storage.Stores) {
		ctx := t.Context()
		create(t, s, alice)
		q := storage.Quota{Count: 3, Bytes: 300}
		for i := range 3 {
			noErr(t, "SetPrivateXMLWithin", s.Private.SetPrivateXMLWithin(ctx, alice, pe(fmt.Sprintf("ns%d x", i), fixed(i, 50)), q))
		}
		wantErr(t, "SetPrivateXMLWithin a fourth key", s.Private.SetPrivateXMLWithin(ctx, alice, pe("ns3 x", fixed(3, 10)), q), storage.ErrQuota)
		if _, err := s.Private.PrivateXML(ctx, alice, "ns3 x"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("refused element stored: %v", err)
		}
		// Replacing counts the new size only: 50+50+200 = 300 fits.
		noErr(t, "SetPrivateXMLWithin a replacement", s.Private.SetPrivateXMLWithin(ctx, alice, pe("ns2 x", fixed(2, 200)), q))
		wantErr(t, "SetPrivateXMLWithin over the bytes", s.Private.SetPrivateXMLWithin(ctx, alice, pe("ns1 x", fixed(1, 51)), q), storage.ErrQuota)
		got, err := s.Private.PrivateXML(ctx, alice, "ns1 x")
		noErr(t, "PrivateXML", err)
		if !bytes.Equal(got, fixed(1, 50)) {
			t.Fatalf("refused replacement changed the element: %q", got)
		}
		// Several elements: all or none.
		two := []storage.PrivateElement{{Key: "ns0 x", Data: fixed(0, 20)}, {Key: "ns9 x", Data: fixed(9, 20)}}
		wantErr(t, "SetPrivateXMLWithin of two, one too many", s.Private.SetPrivateXMLWithin(ctx, alice, two, q), storage.ErrQuota)
		if got, err := s.Private.PrivateXML(ctx, alice, "ns0 x"); err != nil || !bytes.Equal(got, fixed(0, 50)) {
			t.Fatalf("first element of a refused set changed: %q, %v", got, err)
		}
		two[1].Key = "ns1 x"
		noErr(t, "SetPrivateXMLWithin of two replacements", s.Private.SetPrivateXMLWithin(ctx, alice, two, q))
		wantErr(t, "SetPrivateXMLWithin larger than the quota", s.Private.SetPrivateXMLWithin(ctx, bob, pe("ns x", fixed(0, 301)), q), storage.ErrQuota)
		noErr(t, "SetPrivateXMLWithin(bob)", s.Private.SetPrivateXMLWithin(ctx, bob, pe("ns x", fixed(0, 300)), q))
	}},
	{"PrivateConcurrent", func(t *testing.T, s storage.Stores) {
		ctx := t.Context()
		create(t, s, alice)
		const writers, each = 8, 5
		q := storage.Quota{Count: 12}
		var wg sync.WaitGroup
		errs := make(chan error, writers*each)
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					err := s.Private.SetPrivateXMLWithin(ctx, alice, pe(fmt.Sprintf("ns%d-%d x", w, i), []byte("<x/>")), q)
					if err != nil && !errors.Is(err, storage.ErrQuota) {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("SetPrivateXMLWithin: %v", err)
		}
		keys, err := s.Private.PrivateKeys(ctx, alice)
		noErr(t, "PrivateKeys", err)
		if len(keys) != 12 {
			t.Fatalf("%d writers racing stored %d keys in a quota of 12", writers, len(keys))
		}
	}},
	{"ArchiveUsageAndTrim", func(t *testing.T, s storage.Stores) {
		ctx := t.Context()
		create(t, s, alice)
		create(t, s, bob)
		us, err := s.Archive.ArchiveUsage(ctx, alice)
		noErr(t, "ArchiveUsage", err)
		if us != (storage.Usage{}) {
			t.Fatalf("empty archive usage = %+v", us)
		}
		base := time.Unix(1700000000, 0)
		for i := range 10 {
			m := storage.ArchivedMessage{ID: fmt.Sprintf("a%d", i), With: bob, At: base.Add(time.Duration(i) * time.Second), Stanza: fixed(i, 100)}
			noErr(t, "AppendArchive", s.Archive.AppendArchive(ctx, alice, m))
			m.ID = fmt.Sprintf("b%d", i)
			noErr(t, "AppendArchive(bob)", s.Archive.AppendArchive(ctx, bob, m))
		}
		us, err = s.Archive.ArchiveUsage(ctx, alice)
		noErr(t, "ArchiveUsage", err)
		if us != (storage.Usage{Count: 10, Bytes: 1000}) {
			t.Fatalf("usage = %+v, want 10 messages, 1000 bytes", us)
		}
		// Within the quota nothing goes.
		removed, left, err := s.Archive.TrimArchive(ctx, alice, storage.Quota{Count: 10, Bytes: 1000})
		noErr(t, "TrimArchive", err)
		if removed != (storage.Usage{}) || left != us {
			t.Fatalf("TrimArchive within the quota removed %+v, left %+v", removed, left)
		}
		// By count: the 3 oldest go.
		removed, left, err = s.Archive.TrimArchive(ctx, alice, storage.Quota{Count: 7})
		noErr(t, "TrimArchive", err)
		if removed != (storage.Usage{Count: 3, Bytes: 300}) || left != (storage.Usage{Count: 7, Bytes: 700}) {
			t.Fatalf("TrimArchive(7 messages) removed %+v, left %+v", removed, left)
		}
		// By bytes: 450 bytes keep the 4 newest.
		removed, left, err = s.Archive.TrimArchive(ctx, alice, storage.Quota{Bytes: 450})
		noErr(t, "TrimArchive", err)
		if removed != (storage.Usage{Count: 3, Bytes: 300}) || left != (storage.Usage{Count: 4, Bytes: 400}) {
			t.Fatalf("TrimArchive(450 bytes) removed %+v, left %+v", removed, left)
		}
		page, err := s.Archive.QueryArchive(ctx, alice, storage.ArchiveQuery{Max: -1, Index: -1})
		noErr(t, "QueryArchive", err)
		var ids []string
		for _, m := range page.Messages {
			ids = append(ids, m.ID)
		}
		if fmt.Sprint(ids) != "[a6 a7 a8 a9]" {
			t.Fatalf("archive after trims = %v, want the newest four", ids)
		}
		// Bob's archive is untouched.
		us, err = s.Archive.ArchiveUsage(ctx, bob)
		noErr(t, "ArchiveUsage(bob)", err)
		if us.Count != 10 {
			t.Fatalf("bob's archive has %d messages after alice's trims", us.Count)
		}
	}},
	{"PubSubBytes", func(t *testing.T, s storage.Stores) {
		ctx := t.Context()
		create(t, s, alice)
		base := time.Unix(1700000000, 0)
		for _, n := range []string{"a", "b", "one"} {
			noErr(t, "CreateNode", s.PubSub.CreateNode(ctx, storage.PubSubNode{Service: alice, Node: n, Created: base}))
		}
		owners := []jid.JID{alice}
		put := func(node, id string, size, maxItems int) error {
			it := storage.PubSubItem{ID: id, Publisher: alice, Payload: fixed(0, size), Published: base}
			return s.PubSub.PutItemWithin(ctx, alice, node, it, maxItems, owners, 300)
		}
		noErr(t, "PutItemWithin", put("a", "1", 100, 0))
		noErr(t, "PutItemWithin", put("b", "1", 100, 0))
		wantErr(t, "PutItemWithin past the service's bytes", put("a", "2", 150, 0), storage.ErrQuota)
		if _, err := s.PubSub.PubSubItem(ctx, alice, "a", "2"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("refused item stored: %v", err)
		}
		// Replacing an item counts its new size only: 200+100 fits.
		noErr(t, "PutItemWithin replacing", put("a", "1", 200, 0))
		// An item the node's max_items pushes out frees its room.
		noErr(t, "DeleteItem", s.PubSub.DeleteItem(ctx, alice, "b", "1"))
		noErr(t, "PutItemWithin", put("one", "x", 90, 1))
		noErr(t, "PutItemWithin replacing by max_items", put("one", "y", 100, 1))
		if _, err := s.PubSub.PubSubItem(ctx, alice, "one", "x"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("item past max_items kept: %v", err)
		}
		wantErr(t, "PutItemWithin past the bytes", put("one", "z", 101, 1), storage.ErrQuota)
		if got, err := s.PubSub.PubSubItem(ctx, alice, "one", "y"); err != nil || len(got.Payload) != 100 {
			t.Fatalf("refused publish changed the node: %v", err)
		}
		// On a shared service, each owner's nodes count for it alone.
		svc := jid.MustParse("pubsub.example.org")
		for _, n := range []struct {
			node  string
			owner jid.JID
		}{{"bob1", bob}, {"bob2", bob}, {"carol1", carol}} {
			noErr(t, "CreateNode", s.PubSub.CreateNode(ctx, storage.PubSubNode{Service: svc, Node: n.node, Created: base}))
			noErr(t, "SetAffiliation", s.PubSub.SetAffiliation(ctx, svc, storage.PubSubAffiliation{Node: n.node, JID: n.owner, Affiliation: "owner"}))
		}
		pub := func(node string, owner jid.JID, id string, size int) error {
			it := storage.PubSubItem{ID: id, Publisher: owner, Payload: fixed(0, size), Published: base}
			return s.PubSub.PutItemWithin(ctx, svc, node, it, 0, []jid.JID{owner}, 300)
		}
		noErr(t, "PutItemWithin(bob1)", pub("bob1", bob, "1", 200))
		wantErr(t, "PutItemWithin(bob2) past bob's bytes", pub("bob2", bob, "1", 200), storage.ErrQuota)
		noErr(t, "PutItemWithin(carol1)", pub("carol1", carol, "1", 250))
		// No bound, as PutItem.
		it := storage.PubSubItem{ID: "big", Publisher: bob, Payload: fixed(0, 1000), Published: base}
		noErr(t, "PutItemWithin without a bound", s.PubSub.PutItemWithin(ctx, svc, "bob2", it, 0, []jid.JID{bob}, 0))
	}},
}
