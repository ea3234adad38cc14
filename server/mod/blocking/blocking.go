package blocking

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/session"
	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// Namespaces of XEP-0191.
const (
	NS       = "urn:xmpp:blocking"
	NSErrors = "urn:xmpp:blocking:errors"
)

// HookPriority is the priority of the enforcement hooks: they run before
// hooks of lower urgency (delivery side effects such as offline storage or
// archiving) so a blocked stanza leaves no trace.
const HookPriority = module.PriorityBlock

// Bounds of the cache of block lists: lists, and items over all lists
// (an item is a JID of at most a few hundred bytes in practice).
const (
	cacheLists = 10000
	cacheItems = 200_000
)

// DefaultMaxItems is the block list quota when Options.MaxItems is 0.
const DefaultMaxItems = 1000

// Options configure the module.
type Options struct {
	// MaxItems is the most entries one account's block list holds; a
	// block that would go past it gets <policy-violation/>. 0 means
	// DefaultMaxItems.
	MaxItems int
}

// requestedFlag marks, in a session's flags, a session that requested the
// block list: a flag, so that a cluster's other nodes push to it too.
const requestedFlag = "blocking"

// Module implements the blocking command.
type Module struct {
	host     module.Host
	store    storage.Blocking
	lists    *cache
	maxItems int
	// blockMu serialises blocks, so that racing ones cannot take a list
	// past maxItems between the check and the write. Nothing is routed
	// under it.
	blockMu sync.Mutex
	seq     atomic.Uint64
	// ours holds the stanzas this module routes itself, which its own
	// inbound hook must let through.
	ours sync.Map
}

// New returns the blocking module.
func New(o Options) *Module {
	if o.MaxItems <= 0 {
		o.MaxItems = DefaultMaxItems
	}
	return &Module{maxItems: o.MaxItems}
}

var _ module.Module = (*Module)(nil)

// Name implements module.Module.
func (*Module) Name() string { return "blocking" }

// Register implements module.Module.
func (m *Module) Register(r module.Registrar) error {
	m.host = r.Host()
	m.store = m.host.Stores().Blocking
	if m.store == nil {
		return errors.New("blocking: no blocking store")
	}
	m.lists = newCache(m.store, cacheLists, cacheItems)
	r.Feature(module.TargetServer, NS)
	r.Feature(module.TargetAccount, NS)
	r.HandleIQ(module.IQKey{Type: stanza.TypeGet, Name: xml.Name{Space: NS, Local: "blocklist"}, Target: module.TargetAccount}, m.blocklist)
	r.HandleIQ(module.IQKey{Type: stanza.TypeSet, Name: xml.Name{Space: NS, Local: "block"}, Target: module.TargetAccount}, m.block)
	r.HandleIQ(module.IQKey{Type: stanza.TypeSet, Name: xml.Name{Space: NS, Local: "unblock"}, Target: module.TargetAccount}, m.unblock)
	for _, k := range []stanza.Kind{stanza.KindMessage, stanza.KindPresence, stanza.KindIQ} {
		r.Hook(module.PhaseOutbound, k, HookPriority, m.outbound)
		r.Hook(module.PhaseInbound, k, HookPriority, m.inbound)
	}
	r.OnAccountDeleted(func(_ context.Context, user jid.JID) { m.forget(user) })
	// Another node of a cluster changed a block list cached here.
	r.OnInvalidate(cacheTopic, func(_ context.Context, user jid.JID) { m.lists.forget(user) })
	return nil
}

// Blocks reports whether user (a bare JID) blocks j.
func (m *Module) Blocks(ctx context.Context, user, j jid.JID) (bool, error) {
	list, err := m.lists.get(ctx, user.Bare())
	if err != nil {
		return false, err
	}
	return blocks(list, j), nil
}

func itemsElement(local string, items []jid.JID) *stanza.Element {
	el := stanza.New(NS, local)
	for _, j := range items {
		el.Append(stanza.New(NS, "item", "jid", j.String()))
	}
	return el
}

func parseItems(el *stanza.Element) ([]jid.JID, error) {
	var out []jid.JID
	for _, it := range el.ChildrenNamed(NS, "item") {
		j, err := jid.Parse(it.Get("jid"))
		if err != nil {
			return nil, stanza.Errorf(stanza.JIDMalformed, "item jid %q: %v", it.Get("jid"), err)
		}
		out = append(out, j)
	}
	return out, nil
}

func (m *Module) blocklist(ctx context.Context, q *module.IQ) (*stanza.Element, error) {
	if !q.FromSelf() {
		return nil, stanza.Err(stanza.Forbidden)
	}
	list, err := m.lists.get(ctx, q.To.Bare())
	if err != nil {
		return nil, err
	}
	if q.Session != nil {
		q.Session.SetFlag(requestedFlag, true)
	}
	return itemsElement("blocklist", list), nil
}

func (m *Module) block(ctx context.Context, q *module.IQ) (*stanza.Element, error) {
	if !q.FromSelf() {
		return nil, stanza.Err(stanza.Forbidden)
	}
	items, err := parseItems(q.Payload)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, stanza.Errorf(stanza.BadRequest, "block needs at least one item")
	}
	user := q.To.Bare()
	if err := m.storeBlock(ctx, user, items); err != nil {
		return nil, err
	}
	m.push(user, itemsElement("block", items))
	m.sendPresence(ctx, user, items, nil, true)
	return nil, nil
}

