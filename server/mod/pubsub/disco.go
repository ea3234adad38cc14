package pubsub

import (
	"context"
	"fmt"

	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/xmpp/disco"
	"github.com/parley-xmpp/parley/xmpp/jid"
	xpubsub "github.com/parley-xmpp/parley/xmpp/pubsub"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// serviceInfo answers disco#info on the service (XEP-0060 §5.1) and on
// one of its nodes (§5.3).
func (m *Module) serviceInfo(ctx context.Context, rq *request, q *stanza.Element) (*stanza.Element, error) {
	name := q.Get("node")
	if name == "" {
		info := disco.Info{
			Identities: []disco.Identity{{Category: "pubsub", Type: "service", Name: "Publish-Subscribe"}},
			Features:   []string{disco.NSInfo, disco.NSItems, xpubsub.NS},
		}
		for _, f := range pepFeatures {
			info.Features = append(info.Features, xpubsub.Feature(f))
		}
		return info.Element(), nil
	}
	n, err := m.loadNode(ctx, rq, name)
	if err != nil {
		return nil, err
	}
	info := disco.Info{
		Node:       name,
		Identities: []disco.Identity{{Category: "pubsub", Type: "leaf"}},
		Features:   []string{disco.NSInfo, disco.NSItems, xpubsub.NS},
		Forms:      []*stanza.Element{n.cfg.Form(xpubsub.NSMetaData, "result").Element()},
	}
	return info.Element(), nil
}

// serviceItems answers disco#items: the nodes the requester may access
// (§5.2), or the item ids of one node (§5.5).
func (m *Module) serviceItems(ctx context.Context, rq *request, q *stanza.Element) (*stanza.Element, error) {
	name := q.Get("node")
	var res disco.Items
	res.Node = name
	if name == "" {
		items, err := m.visibleNodes(ctx, rq)
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			res.Items = append(res.Items, disco.Item{JID: it.JID, Node: it.Node, Name: it.Name})
		}
		return res.Element(), nil
	}
	n, err := m.loadNode(ctx, rq, name)
	if err != nil {
		return nil, err
	}
	if err := m.canAccess(ctx, rq, n, rq.from); err != nil {
		return nil, err
	}
	items, err := m.stores.PubSub.PubSubItems(ctx, rq.svc, name, 0)
	if err != nil {
		return nil, fmt.Errorf("pubsub: items of %q: %w", name, err)
	}
	for _, it := range items {
		res.Items = append(res.Items, disco.Item{JID: rq.svc, Name: it.ID})
	}
	return res.Element(), nil
}

// visibleNodes lists the nodes of rq.svc the requester may subscribe to
// or retrieve items from (XEP-0060 §5.2, XEP-0163 §7): all of them for an
// owner, else those whose access model admits it.
func (m *Module) visibleNodes(ctx context.Context, rq *request) ([]module.DiscoItem, error) {
	nodes, err := m.stores.PubSub.PubSubNodes(ctx, rq.svc)
	if err != nil {
		return nil, fmt.Errorf("pubsub: nodes of %s: %w", rq.svc, err)
	}
	var out []module.DiscoItem
	for _, sn := range nodes {
		n, err := m.loadNode(ctx, rq, sn.Node)
		if err != nil || m.canAccess(ctx, rq, n, rq.from) != nil {
			continue
		}
		out = append(out, module.DiscoItem{JID: rq.svc, Node: sn.Node, Name: n.cfg.Title})
	}
	return out, nil
}

// pepItems lists an account's PEP nodes in the disco#items of its bare
// JID, as its access models let the requester see them.
func (m *Module) pepItems(ctx context.Context, account, from jid.JID) ([]module.DiscoItem, error) {
	return m.visibleNodes(ctx, &request{svc: account, pep: true, from: from})
}
