package blocking

import (
	"context"
	"fmt"
	"sync"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// Matches reports whether the block list item blocks j, with the rules of
// XEP-0191 §5: a full JID matches only itself, a bare JID any of its
// resources, domain/resource only that resource of the domain, and a
// domain the domain itself and every JID at it.
func Matches(item, j jid.JID) bool {
	switch {
	case item.Local() != "" && item.Resource() != "":
		return item == j
	case item.Local() != "":
		return item == j.Bare()
	case item.Resource() != "":
		return j.Local() == "" && item == j
	default:
		return item.Domain() == j.Domain()
	}
}

// blocks reports whether any item of list matches j.
func blocks(list []jid.JID, j jid.JID) bool {
	for _, item := range list {
		if Matches(item, j) {
			return true
		}
	}
	return false
}

// cache keeps block lists of accounts in memory. A load that raced with a
// change is not stored (gen tells them apart), so the cache never holds a
// list older than the store's.
type cache struct {
	store    storage.Blocking
	max      int // lists
	maxItems int // items over all lists

	mu    sync.Mutex
	gen   uint64
	items int // items over all cached lists
	lists map[jid.JID][]jid.JID
}

func newCache(store storage.Blocking, max, maxItems int) *cache {
	return &cache{store: store, max: max, maxItems: maxItems, lists: make(map[jid.JID][]jid.JID)}
}

// get returns the block list of the bare JID user.
func (c *cache) get(ctx context.Context, user jid.JID) ([]jid.JID, error) {
	c.mu.Lock()
	list, ok := c.lists[user]
	gen := c.gen
	c.mu.Unlock()
	if ok {
		return list, nil
	}
	list, err := c.store.BlockList(ctx, user)
	if err != nil {
		return nil, fmt.Errorf("blocking: block list of %s: %w", user, err)
	}
	c.mu.Lock()
	if c.gen == gen {
		if len(c.lists) >= c.max || c.items+len(list) > c.maxItems {
			clear(c.lists)
			c.items = 0
		}
		if len(list) <= c.maxItems {
			c.items += len(list)
			c.lists[user] = list
		}
	}
	c.mu.Unlock()
	return list, nil
}

// forget drops user's cached list; call it after changing the store.
func (c *cache) forget(user jid.JID) {
	c.mu.Lock()
	c.gen++
	c.items -= len(c.lists[user])
	delete(c.lists, user)
	c.mu.Unlock()
}
