package pubsub

import (
	"context"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/caps"
	"github.com/parley-xmpp/parley/xmpp/jid"
	xpubsub "github.com/parley-xmpp/parley/xmpp/pubsub"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// decodeItem parses a stored item.
func decodeItem(s storage.PubSubItem) (xpubsub.Item, error) {
	it := xpubsub.Item{ID: s.ID}
	if len(s.Payload) > 0 {
		el, err := stream.ParseElement(s.Payload, stream.DefaultLimits())
		if err != nil {
			return it, err
		}
		it.Payload = el
	}
	return it, nil
}

// eventOf is the notification of a stored item.
func (m *Module) eventOf(n *node, s storage.PubSubItem) (xpubsub.Event, error) {
	it, err := decodeItem(s)
	if err != nil {
		return xpubsub.Event{}, err
	}
	if !n.cfg.DeliverPayloads {
		it.Payload = nil
	}
	return xpubsub.Event{Node: n.name, Items: []xpubsub.Item{it}}, nil
}

// send routes one notification from the service (XEP-0163 §4.3.1: from
// the account's bare JID on PEP).
func (m *Module) send(ctx context.Context, svc jid.JID, n *node, to jid.JID, ev xpubsub.Event) {
	typ := n.cfg.NotificationType
	if typ == "" {
		typ = stanza.TypeHeadline
	}
	msg := stanza.New(stanza.NSClient, "message", "from", svc.String(), "to", to.String(), "type", typ, "id", newID())
	m.host.Route(ctx, msg.Append(ev.Element()))
}

// notify sends ev to every recipient of n. A PEP resource whose caps are
// still being resolved (it has just come online) gets ev once they are
// known, if they show interest in n.
func (m *Module) notify(ctx context.Context, rq *request, n *node, ev xpubsub.Event) {
	now, pending := m.recipients(ctx, rq, n)
	for _, to := range now {
		m.send(ctx, rq.svc, n, to, ev)
	}
	svc := rq.svc
	for _, full := range pending {
		queued := m.caps.whenKnown(full, func(ctx context.Context) {
			if m.caps.wants(full, n.name) {
				m.send(ctx, svc, n, full, ev)
			}
		})
		if !queued && m.caps.wants(full, n.name) {
			m.send(ctx, svc, n, full, ev) // resolved in the meantime
		}
	}
}

// recipients applies XEP-0060 §7.1.2.1 and XEP-0163 §4.3: explicit
// subscribers the access model still admits; on PEP also the owner's
// resources and the resources of contacts the access model admits, each
// only when its capabilities show "<node>+notify".
func (m *Module) recipients(ctx context.Context, rq *request, n *node) (out, pending []jid.JID) {
	seen := map[jid.JID]bool{}
	add := func(j jid.JID) {
		if !seen[j] && !seen[j.Bare()] {
			seen[j] = true
			out = append(out, j)
		}
	}
	subs, err := m.stores.PubSub.Subscriptions(ctx, rq.svc, n.name)
	if err != nil {
		m.log.ErrorContext(ctx, "pubsub: subscriptions for notification", "service", rq.svc, "node", n.name, "err", err)
	}
	for _, s := range subs {
		if s.State != stateSubscribed {
			continue
		}
		if m.canAccess(ctx, rq, n, s.JID) != nil {
			continue
		}
		add(s.JID)
	}
	if !rq.pep {
		return out, nil
	}
	interested := func(full jid.JID) {
		switch wants, resolving := m.caps.interest(full, n.name); {
		case wants:
			add(full)
		case resolving && !seen[full] && !seen[full.Bare()]:
			pending = append(pending, full)
		}
	}
	for _, full := range m.available(ctx, rq.svc) {
		interested(full)
	}
	items, _, err := m.stores.Roster.RosterItems(ctx, rq.svc)
	if err != nil {
		m.log.ErrorContext(ctx, "pubsub: roster for notification", "service", rq.svc, "err", err)
		return out, pending
	}
	for _, it := range items {
		if it.Subscription != storage.SubFrom && it.Subscription != storage.SubBoth {
			continue
		}
		if m.canAccess(ctx, rq, n, it.Contact) != nil {
			continue
		}
		for _, full := range m.available(ctx, it.Contact) {
			interested(full)
		}
	}
	return out, pending
}

// available lists the full JIDs of user's available resources: local
// sessions, or those seen sending available presence to a local account.
//
// The caps of a session this module has not seen presence from — one
// bound on another node of a cluster, whose presence that node routed —
// are recorded from the presence the directory holds for it.
func (m *Module) available(ctx context.Context, user jid.JID) []jid.JID {
	if m.host.IsLocal(user.Domain()) {
		var out []jid.JID
		for _, s := range m.host.Sessions().Available(user) {
			out = append(out, s.JID())
			if m.caps.known(s.JID()) {
				continue
			}
			if p := s.Presence(); p != nil {
				if c := p.Child(caps.NS, "c"); c != nil {
					m.recordCaps(ctx, s.JID(), c, func(context.Context) {})
				}
			}
		}
		return out
	}
	return m.presence.remoteResources(user)
}
