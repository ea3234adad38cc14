package pubsub

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
	xpubsub "github.com/parley-xmpp/parley/xmpp/pubsub"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// subscriberJID reads the required 'jid' attribute of subscribe and
// unsubscribe: its bare JID must be the requester's (XEP-0060 §6.1.3.1).
func subscriberJID(rq *request, el *stanza.Element) (jid.JID, error) {
	s := el.Get("jid")
	if s == "" {
		return jid.JID{}, xpubsub.Error(stanza.BadRequest, xpubsub.CondJIDRequired, "")
	}
	j, err := jid.Parse(s)
	if err != nil || j.Bare() != rq.from.Bare() {
		return jid.JID{}, xpubsub.Error(stanza.BadRequest, xpubsub.CondInvalidJID, "")
	}
	return j, nil
}

// subscribe handles <subscribe/> (XEP-0060 §6.1).
func (m *Module) subscribe(ctx context.Context, rq *request, el *stanza.Element) (*stanza.Element, error) {
	name, err := nodeAttr(el)
	if err != nil {
		return nil, err
	}
	who, err := subscriberJID(rq, el)
	if err != nil {
		return nil, err
	}
	n, err := m.loadNode(ctx, rq, name)
	if err != nil {
		return nil, err
	}
	if err := m.canAccess(ctx, rq, n, who); err != nil {
		return nil, err
	}
	subs, err := m.stores.PubSub.Subscriptions(ctx, rq.svc, name)
	if err != nil {
		return nil, fmt.Errorf("pubsub: subscriptions of %q: %w", name, err)
	}
	sub := storage.PubSubSubscription{Node: name, JID: who, SubID: newID(), State: stateSubscribed}
	for _, s := range subs {
		if s.JID == who {
			sub = s // already subscribed: the existing subscription is returned
		}
	}
	if err := m.stores.PubSub.SetSubscription(ctx, rq.svc, sub); err != nil {
		return nil, fmt.Errorf("pubsub: subscribe %s to %q: %w", who, name, err)
	}
	if n.cfg.SendLastPublishedItem != xpubsub.SendNever {
		rq.after = append(rq.after, func(ctx context.Context) { m.sendLast(ctx, rq, n, who) })
	}
	return pubsubResult(subscriptionEl(xpubsub.NS, sub)), nil
}

func subscriptionEl(space string, s storage.PubSubSubscription) *stanza.Element {
	el := stanza.New(space, "subscription", "node", s.Node, "jid", s.JID.String())
	el.Set("subid", s.SubID)
	return el.Set("subscription", s.State)
}

// sendLast sends the last published item of n to one address.
func (m *Module) sendLast(ctx context.Context, rq *request, n *node, to jid.JID) {
	items, err := m.stores.PubSub.PubSubItems(ctx, rq.svc, n.name, 1)
	if err != nil {
		m.log.ErrorContext(ctx, "pubsub: last item", "service", rq.svc, "node", n.name, "err", err)
		return
	}
	if len(items) == 0 {
		return
	}
	ev, err := m.eventOf(n, items[0])
	if err != nil {
		m.log.ErrorContext(ctx, "pubsub: stored item unreadable", "service", rq.svc, "node", n.name, "err", err)
		return
	}
	m.send(ctx, rq.svc, n, to, ev)
}

// unsubscribe handles <unsubscribe/> (XEP-0060 §6.2).
func (m *Module) unsubscribe(ctx context.Context, rq *request, el *stanza.Element) (*stanza.Element, error) {
	name, err := nodeAttr(el)
	if err != nil {
		return nil, err
	}
	who, err := subscriberJID(rq, el)
	if err != nil {
		return nil, err
	}
	if _, err := m.loadNode(ctx, rq, name); err != nil {
		return nil, err
	}
	subs, err := m.stores.PubSub.Subscriptions(ctx, rq.svc, name)
	if err != nil {
		return nil, fmt.Errorf("pubsub: subscriptions of %q: %w", name, err)
	}
	var mine []storage.PubSubSubscription
	for _, s := range subs {
		if s.JID == who {
			mine = append(mine, s)
		}
	}
	if len(mine) == 0 {
		return nil, xpubsub.Error(stanza.UnexpectedRequest, xpubsub.CondNotSubscribed, "")
	}
	subid := el.Get("subid")
	if subid == "" && len(mine) > 1 {
		return nil, xpubsub.Error(stanza.BadRequest, xpubsub.CondSubIDRequired, "")
	}
	target := mine[0]
	if subid != "" {
		found := false
		for _, s := range mine {
			if s.SubID == subid {
				target, found = s, true
			}
		}
		if !found {
			return nil, xpubsub.Error(stanza.NotAcceptable, xpubsub.CondInvalidSubID, "")
		}
	}
	target.State = affNone
	if err := m.stores.PubSub.SetSubscription(ctx, rq.svc, target); err != nil {
		return nil, fmt.Errorf("pubsub: unsubscribe %s from %q: %w", who, name, err)
	}
	return nil, nil
}

