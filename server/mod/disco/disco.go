package disco

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/caps"
	xdisco "github.com/parley-xmpp/parley/xmpp/disco"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// CapsNode is the XEP-0115 node naming this software.
const CapsNode = "https://parley.im"

// Module is the service discovery module.
type Module struct {
	name string // the server identity's name
	host module.Host
	// caps is the server's caps as last computed, for the DiscoView of
	// its Gen: recomputed when the server's disco#info changes (a
	// component's features nested in it, XEP-0355 §9.2).
	caps atomic.Pointer[serverCaps]
}

// serverCaps are the server's XEP-0115 caps for one view of its
// disco#info.
type serverCaps struct {
	view *module.DiscoView
	ver  string
	c    *stanza.Element // the stream feature; never modified
}

// New returns the disco module; name is the human-readable name of the
// server identity (e.g. "Parley"), empty for none.
func New(name string) *Module {
	return &Module{name: name}
}

var (
	_ module.Module  = (*Module)(nil)
	_ module.Starter = (*Module)(nil)
)

// Name implements module.Module.
func (m *Module) Name() string { return "disco" }

// Register implements module.Module.
func (m *Module) Register(r module.Registrar) error {
	m.host = r.Host()
	for _, t := range []module.Target{module.TargetServer, module.TargetAccount} {
		r.Feature(t, xdisco.NSInfo)
		r.Feature(t, xdisco.NSItems)
	}
	r.Feature(module.TargetServer, caps.NS)
	r.Identity(module.TargetServer, module.Identity{Category: "server", Type: "im", Name: m.name})
	r.Identity(module.TargetAccount, module.Identity{Category: "account", Type: "registered"})

	infoName := xmlName(xdisco.NSInfo)
	itemsName := xmlName(xdisco.NSItems)
	r.HandleIQ(module.IQKey{Type: stanza.TypeGet, Name: infoName, Target: module.TargetServer}, m.serverInfo)
	r.HandleIQ(module.IQKey{Type: stanza.TypeGet, Name: infoName, Target: module.TargetAccount}, m.accountInfo)
	r.HandleIQ(module.IQKey{Type: stanza.TypeGet, Name: itemsName, Target: module.TargetServer}, m.items)
	r.HandleIQ(module.IQKey{Type: stanza.TypeGet, Name: itemsName, Target: module.TargetAccount}, m.accountItems)

	r.StreamFeatureFunc(func() *stanza.Element {
		if sc := m.current(); sc != nil {
			return sc.c
		}
		return nil
	})
	return nil
}

// Start computes the caps 'ver' of the server now that every module has
// registered its features. It returns at once.
func (m *Module) Start(context.Context) error {
	sc := m.current()
	if sc == nil {
		return errors.New("disco: the server's caps cannot be computed")
	}
	m.host.Logger().Debug("disco: caps computed", "ver", sc.ver)
	return nil
}

// Ver returns the server's caps 'ver' as its disco#info is now.
func (m *Module) Ver() string {
	if sc := m.current(); sc != nil {
		return sc.ver
	}
	return ""
}

// current returns the server's caps for its disco#info as it is now,
// computing them if it changed since they last were; nil if they cannot
// be (an unknown hash, never).
func (m *Module) current() *serverCaps {
	v := m.host.DiscoView(module.TargetServer)
	if sc := m.caps.Load(); sc != nil && sc.view.Gen == v.Gen {
		return sc
	}
	ver, err := caps.Ver(info(v, ""), caps.SHA1)
	if err != nil {
		m.host.Logger().Error("disco: caps ver", "err", err)
		return nil
	}
	sc := &serverCaps{view: v, ver: ver, c: caps.Caps{Hash: caps.SHA1, Node: CapsNode, Ver: ver}.Element()}
	// Two computing at once store the same, or views one after the
	// other: the next call recomputes if an older one won.
	m.caps.Store(sc)
	return sc
}

// info is the disco#info of a view.
func info(v *module.DiscoView, node string) xdisco.Info {
	out := xdisco.Info{Node: node, Features: append([]string(nil), v.Features...), Forms: v.Forms}
	for _, id := range v.Identities {
		out.Identities = append(out.Identities, xdisco.Identity{Category: id.Category, Type: id.Type, Name: id.Name})
	}
	return out
}

