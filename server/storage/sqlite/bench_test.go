package sqlite

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// BenchmarkAppendArchive archives chat messages of 1,000 users from many
// goroutines at once, as the MAM module does under load: each operation is
// one message archived for one user.
func BenchmarkAppendArchive(b *testing.B) {
	db, err := Open(b.Context(), b.TempDir()+"/bench.db", nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	users := make([]jid.JID, 1000)
	for i := range users {
		users[i] = jid.MustParse(fmt.Sprintf("user%d@localhost", i))
	}
	peer := jid.MustParse("peer@localhost/res")
	st := []byte(`<message xmlns="jabber:client" type="chat" to="user1@localhost" from="peer@localhost/res" id="abcdef"><body>` +
		strings.Repeat("x", 120) + `</body><origin-id xmlns="urn:xmpp:sid:0" id="0123456789"/></message>`)
	var n atomic.Int64
	b.SetParallelism(64)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			m := storage.ArchivedMessage{ID: fmt.Sprintf("id-%d", i), With: peer, At: time.Unix(0, i), Stanza: st}
			if err := db.AppendArchive(b.Context(), users[i%int64(len(users))], m); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkRosterItems reads rosters of 1,000 users, as the roster module
// does at each login: empty ones (most accounts in a login storm) and ones
// of 10 contacts.
func BenchmarkRosterItems(b *testing.B) {
	for _, size := range []int{0, 10} {
		b.Run(fmt.Sprintf("items=%d", size), func(b *testing.B) {
			db, err := Open(b.Context(), b.TempDir()+"/bench.db", nil)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = db.Close() })
			users := make([]jid.JID, 1000)
			for i := range users {
				users[i] = jid.MustParse(fmt.Sprintf("user%d@localhost", i))
				for c := range size {
					it := storage.RosterItem{Contact: jid.MustParse(fmt.Sprintf("contact%d@localhost", c)), Subscription: storage.SubBoth}
					if _, err := db.PutRosterItem(b.Context(), users[i], it); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				items, _, err := db.RosterItems(b.Context(), users[i%len(users)])
				if err != nil || len(items) != size {
					b.Fatalf("%d items, %v", len(items), err)
				}
			}
		})
	}
}

// BenchmarkAppendArchiveFull archives chat messages into archives that are
// all at their quota, as the MAM module does for accounts over it: each
// operation is one message archived, and with trim=on every tenth of the
// quota an account's archive is trimmed back to nine tenths
// (storage.TrimArchive), the amortised cost of the rolling retention.
// trim=off appends to the same full archives without trimming, to tell
// the trims' cost from that of a larger table.
func BenchmarkAppendArchiveFull(b *testing.B) {
	for _, trim := range []bool{false, true} {
		b.Run(fmt.Sprintf("trim=%v", map[bool]string{false: "off", true: "on"}[trim]), func(b *testing.B) {
			benchAppendFull(b, trim)
		})
	}
}

func benchAppendFull(b *testing.B, trim bool) {
	const users, quota = 100, 200
	db, err := Open(b.Context(), b.TempDir()+"/bench.db", nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	peer := jid.MustParse("peer@localhost/res")
	st := []byte(`<message xmlns="jabber:client" type="chat" to="user1@localhost" from="peer@localhost/res" id="abcdef"><body>` +
		strings.Repeat("x", 120) + `</body><origin-id xmlns="urn:xmpp:sid:0" id="0123456789"/></message>`)
	ids := make([]jid.JID, users)
	for i := range ids {
		ids[i] = jid.MustParse(fmt.Sprintf("user%d@localhost", i))
		for k := range quota {
			m := storage.ArchivedMessage{ID: fmt.Sprintf("fill-%d", k), With: peer, At: time.Unix(0, int64(k)), Stanza: st}
			if err := db.AppendArchive(b.Context(), ids[i], m); err != nil {
				b.Fatal(err)
			}
		}
	}
	q, low := storage.Quota{Count: quota}, storage.Quota{Count: quota - quota/10}
	var (
		n     atomic.Int64
		since [users]atomic.Int64 // messages since the user's last trim
	)
	b.SetParallelism(64)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			u := i % users
			m := storage.ArchivedMessage{ID: fmt.Sprintf("id-%d", i), With: peer, At: time.Unix(0, quota+i), Stanza: st}
			if err := db.AppendArchive(b.Context(), ids[u], m); err != nil {
				b.Error(err)
				return
			}
			if trim && since[u].Add(1) == int64(q.Count-low.Count)+1 {
				since[u].Store(0)
				if _, _, err := db.TrimArchive(b.Context(), ids[u], low); err != nil {
					b.Error(err)
					return
				}
			}
		}
	})
}
