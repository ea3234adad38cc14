package storagetest

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/storage"
)

// fixed returns a stanza of exactly n bytes whose content names i.
func fixed(i, n int) []byte {
	b := fmt.Appendf(nil, "<m>%d</m>", i)
	return append(b, bytes.Repeat([]byte(" "), n-len(b))...)
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
			noErr(t, "SetPrivateXMLWithin", s.Private.SetPrivateXMLWithin(ctx, alice, fmt.Sprintf("ns%d x", i), fixed(i, 50), q))
		}
		wantErr(t, "SetPrivateXMLWithin a fourth key", s.Private.SetPrivateXMLWithin(ctx, alice, "ns3 x", fixed(3, 10), q), storage.ErrQuota)
		if _, err := s.Private.PrivateXML(ctx, alice, "ns3 x"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("refused element stored: %v", err)
		}
		// Replacing counts the new size only: 50+50+200 = 300 fits.
		noErr(t, "SetPrivateXMLWithin a replacement", s.Private.SetPrivateXMLWithin(ctx, alice, "ns2 x", fixed(2, 200), q))
		wantErr(t, "SetPrivateXMLWithin over the bytes", s.Private.SetPrivateXMLWithin(ctx, alice, "ns1 x", fixed(1, 51), q), storage.ErrQuota)
		got, err := s.Private.PrivateXML(ctx, alice, "ns1 x")
		noErr(t, "PrivateXML", err)
		if !bytes.Equal(got, fixed(1, 50)) {
			t.Fatalf("refused replacement changed the element: %q", got)
		}
		wantErr(t, "SetPrivateXMLWithin larger than the quota", s.Private.SetPrivateXMLWithin(ctx, bob, "ns x", fixed(0, 301), q), storage.ErrQuota)
		noErr(t, "SetPrivateXMLWithin(bob)", s.Private.SetPrivateXMLWithin(ctx, bob, "ns x", fixed(0, 300), q))
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
					err := s.Private.SetPrivateXMLWithin(ctx, alice, fmt.Sprintf("ns%d-%d x", w, i), []byte("<x/>"), q)
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
}