func (m *Module) serverInfo(ctx context.Context, q *module.IQ) (*stanza.Element, error) {
	node := q.Payload.Get("node")
	sc := m.current()
	switch {
	case sc == nil:
		return nil, errors.New("disco: the server's caps cannot be computed")
	case node == "":
		return info(sc.view, "").Element(), nil
	case node == CapsNode+"#"+sc.ver:
		// XEP-0115 §6.2: the view the 'ver' hashes.
		return info(sc.view, node).Element(), nil
	}
	return m.nodeInfo(ctx, q, module.TargetServer, node)
}

func (m *Module) accountInfo(ctx context.Context, q *module.IQ) (*stanza.Element, error) {
	if q.Payload.Get("node") != "" {
		return nil, stanza.Err(stanza.ItemNotFound)
	}
	ok, err := m.authorized(ctx, q)
	if err != nil {
		return nil, err
	}
	if !ok {
		// XEP-0030 §8 rule 1.2: same answer as for a missing account.
		return nil, stanza.Err(stanza.ServiceUnavailable)
	}
	return info(m.host.DiscoView(module.TargetAccount), "").Element(), nil
}

// authorized reports whether the requester may learn about the target
// account: it is the account itself, or the account's roster gives it a
// subscription of "from" or "both".
func (m *Module) authorized(ctx context.Context, q *module.IQ) (bool, error) {
	if q.FromSelf() {
		return true, nil
	}
	item, err := m.host.Roster().RosterItem(ctx, q.To.Bare(), q.From.Bare())
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("disco: roster of %s: %w", q.To.Bare(), err)
	}
	return item.Subscription == storage.SubFrom || item.Subscription == storage.SubBoth, nil
}

// items lists the service domains modules serve (XEP-0030 §4).
func (m *Module) items(ctx context.Context, q *module.IQ) (*stanza.Element, error) {
	if node := q.Payload.Get("node"); node != "" {
		return m.nodeItems(ctx, q, module.TargetServer, node)
	}
	var res xdisco.Items
	for _, d := range m.host.Services() {
		if j, err := jid.Parse(d); err == nil {
			res.Items = append(res.Items, xdisco.Item{JID: j})
		}
	}
	return res.Element(), nil
}

// accountItems answers disco#items on an account's bare JID: what modules
// list for the requester (the account's PEP nodes its access models let
// the requester see, XEP-0163 §7 and XEP-0060 §5.2), nothing else
// (available resources are not listed; XEP-0030 §8 rule 2).
func (m *Module) accountItems(ctx context.Context, q *module.IQ) (*stanza.Element, error) {
	if q.Payload.Get("node") != "" {
		return nil, stanza.Err(stanza.ItemNotFound)
	}
	var res xdisco.Items
	for _, fn := range m.host.AccountItems() {
		items, err := fn(ctx, q.To.Bare(), q.From)
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			res.Items = append(res.Items, xdisco.Item{JID: it.JID, Node: it.Node, Name: it.Name})
		}
	}
	return res.Element(), nil
}

func xmlName(space string) xml.Name { return xml.Name{Space: space, Local: "query"} }

// nodeInfo answers disco#info on a node a module registered (XEP-0030
// §3.2); <item-not-found/> for any other node.
func (m *Module) nodeInfo(ctx context.Context, q *module.IQ, t module.Target, node string) (*stanza.Element, error) {
	n, ok := m.host.DiscoNode(t, node)
	if !ok {
		return nil, stanza.Err(stanza.ItemNotFound)
	}
	info := xdisco.Info{Node: node}
	if n.Info != nil {
		ids, features, err := n.Info(ctx, q.From)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			info.Identities = append(info.Identities, xdisco.Identity{Category: id.Category, Type: id.Type, Name: id.Name})
		}
		info.Features = features
	}
	return info.Element(), nil
}

// nodeItems answers disco#items on a node a module registered (XEP-0030
// §4.2); <item-not-found/> for any other node.
func (m *Module) nodeItems(ctx context.Context, q *module.IQ, t module.Target, node string) (*stanza.Element, error) {
	n, ok := m.host.DiscoNode(t, node)
	if !ok {
		return nil, stanza.Err(stanza.ItemNotFound)
	}
	res := xdisco.Items{Node: node}
	if n.Items != nil {
		items, err := n.Items(ctx, q.From)
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			res.Items = append(res.Items, xdisco.Item{JID: it.JID, Node: it.Node, Name: it.Name})
		}
	}
	return res.Element(), nil
}