// items handles <items/> (XEP-0060 §6.5): all, the newest max_items, or
// the items named by id.
func (m *Module) items(ctx context.Context, rq *request, el *stanza.Element) (*stanza.Element, error) {
	name, err := nodeAttr(el)
	if err != nil {
		return nil, err
	}
	n, err := m.loadNode(ctx, rq, name)
	if err != nil {
		return nil, err
	}
	if err := m.canAccess(ctx, rq, n, rq.from); err != nil {
		return nil, err
	}
	var stored []storage.PubSubItem
	if want := el.ChildrenNamed(xpubsub.NS, "item"); len(want) > 0 {
		for _, w := range want {
			it, err := m.stores.PubSub.PubSubItem(ctx, rq.svc, name, w.Get("id"))
			if errors.Is(err, storage.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("pubsub: item of %q: %w", name, err)
			}
			stored = append(stored, it)
		}
	} else {
		max := 0
		if s := el.Get("max_items"); s != "" {
			if max, err = strconv.Atoi(s); err != nil || max < 1 {
				return nil, stanza.Errorf(stanza.BadRequest, "invalid max_items %q", s)
			}
		}
		if stored, err = m.stores.PubSub.PubSubItems(ctx, rq.svc, name, max); err != nil {
			return nil, fmt.Errorf("pubsub: items of %q: %w", name, err)
		}
	}
	res := stanza.New(xpubsub.NS, "items", "node", name)
	for _, s := range stored {
		it, err := decodeItem(s)
		if err != nil {
			return nil, fmt.Errorf("pubsub: stored item of %q: %w", name, err)
		}
		res.Append(it.Element(xpubsub.NS))
	}
	return pubsubResult(res), nil
}

// ownSubscriptions handles the entity's <subscriptions/> (§5.6).
func (m *Module) ownSubscriptions(ctx context.Context, rq *request, el *stanza.Element) (*stanza.Element, error) {
	subs, err := m.stores.PubSub.Subscriptions(ctx, rq.svc, el.Get("node"))
	if err != nil {
		return nil, fmt.Errorf("pubsub: subscriptions on %s: %w", rq.svc, err)
	}
	res := stanza.New(xpubsub.NS, "subscriptions")
	res.Set("node", el.Get("node"))
	for _, s := range subs {
		if s.JID.Bare() == rq.from.Bare() {
			res.Append(subscriptionEl(xpubsub.NS, s))
		}
	}
	return pubsubResult(res), nil
}

// ownAffiliations handles the entity's <affiliations/> (§5.7).
func (m *Module) ownAffiliations(ctx context.Context, rq *request, el *stanza.Element) (*stanza.Element, error) {
	res := stanza.New(xpubsub.NS, "affiliations")
	res.Set("node", el.Get("node"))
	if rq.pep && rq.from.Bare() == rq.svc {
		nodes, err := m.stores.PubSub.PubSubNodes(ctx, rq.svc)
		if err != nil {
			return nil, fmt.Errorf("pubsub: nodes of %s: %w", rq.svc, err)
		}
		for _, n := range nodes {
			if el.Get("node") == "" || el.Get("node") == n.Node {
				res.Append(stanza.New(xpubsub.NS, "affiliation", "node", n.Node, "affiliation", affOwner))
			}
		}
		return pubsubResult(res), nil
	}
	affs, err := m.stores.PubSub.Affiliations(ctx, rq.svc, el.Get("node"))
	if err != nil {
		return nil, fmt.Errorf("pubsub: affiliations on %s: %w", rq.svc, err)
	}
	for _, a := range affs {
		if a.JID == rq.from.Bare() {
			res.Append(stanza.New(xpubsub.NS, "affiliation", "node", a.Node, "affiliation", a.Affiliation))
		}
	}
	return pubsubResult(res), nil
}
