package roster

import (
	"testing"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
	xroster "github.com/parley-xmpp/parley/xmpp/roster"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// befriend stores a mutual subscription directly, as if made before the
// test (nobody is online, so no cache is involved).
func (h *harness) befriend(a, b jid.JID) {
	h.t.Helper()
	for _, p := range [][2]jid.JID{{a, b}, {b, a}} {
		if _, err := h.db.Stores().Roster.PutRosterItem(h.ctx, p[0], storage.RosterItem{Contact: p[1], Subscription: storage.SubBoth}); err != nil {
			h.t.Fatal(err)
		}
	}
}

// TestCacheOneReadPerLogin: a login (roster get, initial presence, and the
// end of the session) reads the roster and the pending requests from the
// store once each, and what it reads is right; the entry goes with the
// last session.
func TestCacheOneReadPerLogin(t *testing.T) {
	h := newHarness(t)
	alice, bob := h.user("alice"), h.user("bob")
	h.befriend(alice, bob)
	b := h.online(bob, "b")
	h.take(b)
	h.reads.reset()

	a := h.login(alice, "a")
	reply, _ := h.iq(a, stanza.TypeGet, "", stanza.New(xroster.NS, "query"))
	q, err := xroster.Decode(reply.Child(xroster.NS, "query"))
	if err != nil || len(q.Items) != 1 || q.Items[0].JID != bob || q.Items[0].Subscription != "both" {
		t.Fatalf("roster get: %v, %v", reply, err)
	}
	h.send(a, presence("", ""))
	if len(find(h.take(b), "presence", "", "alice@example.com/a")) != 1 {
		t.Error("bob did not get alice's initial presence")
	}
	if len(find(h.take(a), "presence", "", "bob@example.com/b")) != 1 {
		t.Error("alice did not get bob's presence (probe answered from his cached roster)")
	}
	h.end(a)
	if len(find(h.take(b), "presence", stanza.TypeUnavailable, "alice@example.com/a")) != 1 {
		t.Error("bob did not get alice's unavailable presence")
	}
	if n := h.reads.items.Load(); n != 1 {
		t.Errorf("%d roster reads for one login, want 1", n)
	}
	if n := h.reads.requests.Load(); n != 1 {
		t.Errorf("%d reads of pending requests for one login, want 1", n)
	}
	if n := h.reads.item.Load(); n != 0 {
		t.Errorf("%d item reads to answer alice's probe to online bob, want 0", n)
	}
	if e, _ := h.mod.cache.lookup(alice); e.hasItems || e.hasReqs {
		t.Error("alice's roster still cached after her last session ended")
	}
	if e, _ := h.mod.cache.lookup(bob); !e.hasItems {
		t.Error("bob's roster not cached while he is online")
	}
}

// TestCacheFollowsWrites: each kind of change (roster set, subscription,
// removal) is seen by the next read of an online user.
func TestCacheFollowsWrites(t *testing.T) {
	h := newHarness(t)
	alice, bob, carol := h.user("alice"), h.user("bob"), h.user("carol")
	a := h.online(alice, "a")
	b := h.online(bob, "b")
	get := func() *xroster.Query {
		t.Helper()
		reply, _ := h.iq(a, stanza.TypeGet, "", stanza.New(xroster.NS, "query"))
		q, err := xroster.Decode(reply.Child(xroster.NS, "query"))
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	v0 := get().Ver

	set := stanza.New(xroster.NS, "query").Append(stanza.New(xroster.NS, "item", "jid", carol.String(), "name", "Carol"))
	h.iq(a, stanza.TypeSet, "", set)
	q := get()
	if len(q.Items) != 1 || q.Items[0].Name != "Carol" || q.Ver == v0 {
		t.Fatalf("after a roster set: %+v (version before %s)", q, v0)
	}

	// Subscription both ways: alice's presence must now reach bob.
	h.send(a, presence(stanza.TypeSubscribe, bob.String()))
	h.send(b, presence(stanza.TypeSubscribed, alice.String()))
	h.send(b, presence(stanza.TypeSubscribe, alice.String()))
	h.send(a, presence(stanza.TypeSubscribed, bob.String()))
	h.take(b)
	h.send(a, presence("", "").Append(stanza.New(stanza.NSClient, "status").AppendText("hi")))
	if len(find(h.take(b), "presence", "", "alice@example.com/a")) != 1 {
		t.Error("bob did not get alice's presence after the subscription")
	}
	if q := get(); len(q.Items) != 2 {
		t.Errorf("after the subscription: %+v", q)
	}

	// A pending request made while alice is online is seen by her next
	// resource's initial presence.
	c := h.online(carol, "c")
	h.send(c, presence(stanza.TypeSubscribe, alice.String()))
	a2 := h.online(alice, "a2")
	if len(find(h.take(a2), "presence", stanza.TypeSubscribe, "carol@example.com")) != 1 {
		t.Error("alice's new resource did not get carol's pending request")
	}

	remove := stanza.New(xroster.NS, "query").Append(stanza.New(xroster.NS, "item", "jid", bob.String(), "subscription", "remove"))
	h.iq(a, stanza.TypeSet, "", remove)
	h.take(b)
	h.send(a, presence("", ""))
	if got := find(h.take(b), "presence", "", "alice@example.com/a"); len(got) != 0 {
		t.Error("bob still gets alice's presence after she removed him")
	}
	if q := get(); len(q.Items) != 1 || q.Items[0].JID != carol {
		t.Errorf("after the removal: %+v", q)
	}
}

// TestCacheFillLosesToInvalidation: a read that began before a write
// must not put its (stale) result in the cache.
func TestCacheFillLosesToInvalidation(t *testing.T) {
	c := newCache()
	user := jid.MustParse("alice@example.com")
	online := func() bool { return true }
	_, epoch := c.lookup(user)
	c.invalidate(user) // a write finished during the read
	c.fill(user, epoch, online, func(e *cacheEntry) { e.hasItems = true })
	if c.len() != 0 {
		t.Fatal("a read older than a write filled the cache")
	}
	_, epoch = c.lookup(user)
	c.fill(user, epoch, func() bool { return false }, func(e *cacheEntry) { e.hasItems = true })
	if c.len() != 0 {
		t.Fatal("filled for a user without a session")
	}
	c.fill(user, epoch, online, func(e *cacheEntry) { e.hasItems = true })
	if e, _ := c.lookup(user); !e.hasItems {
		t.Fatal("a fill with no write meanwhile was not kept")
	}
	c.drop(user, online)
	if c.len() != 1 {
		t.Fatal("dropped while a session remains")
	}
	c.drop(user, func() bool { return false })
	if c.len() != 0 {
		t.Fatal("not dropped after the last session")
	}
}

// TestCacheAccountDeleted: deleting an account drops its cached roster.
func TestCacheAccountDeleted(t *testing.T) {
	h := newHarness(t)
	alice, bob := h.user("alice"), h.user("bob")
	h.befriend(alice, bob)
	h.online(alice, "a")
	if e, _ := h.mod.cache.lookup(alice); !e.hasItems {
		t.Fatal("alice's roster not cached while she is online")
	}
	if err := h.db.Stores().Accounts.DeleteAccount(h.ctx, alice); err != nil {
		t.Fatal(err)
	}
	h.r.EmitAccountDeleted(h.ctx, alice)
	if e, _ := h.mod.cache.lookup(alice); e.hasItems {
		t.Error("the deleted account's roster is still cached")
	}
}

// Users with nothing to cache (no items, version 0, no pending
// requests) share one entry per state of knowledge; a fill for one of
// them never shows in another's, and a user whose roster has items, or a
// version, keeps an entry of its own.
func TestCacheEmptyEntriesShared(t *testing.T) {
	c := newCache()
	online := func() bool { return true }
	alice, bob := jid.MustParse("alice@example.com"), jid.MustParse("bob@example.com")
	for _, u := range []jid.JID{alice, bob} {
		_, epoch := c.lookup(u)
		c.fill(u, epoch, online, func(e *cacheEntry) { e.hasItems = true })
		_, epoch = c.lookup(u)
		c.fill(u, epoch, online, func(e *cacheEntry) { e.hasReqs = true })
	}
	c.mu.Lock()
	shared := c.entries[alice] == c.entries[bob]
	c.mu.Unlock()
	if !shared {
		t.Error("two users with empty rosters and no requests hold an entry each")
	}
	_, epoch := c.lookup(bob)
	reqs := []storage.SubscriptionRequest{{From: alice}}
	c.fill(bob, epoch, online, func(e *cacheEntry) { e.reqs = reqs })
	if a, _ := c.lookup(alice); len(a.reqs) != 0 || !a.hasItems || !a.hasReqs {
		t.Errorf("bob's fill changed alice's entry: %+v", a)
	}
	if b, _ := c.lookup(bob); len(b.reqs) != 1 || !b.hasItems || !b.hasReqs {
		t.Errorf("bob's entry %+v, want his request and what was known", b)
	}
	_, epoch = c.lookup(alice)
	c.fill(alice, epoch, online, func(e *cacheEntry) { e.ver = 3 })
	if a, _ := c.lookup(alice); a.ver != 3 {
		t.Errorf("alice's version %d, want 3", a.ver)
	}
	if e := c.empty[1][1]; e.ver != 0 || len(e.items) != 0 || len(e.reqs) != 0 {
		t.Errorf("the shared empty entry was modified: %+v", e)
	}
}
