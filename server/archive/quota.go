package archive

import (
	"context"
	"sync"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// maxUsageEntries bounds the usage cache: past it an arbitrary entry
// goes, and that account's usage is read again at its next message.
const maxUsageEntries = 1 << 16

// usageCache keeps the archive usage of the accounts that received or sent
// messages lately, so that enforcing the archive quota costs no query per
// message: each archived message adds its size here, and only when an
// account goes over its quota is the archive trimmed, in storage, to a
// tenth below the quota, which also gives the true usage back. An account
// missing from the cache costs one usage query at its next message.
//
// The cache may overestimate (a retention purge or a trim elsewhere is not
// seen): that only makes the next trim come earlier, and the trim corrects
// it. Two first messages of one account racing may both be counted in
// the usage read: the same.
type usageCache struct {
	mu      sync.Mutex
	entries map[jid.JID]*usageEntry
}

type usageEntry struct {
	usage    storage.Usage
	trimming bool // a trim of this archive is running
}

func newUsageCache() *usageCache { return &usageCache{entries: make(map[jid.JID]*usageEntry)} }

// add counts one archived message of size bytes for user. known is false
// when user has no entry (the caller reads the usage and calls set).
// trim is true when the archive is over q and the caller must trim it
// (then the entry is marked trimming until done is called).
func (c *usageCache) add(user jid.JID, size int, q storage.Quota) (known, trim bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[user]
	if e == nil {
		return false, false
	}
	e.usage.Count++
	e.usage.Bytes += int64(size)
	if e.trimming || !e.usage.Exceeds(q) {
		return true, false
	}
	e.trimming = true
	return true, true
}

// set records the usage read from storage for user (unless another
// caller recorded it first) and reports whether the archive must be
// trimmed, as add does.
func (c *usageCache) set(user jid.JID, u storage.Usage, q storage.Quota) (trim bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[user]
	if e == nil {
		if len(c.entries) >= maxUsageEntries {
			for k := range c.entries {
				delete(c.entries, k)
				break
			}
		}
		e = &usageEntry{usage: u}
		c.entries[user] = e
	}
	if e.trimming || !e.usage.Exceeds(q) {
		return false
	}
	e.trimming = true
	return true
}

// done ends a trim of user's archive; left is what the trim left, ok
// false when it failed (the entry goes, to be read again).
func (c *usageCache) done(user jid.JID, left storage.Usage, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[user]
	if e == nil {
		return
	}
	if !ok {
		delete(c.entries, user)
		return
	}
	e.usage, e.trimming = left, false
}

// forget drops user's entry (account deleted, archive deleted).
func (c *usageCache) forget(user jid.JID) {
	c.mu.Lock()
	delete(c.entries, user)
	c.mu.Unlock()
}

// lowWater is what a trim leaves of q: nine tenths, so that a full
// archive is trimmed once per tenth of its quota, not at every message.
func lowWater(q storage.Quota) storage.Quota {
	l := q
	if q.Count > 0 {
		l.Count = max(1, q.Count-q.Count/10)
	}
	if q.Bytes > 0 {
		l.Bytes = max(1, q.Bytes-q.Bytes/10)
	}
	return l
}

// enforceQuota counts a message of size bytes just archived in owner's
// archive and trims the archive when it went over the quota: the oldest
// messages are deleted (rolling retention). The message itself is never
// refused.
func (w *Writer) enforceQuota(ctx context.Context, owner jid.JID, size int) {
	q := w.quota
	if q.Count <= 0 && q.Bytes <= 0 {
		return
	}
	known, trim := w.usage.add(owner, size, q)
	if !known {
		u, err := w.store.ArchiveUsage(ctx, owner)
		if err != nil {
			w.log.Error(w.name+": cannot read the archive's usage", "archive", owner, "err", err)
			return
		}
		trim = w.usage.set(owner, u, q)
	}
	if !trim {
		return
	}
	removed, left, err := w.store.TrimArchive(ctx, owner, lowWater(q))
	w.usage.done(owner, left, err == nil)
	if err != nil {
		w.log.Error(w.name+": cannot trim an archive over its quota", "archive", owner, "err", err)
		return
	}
	if removed.Count > 0 {
		w.log.Info(w.name+": archive quota reached, oldest messages deleted", "archive", owner,
			"deleted", removed.Count, "deleted_bytes", removed.Bytes, "kept", left.Count, "kept_bytes", left.Bytes,
			"max_messages", q.Count, "max_bytes", q.Bytes)
	}
}
