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

var offlineTests = []subtest{
	{"StoreAndRead", func(t *testing.T, s storage.Stores) {
		ctx := t.Context()
		create(t, s, alice)
		before := time.Now().Add(-time.Second)
		var want [][]byte
		for i := range 5 {
			st := []byte(fmt.Sprintf(`<message to="alice@example.org"><body>%d ✉</body></message>`, i))
			want = append(want, st)
			noErr(t, "StoreOffline", s.Offline.StoreOffline(ctx, alice, st, 0))
		}
		after := time.Now().Add(time.Second)
		msgs, err := s.Offline.OfflineMessages(ctx, alice)
		noErr(t, "OfflineMessages", err)
		if len(msgs) != len(want) {
			t.Fatalf("OfflineMessages = %d messages, want %d", len(msgs), len(want))
		}
		ids := map[int64]bool{}
		for i, m := range msgs {
			if !bytes.Equal(m.Stanza, want[i]) {
				t.Fatalf("message %d = %q, want %q (arrival order)", i, m.Stanza, want[i])
			}
			if m.At.Before(before) || m.At.After(after) {
				t.Fatalf("message %d stored at %v, not between %v and %v", i, m.At, before, after)
			}
			if ids[m.ID] {
				t.Fatalf("duplicate message ID %d", m.ID)
			}
			ids[m.ID] = true
		}
		n, err := s.Offline.OfflineCount(ctx, alice)
		noErr(t, "OfflineCount", err)
		if n != 5 {
			t.Fatalf("OfflineCount = %d, want 5", n)
		}
		if n, _ := s.Offline.OfflineCount(ctx, bob); n != 0 {
			t.Fatalf("OfflineCount(bob) = %d, want 0", n)
		}
		// Mutating a returned stanza does not change the store.
		msgs[0].Stanza[0] = 'X'
		again, _ := s.Offline.OfflineMessages(ctx, alice)
		if !bytes.Equal(again[0].Stanza, want[0]) {
			t.Fatal("mutating a returned stanza changed the store")
		}
	}},
	{"Quota", func(t *testing.T, s storage.Stores) {
		ctx := t.Context()
		create(t, s, alice)
		create(t, s, bob)
		for i := range 3 {
			noErr(t, fmt.Sprintf("StoreOffline %d", i), s.Offline.StoreOffline(ctx, alice, []byte("<message/>"), 3))
		}
		err := s.Offline.StoreOffline(ctx, alice, []byte("<message>4</message>"), 3)
		wantErr(t, "StoreOffline over limit", err, storage.ErrQuota)
		if n, _ := s.Offline.OfflineCount(ctx, alice); n != 3 {
			t.Fatalf("OfflineCount after quota error = %d, want 3", n)
		}
		// The limit is per user.
		noErr(t, "StoreOffline(bob)", s.Offline.StoreOffline(ctx, bob, []byte("<message/>"), 3))
		// A larger limit, or none, accepts more.
		noErr(t, "StoreOffline limit 4", s.Offline.StoreOffline(ctx, alice, []byte("<message/>"), 4))
		noErr(t, "StoreOffline limit 0", s.Offline.StoreOffline(ctx, alice, []byte("<message/>"), 0))
		noErr(t, "StoreOffline limit -1", s.Offline.StoreOffline(ctx, alice, []byte("<message/>"), -1))
		if n, _ := s.Offline.OfflineCount(ctx, alice); n != 6 {
			t.Fatalf("OfflineCount = %d, want 6", n)
		}
		// Deleting frees space under the limit.
		msgs, _ := s.Offline.OfflineMessages(ctx, alice)
		noErr(t, "DeleteOffline", s.Offline.DeleteOffline(ctx, alice, []int64{msgs[0].ID, msgs[1].ID, msgs[2].ID}))
		noErr(t, "StoreOffline after delete", s.Offline.StoreOffline(ctx, alice, []byte("<message/>"), 4))
		wantErr(t, "StoreOffline at limit", s.Offline.StoreOffline(ctx, alice, []byte("<message/>"), 4), storage.ErrQuota)
	}},
	{"Delete", func(t *testing.T, s storage.Stores) {
		ctx := t.Context()
		create(t, s, alice)
		create(t, s, bob)
		for i := range 4 {
			noErr(t, "StoreOffline", s.Offline.StoreOffline(ctx, alice, fmt.Appendf(nil, "<m>%d</m>", i), 0))
		}
		noErr(t, "StoreOffline(bob)", s.Offline.StoreOffline(ctx, bob, []byte("<m>bob</m>"), 0))
		msgs, _ := s.Offline.OfflineMessages(ctx, alice)
		bobMsgs, _ := s.Offline.OfflineMessages(ctx, bob)
		// Delete the 2nd and 4th, plus bob's (which must be ignored) and an
		// unknown id.
		noErr(t, "DeleteOffline", s.Offline.DeleteOffline(ctx, alice, []int64{msgs[1].ID, msgs[3].ID, bobMsgs[0].ID, 1 << 40}))
		rest, _ := s.Offline.OfflineMessages(ctx, alice)
		if len(rest) != 2 || string(rest[0].Stanza) != "<m>0</m>" || string(rest[1].Stanza) != "<m>2</m>" {
			t.Fatalf("after delete: %+v", rest)
		}
		if n, _ := s.Offline.OfflineCount(ctx, bob); n != 1 {
			t.Fatal("DeleteOffline(alice, ...) deleted bob's message")
		}
		noErr(t, "DeleteOffline none", s.Offline.DeleteOffline(ctx, alice, nil))
		if n, _ := s.Offline.OfflineCount(ctx, alice); n != 2 {
			t.Fatalf("DeleteOffline(nil) changed count to %d", n)
		}
	}},
	{"ConcurrentWriters", func(t *testing.T, s storage.Stores) {
		ctx := t.Context()
		create(t, s, alice)
		const writers, each = 8, 25
		var wg sync.WaitGroup
		errs := make(chan error, writers*each)
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					if err := s.Offline.StoreOffline(ctx, alice, fmt.Appendf(nil, "<m>%d-%d</m>", w, i), 0); err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("concurrent StoreOffline: %v", err)
		}
		msgs, err := s.Offline.OfflineMessages(ctx, alice)
		noErr(t, "OfflineMessages", err)
		if len(msgs) != writers*each {
			t.Fatalf("stored %d messages, want %d", len(msgs), writers*each)
		}
		seen := map[string]bool{}
		next := make([]int, writers)
		for _, m := range msgs {
			seen[string(m.Stanza)] = true
			// Each writer's messages appear in its own order.
			var w, i int
			if _, err := fmt.Sscanf(string(m.Stanza), "<m>%d-%d</m>", &w, &i); err != nil {
				t.Fatalf("unexpected stanza %q", m.Stanza)
			}
			if i != next[w] {
				t.Fatalf("writer %d: message %d arrived when %d was expected", w, i, next[w])
			}
			next[w]++
		}
		if len(seen) != writers*each {
			t.Fatalf("%d distinct messages, want %d", len(seen), writers*each)
		}
	}},
	{"ConcurrentQuota", func(t *testing.T, s storage.Stores) {
		ctx := t.Context()
		create(t, s, alice)
		const writers, each, limit = 8, 10, 30
		var (
			wg            sync.WaitGroup
			mu            sync.Mutex
			stored, quota int
		)
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					err := s.Offline.StoreOffline(ctx, alice, fmt.Appendf(nil, "<m>%d-%d</m>", w, i), limit)
					mu.Lock()
					switch {
					case err == nil:
						stored++
					case errors.Is(err, storage.ErrQuota):
						quota++
					default:
						t.Errorf("StoreOffline: %v", err)
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if stored != limit || quota != writers*each-limit {
			t.Fatalf("stored %d, refused %d; want %d, %d", stored, quota, limit, writers*each-limit)
		}
		if n, _ := s.Offline.OfflineCount(ctx, alice); n != limit {
			t.Fatalf("OfflineCount = %d, want exactly the limit %d", n, limit)
		}
	}},
}
