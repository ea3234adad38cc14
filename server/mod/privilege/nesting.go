package privilege

import (
	"context"
	"errors"
	"fmt"

	"github.com/parley-xmpp/parley/server/module"
	xdisco "github.com/parley-xmpp/parley/xmpp/disco"
	"github.com/parley-xmpp/parley/xmpp/privilege"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// XEP-0355 §9.2, disco nesting: for a delegated namespace the server's
// disco#info lists the managing component's features, not its own. The
// component says what they are on the nodes
// urn:xmpp:delegation:2::<namespace> (for the server) and
// urn:xmpp:delegation:2:bare:<namespace> (for the users' bare JIDs),
// asked each time it connects and kept while it stays (§10 note 2);
// while it is away neither its features nor the server's own are listed
// for the namespace, whose requests go to it only.

// nestTarget is where a nesting node's answer goes.
type nestTarget struct {
	target module.Target
	sep    string // between the delegation namespace and the namespace
}

var nestTargets = [...]nestTarget{{module.TargetServer, "::"}, {module.TargetAccount, ":bare:"}}

// registerNesting leaves the server's own features of the delegated
// namespaces out of its disco#info, and has the components asked for
// theirs when they connect.
func (m *Module) registerNesting(r module.Registrar) {
	if len(m.delegated) == 0 {
		return
	}
	m.nestEpoch = map[string]uint64{}
	for ns := range m.delegated {
		for _, nt := range nestTargets {
			m.host.NestDisco(nt.target, ns, &module.NestedDisco{})
		}
	}
	r.OnComponent(m.componentChanged)
}

// componentChanged asks a component that connected for the features to
// nest, or takes back those of a component that went away. Each call
// starts a new epoch: answers to the questions of an earlier one are
// dropped.
func (m *Module) componentChanged(_ context.Context, domain string) {
	c, ok := m.opts.Components.Named(domain)
	if !ok || len(c.Delegations) == 0 {
		return
	}
	m.nestMu.Lock()
	m.nestEpoch[domain]++
	epoch := m.nestEpoch[domain]
	up := m.host.ComponentConnected(domain)
	if !up {
		for _, ns := range c.Delegations {
			for _, nt := range nestTargets {
				m.host.NestDisco(nt.target, ns, &module.NestedDisco{})
			}
		}
	}
	m.nestMu.Unlock()
	if !up {
		m.log.Debug("privilege: nested features withdrawn", "component", domain)
		return
	}
	for _, ns := range c.Delegations {
		for _, nt := range nestTargets {
			m.host.Go(func(ctx context.Context) { m.nest(ctx, domain, epoch, ns, nt) })
		}
	}
}

// nest asks a component for what to nest for a namespace in a target's
// disco#info and nests it, unless the component's epoch is over.
func (m *Module) nest(ctx context.Context, domain string, epoch uint64, ns string, nt nestTarget) {
	ctx, cancel := context.WithTimeout(ctx, m.opts.Timeout)
	defer cancel()
	node := privilege.NSDelegation + nt.sep + ns
	iq := stanza.NewIQ(stanza.TypeGet, "", domain, xdisco.Info{Node: node}.Element())
	iq.Set("from", m.host.Domains()[0])
	res, err := m.host.SendIQ(ctx, iq)
	n, err := nested(node, res, err)
	var se *stanza.Error
	switch {
	case errors.As(err, &se) && (se.Condition == stanza.ItemNotFound || se.Condition == stanza.FeatureNotImplemented || se.Condition == stanza.ServiceUnavailable):
		// Nothing of its own to advertise there.
		m.log.Debug("privilege: no features to nest", "component", domain, "node", node, "err", err)
	case err != nil:
		m.log.Info("privilege: the features to nest could not be had", "component", domain, "node", node, "err", err)
	}
	m.nestMu.Lock()
	defer m.nestMu.Unlock()
	if m.nestEpoch[domain] != epoch {
		return // the component went away or came back meanwhile
	}
	m.host.NestDisco(nt.target, ns, n)
	if err == nil {
		m.log.Debug("privilege: features nested", "component", domain, "node", node, "features", len(n.Features))
	}
}

// nested reads what to nest from the answer about a nesting node; on
// error, nothing.
func nested(node string, res *stanza.Element, err error) (*module.NestedDisco, error) {
	n := &module.NestedDisco{}
	if err != nil {
		return n, err
	}
	info, err := xdisco.ParseInfo(res.Child(xdisco.NSInfo, "query"))
	switch {
	case err != nil:
		return n, err
	case info.Node != "" && info.Node != node:
		return n, fmt.Errorf("answer about node %q", info.Node)
	}
	for _, id := range info.Identities {
		n.Identities = append(n.Identities, module.Identity{Category: id.Category, Type: id.Type, Name: id.Name})
	}
	n.Features = info.Features
	for _, x := range info.Forms {
		n.Forms = append(n.Forms, x.Clone())
	}
	return n, nil
}
