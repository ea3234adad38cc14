package roster

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/session"
	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// cache keeps the rosters and pending-in subscription requests of users
// who have a session. A login read the roster three times — at roster get,
// at initial presence (who gets it, whom to probe) and at logout (who gets
// unavailable) — and the pending requests once more, each a storage round
// trip; with the cache it reads each once per stay online.
//
// Every write of a user's roster or requests goes through this module,
// under the user's lock, and ends by invalidating the user's entry (the
// next read refills it). Reads fill the cache only when no invalidation of
// any user happened while they read the store (epoch), so a fill can never
// put back data that a concurrent write made stale. Entries are filled
// only for users with a session and dropped when the last one ends, or
// when the account is deleted.
type cache struct {
	mu      sync.Mutex
	epoch   uint64 // incremented by every invalidation
	entries map[jid.JID]*cacheEntry
	// empty are the entries of a user with nothing to cache — no roster
	// items (version 0) and no pending requests, as far as each is known
	// ([hasItems][hasReqs]) — shared by all such users: entries are
	// replaced, never modified, once stored.
	empty [2][2]*cacheEntry
}

// cacheEntry is one user's cached data. Its slices are shared with the
// callers, which must not modify them; a change replaces the entry.
type cacheEntry struct {
	items    []storage.RosterItem // in the store's order
	ver      int64
	hasItems bool
	reqs     []storage.SubscriptionRequest
	hasReqs  bool
}

func newCache() *cache {
	c := &cache{entries: make(map[jid.JID]*cacheEntry)}
	for i, items := range []bool{false, true} {
		for j, reqs := range []bool{false, true} {
			c.empty[i][j] = &cacheEntry{hasItems: items, hasReqs: reqs}
		}
	}
	return c
}

// lookup returns a copy of user's entry (the zero entry if none) and the
// current epoch, to pass to a fill.
func (c *cache) lookup(user jid.JID) (cacheEntry, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entries[user]; e != nil {
		return *e, c.epoch
	}
	return cacheEntry{}, c.epoch
}

// fill merges what set adds into user's entry, unless something was
// invalidated since epoch or the user has no session any more (online is
// asked under the cache's lock, so that it cannot race with drop).
func (c *cache) fill(user jid.JID, epoch uint64, online func() bool, set func(*cacheEntry)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.epoch != epoch || !online() {
		return
	}
	var e cacheEntry
	if old := c.entries[user]; old != nil {
		e = *old
	}
	set(&e)
	if len(e.items) == 0 && e.ver == 0 && len(e.reqs) == 0 {
		c.entries[user] = c.empty[b2i(e.hasItems)][b2i(e.hasReqs)]
		return
	}
	c.entries[user] = &e
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// invalidate drops user's entry after a write (or its attempt) and makes
// the fills in flight give up.
func (c *cache) invalidate(user jid.JID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	delete(c.entries, user)
}

// drop removes user's entry when its last session ended, unless online
// says a new session started meanwhile.
func (c *cache) drop(user jid.JID, online func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !online() {
		delete(c.entries, user)
	}
}

// len is the number of cached users (for tests).
func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// online reports whether user has a session on this node: the cache
// keeps the rosters of those only (in a cluster, the sessions of other
// nodes end without this node's knowing).
func (m *Module) online(user jid.JID) func() bool {
	return func() bool { return session.AnyLocal(m.host.Sessions().Sessions(user)) }
}

// rosterItems returns user's roster items, sorted by contact, and its
// version, from the cache when it has them. The slice is shared: callers
// must not modify it.
func (m *Module) rosterItems(ctx context.Context, user jid.JID) ([]storage.RosterItem, int64, error) {
	e, epoch := m.cache.lookup(user)
	if e.hasItems {
		return e.items, e.ver, nil
	}
	items, ver, err := m.host.Stores().Roster.RosterItems(ctx, user)
	if err != nil {
		return nil, 0, err
	}
	m.cache.fill(user, epoch, m.online(user), func(e *cacheEntry) {
		e.items, e.ver, e.hasItems = items, ver, true
	})
	return items, ver, nil
}

// subscriptionRequests returns user's pending-in requests, oldest first,
// from the cache when it has them. The slice is shared: callers must not
// modify it.
func (m *Module) subscriptionRequests(ctx context.Context, user jid.JID) ([]storage.SubscriptionRequest, error) {
	e, epoch := m.cache.lookup(user)
	if e.hasReqs {
		return e.reqs, nil
	}
	reqs, err := m.host.Stores().Roster.SubscriptionRequests(ctx, user)
	if err != nil {
		return nil, err
	}
	m.cache.fill(user, epoch, m.online(user), func(e *cacheEntry) {
		e.reqs, e.hasReqs = reqs, true
	})
	return reqs, nil
}

// cachedItem returns contact's item in user's roster if user's roster is
// cached; ok is false when it is not (found then says nothing).
func (m *Module) cachedItem(user, contact jid.JID) (it storage.RosterItem, found, ok bool) {
	e, _ := m.cache.lookup(user)
	if !e.hasItems {
		return it, false, false
	}
	// A scan, not a binary search: the backends' orders of contacts (SQL
	// collations) need not be Go's string order.
	i := slices.IndexFunc(e.items, func(it storage.RosterItem) bool { return it.Contact == contact })
	if i < 0 {
		return it, false, true
	}
	return e.items[i], true, true
}

// service is the module.RosterService the module provides: reads are
// answered from the cache when it holds the user's roster (it does for a
// user who sent initial presence or fetched the roster), else from the
// store. A read through the service never fills the cache: what is cached
// stays what the module itself read.
type service struct{ m *Module }

var _ module.RosterService = service{}

// RosterItem implements module.RosterService.
func (s service) RosterItem(ctx context.Context, user, contact jid.JID) (storage.RosterItem, error) {
	user, contact = user.Bare(), contact.Bare()
	it, found, ok := s.m.cachedItem(user, contact)
	if !ok {
		return s.m.host.Stores().Roster.RosterItem(ctx, user, contact)
	}
	if !found {
		return storage.RosterItem{}, fmt.Errorf("roster: %s in the roster of %s: %w", contact, user, storage.ErrNotFound)
	}
	return it, nil
}

// RosterItems implements module.RosterService.
func (s service) RosterItems(ctx context.Context, user jid.JID) ([]storage.RosterItem, int64, error) {
	user = user.Bare()
	if e, _ := s.m.cache.lookup(user); e.hasItems {
		return e.items, e.ver, nil
	}
	return s.m.host.Stores().Roster.RosterItems(ctx, user)
}
