package archive

import (
	"fmt"
	"testing"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

func TestUsageCache(t *testing.T) {
	c := newUsageCache()
	alice := jid.MustParse("alice@example.org")
	q := storage.Quota{Count: 3, Bytes: 1000}
	if known, _ := c.add(alice, 10, q); known {
		t.Fatal("an account never seen is known")
	}
	if c.set(alice, storage.Usage{Count: 2, Bytes: 20}, q) {
		t.Fatal("trim asked within the quota")
	}
	if _, trim := c.add(alice, 10, q); trim {
		t.Fatal("trim asked at the quota")
	}
	if _, trim := c.add(alice, 10, q); !trim {
		t.Fatal("no trim asked past the quota")
	}
	// One trim at a time: the messages archived meanwhile do not ask again.
	if _, trim := c.add(alice, 10, q); trim {
		t.Fatal("a second trim asked while one runs")
	}
	c.done(alice, storage.Usage{Count: 2, Bytes: 20}, true)
	if _, trim := c.add(alice, 10, q); trim {
		t.Fatal("trim asked after a trim left room")
	}
	// A failed trim forgets the account: its usage is read again.
	c.add(alice, 10, q)
	c.done(alice, storage.Usage{}, false)
	if known, _ := c.add(alice, 10, q); known {
		t.Fatal("account still known after a failed trim")
	}
	// The bytes count too.
	c.set(alice, storage.Usage{Count: 1, Bytes: 990}, q)
	if _, trim := c.add(alice, 11, q); !trim {
		t.Fatal("no trim asked past the byte quota")
	}
}

func TestUsageCacheBounded(t *testing.T) {
	c := newUsageCache()
	for i := range maxUsageEntries + 10 {
		c.set(jid.MustParse(fmt.Sprintf("u%d@example.org", i)), storage.Usage{}, storage.Quota{Count: 10})
	}
	if n := len(c.entries); n > maxUsageEntries {
		t.Fatalf("%d entries, bound %d", n, maxUsageEntries)
	}
}

func TestLowWater(t *testing.T) {
	for _, c := range []struct{ in, want storage.Quota }{
		{storage.Quota{Count: 1000, Bytes: 10000}, storage.Quota{Count: 900, Bytes: 9000}},
		{storage.Quota{Count: 1}, storage.Quota{Count: 1}}, // never 0, which means "no bound"
		{storage.Quota{Bytes: 5}, storage.Quota{Bytes: 5}},
		{storage.Quota{}, storage.Quota{}},
	} {
		if got := lowWater(c.in); got != c.want {
			t.Errorf("lowWater(%+v) = %+v, want %+v", c.in, got, c.want)
		}
	}
}

// BenchmarkUsageCacheAdd is what the archive quota costs each archived
// message of an account already known: no storage access.
func BenchmarkUsageCacheAdd(b *testing.B) {
	c := newUsageCache()
	q := storage.Quota{Count: 500000, Bytes: 256 << 20}
	users := make([]jid.JID, 1000)
	for i := range users {
		users[i] = jid.MustParse(fmt.Sprintf("user%d@localhost", i))
		c.set(users[i], storage.Usage{}, q)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			c.add(users[i%len(users)], 300, q)
			i++
		}
	})
}
