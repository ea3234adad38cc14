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
