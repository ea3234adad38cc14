package pubsub

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/parley-xmpp/parley/xmpp/caps"
	"github.com/parley-xmpp/parley/xmpp/disco"
	"github.com/parley-xmpp/parley/xmpp/jid"
	xpubsub "github.com/parley-xmpp/parley/xmpp/pubsub"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// capsQueryTimeout bounds one disco#info query for capabilities.
const capsQueryTimeout = 10 * time.Second

// maxCapsEntries bounds the cache of verified 'ver' values.
const maxCapsEntries = 10000

// maxCapsJIDs bounds the full JIDs whose caps are recorded. Those of
// sessions of other nodes of a cluster are never forgotten at their end
// (this node does not see it); past the bound every record is dropped
// and recorded again from the presence the directory holds.
const maxCapsJIDs = 200000

// capsCache is the XEP-0115 cache: the features of each verified
// hash+ver, which one each full JID advertises, and the lookups in flight
// with what waits for them.
type capsCache struct {
	mu       sync.Mutex
	byVer    map[string][]string
	byJID    map[jid.JID]string
	inflight map[string][]func(ctx context.Context)
}

func newCapsCache() *capsCache {
	return &capsCache{
		byVer:    make(map[string][]string),
		byJID:    make(map[jid.JID]string),
		inflight: make(map[string][]func(ctx context.Context)),
	}
}

// capsKey names a capability set: hash and ver for the current format,
// node#ver for the legacy one, per JID when the result did not verify.
func capsKey(c caps.Caps) string {
	if c.Hash == "" {
		return "legacy " + c.Node + "#" + c.Ver
	}
	return c.Hash + " " + c.Ver
}

// wants reports whether full advertised interest in node's notifications.
func (c *capsCache) wants(full jid.JID, node string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	key, ok := c.byJID[full]
	if !ok {
		return false
	}
	return slices.Contains(c.byVer[key], node+xpubsub.NotifySuffix)
}

// interest reports, under one lock, whether full advertised interest in
// node's notifications, or, when that is not known yet, whether a query
// for the features behind its caps is in flight.
func (c *capsCache) interest(full jid.JID, node string) (wants, resolving bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key, ok := c.byJID[full]
	if !ok {
		return false, false
	}
	if features, known := c.byVer[key]; known {
		return slices.Contains(features, node+xpubsub.NotifySuffix), false
	}
	_, busy := c.inflight[key]
	return false, busy
}

// whenKnown queues fn to run once the features behind full's caps are
// known, when a query for them is still in flight, and reports whether it
// did; otherwise what wants says is already final.
func (c *capsCache) whenKnown(full jid.JID, fn func(ctx context.Context)) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	key, ok := c.byJID[full]
	if !ok {
		return false
	}
	if _, known := c.byVer[key]; known {
		return false
	}
	waiting, busy := c.inflight[key]
	if !busy {
		return false
	}
	c.inflight[key] = append(waiting, fn)
	return true
}

// known reports whether the caps full advertised were recorded.
func (c *capsCache) known(full jid.JID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.byJID[full]
	return ok
}

// forget drops what full advertised.
func (c *capsCache) forget(full jid.JID) {
	c.mu.Lock()
	delete(c.byJID, full)
	delete(c.byVer, "jid "+full.String())
	c.mu.Unlock()
}

// recordCaps notes the <c/> of an available presence from full and runs
// then once the features behind it are known: at once when cached, after
// a disco#info query otherwise (in the background: the presence may come
// from the very session that must answer). Without <c/> full advertises
// nothing and then does not run.
func (m *Module) recordCaps(ctx context.Context, full jid.JID, cEl *stanza.Element, then func(ctx context.Context)) {
	if cEl == nil {
		m.caps.forget(full)
		return
	}
	cp, err := caps.Parse(cEl)
	if err != nil {
		m.caps.forget(full)
		return
	}
	key := capsKey(cp)
	c := m.caps
	c.mu.Lock()
	if _, ok := c.byJID[full]; !ok && len(c.byJID) >= maxCapsJIDs {
		clear(c.byJID)
	}
	c.byJID[full] = key
	if _, ok := c.byVer[key]; ok {
		c.mu.Unlock()
		then(ctx)
		return
	}
	waiting, busy := c.inflight[key]
	c.inflight[key] = append(waiting, then)
	c.mu.Unlock()
	if busy {
		return
	}
	m.goBackground(func(ctx context.Context) { m.resolveCaps(ctx, full, cp, key) })
}

// resolveCaps asks full for the features behind its caps and runs what
// waited for them.
func (m *Module) resolveCaps(ctx context.Context, full jid.JID, cp caps.Caps, key string) {
	qctx, cancel := context.WithTimeout(ctx, capsQueryTimeout)
	defer cancel()
	from := full.Domain()
	if !m.host.IsLocal(from) {
		from = m.host.Domains()[0]
	}
	q := disco.Info{Node: cp.Node + "#" + cp.Ver}.Element()
	iq := stanza.NewIQ(stanza.TypeGet, "", full.String(), q)
	iq.Set("from", from)
	res, err := m.host.SendIQ(qctx, iq)
	var features []string
	if err != nil {
		m.log.DebugContext(ctx, "pubsub: caps query failed", "to", full, "err", err)
	} else if info, perr := disco.ParseInfo(res.Child(disco.NSInfo, "query")); perr == nil {
		features = info.Features
		if cp.Hash != "" {
			if ver, verr := caps.Ver(info, cp.Hash); verr != nil || ver != cp.Ver || caps.Check(info) != nil {
				// Not verifiable: keep it for this JID only (XEP-0115 §5.4).
				m.log.DebugContext(ctx, "pubsub: caps did not verify", "from", full)
				key2 := "jid " + full.String()
				c := m.caps
				c.mu.Lock()
				c.byVer[key2] = features
				if c.byJID[full] == key {
					c.byJID[full] = key2
				}
				waiting := c.inflight[key]
				delete(c.inflight, key)
				c.mu.Unlock()
				for _, fn := range waiting {
					fn(ctx)
				}
				return
			}
		}
	}
	c := m.caps
	c.mu.Lock()
	if err == nil {
		if len(c.byVer) >= maxCapsEntries {
			clear(c.byVer)
		}
		c.byVer[key] = features
	}
	waiting := c.inflight[key]
	delete(c.inflight, key)
	c.mu.Unlock()
	for _, fn := range waiting {
		fn(ctx)
	}
}