// storeBlock adds items to user's block list unless the list would hold
// more than maxItems entries then.
func (m *Module) storeBlock(ctx context.Context, user jid.JID, items []jid.JID) error {
	m.blockMu.Lock()
	defer m.blockMu.Unlock()
	list, err := m.lists.get(ctx, user)
	if err != nil {
		return err
	}
	n := len(list)
	seen := make(map[jid.JID]bool, len(items))
	for _, j := range items {
		if !seen[j] && !slices.Contains(list, j) {
			n++
		}
		seen[j] = true
	}
	if n > m.maxItems {
		m.host.Logger().Info("blocking: block list quota reached", "user", user, "limit", m.maxItems)
		return stanza.Errorf(stanza.PolicyViolation, "a block list holds at most %d items", m.maxItems)
	}
	err = m.store.Block(ctx, user, items)
	m.forget(user)
	if err != nil {
		return fmt.Errorf("blocking: block for %s: %w", user, err)
	}
	return nil
}

// cacheTopic names the block-list cache's invalidations between the
// nodes of a cluster (module.Host.Invalidate).
const cacheTopic = "blocking"

// forget drops user's cached block list here and on the other nodes of
// a cluster, after a write (or its attempt).
func (m *Module) forget(user jid.JID) {
	m.lists.forget(user)
	m.host.Invalidate(cacheTopic, user)
}

func (m *Module) unblock(ctx context.Context, q *module.IQ) (*stanza.Element, error) {
	if !q.FromSelf() {
		return nil, stanza.Err(stanza.Forbidden)
	}
	items, err := parseItems(q.Payload)
	if err != nil {
		return nil, err
	}
	user := q.To.Bare()
	before, err := m.lists.get(ctx, user)
	if err != nil {
		return nil, err
	}
	err = m.store.Unblock(ctx, user, items)
	m.forget(user)
	if err != nil {
		return nil, fmt.Errorf("blocking: unblock for %s: %w", user, err)
	}
	after, err := m.lists.get(ctx, user)
	if err != nil {
		return nil, err
	}
	m.push(user, itemsElement("unblock", items))
	unblocked := items
	if len(items) == 0 {
		unblocked = before
	}
	m.sendPresence(ctx, user, unblocked, after, false)
	return nil, nil
}

// push sends a block or unblock IQ-set to every session of user that
// requested the block list (§3.3).
func (m *Module) push(user jid.JID, payload *stanza.Element) {
	for _, s := range m.host.Sessions().Sessions(user) {
		if !s.Flag(requestedFlag) {
			continue
		}
		iq := stanza.NewIQ(stanza.TypeSet, "block-push-"+strconv.FormatUint(m.seq.Add(1), 36), s.JID().String(), payload.Clone())
		iq.Set("from", user.String())
		if err := s.Deliver(iq); err != nil {
			m.host.Logger().Warn("blocking: push failed", "to", s.JID(), "err", err)
		}
	}
}

// sendPresence sends, from each available resource of user, unavailable
// presence (blocked) or the resource's current presence (unblocked) to
// the contacts matched by items that may receive the user's presence and,
// when unblocking, are not blocked by the remaining list still.
func (m *Module) sendPresence(ctx context.Context, user jid.JID, items, still []jid.JID, blocked bool) {
	if len(items) == 0 {
		return
	}
	sessions := m.host.Sessions().Available(user)
	if len(sessions) == 0 {
		return
	}
	roster, _, err := m.host.Roster().RosterItems(ctx, user)
	if err != nil {
		m.host.Logger().Error("blocking: roster for presence", "user", user, "err", err)
		return
	}
	for _, ri := range roster {
		if ri.Subscription != storage.SubFrom && ri.Subscription != storage.SubBoth {
			continue
		}
		for _, to := range targets(items, ri.Contact) {
			if !blocked && blocks(still, to) {
				continue
			}
			for _, s := range sessions {
				m.presenceTo(ctx, s, to, blocked)
			}
		}
	}
}

// targets returns where presence for a contact goes for the given block
// list items: the contact's full JID when only that resource is listed,
// else its bare JID when any item matches it.
func targets(items []jid.JID, contact jid.JID) []jid.JID {
	var out []jid.JID
	bare := false
	for _, it := range items {
		switch {
		case it.Local() != "" && it.Resource() != "" && it.Bare() == contact:
			out = append(out, it)
		case Matches(it, contact):
			bare = true
		}
	}
	if bare {
		return []jid.JID{contact}
	}
	return out
}

func (m *Module) presenceTo(ctx context.Context, s *session.Session, to jid.JID, unavailable bool) {
	var p *stanza.Element
	if unavailable {
		p = stanza.New(stanza.NSClient, "presence", "type", stanza.TypeUnavailable)
	} else {
		cur := s.Presence()
		if cur == nil {
			return
		}
		p = cur.Clone()
	}
	p.Set("from", s.JID().String())
	p.Set("to", to.String())
	m.routeOwn(ctx, p)
}

// routeOwn routes a stanza the module generated, exempt from its own
// inbound hook.
func (m *Module) routeOwn(ctx context.Context, st *stanza.Element) {
	m.ours.Store(st, struct{}{})
	defer m.ours.Delete(st)
	m.host.Route(ctx, st)
}
