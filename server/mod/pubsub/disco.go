package pubsub

import (
	"context"
	"fmt"

	"github.com/parley-xmpp/parley/xmpp/disco"
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
		nodes, err := m.stores.PubSub.PubSubNodes(ctx, rq.svc)
		if err != nil {
			return nil, fmt.Errorf("pubsub: nodes of %s: %w", rq.svc, err)
		}
		for _, sn := range nodes {
			n, err := m.loadNode(ctx, rq, sn.Node)
			if err != nil || m.canAccess(ctx, rq, n, rq.from) != nil {
				continue
			}
			res.Items = append(res.Items, disco.Item{JID: rq.svc, Node: sn.Node, Name: n.cfg.Title})
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
