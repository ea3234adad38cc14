package app

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/parley-xmpp/parley/server/cluster"
	"github.com/parley-xmpp/parley/server/component"
	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/modules"
	"github.com/parley-xmpp/parley/server/router"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/privilege"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// startComponents registers the configured external components'
// domains as router routes; it must run before anything is routed.
func (a *App) startComponents() error {
	if len(a.cfg.Components) == 0 {
		return nil
	}
	grants := modules.Components(a.cfg)
	comps := make([]component.Component, 0, len(a.cfg.Components))
	for i, c := range a.cfg.Components {
		comps = append(comps, component.Component{Domain: c.Domain, Secret: c.Secret, Advertise: a.advertisements(grants[i]),
			PresenceOnConnect: grants[i].Grants.SeesPresence()})
	}
	a.components = component.New(component.Options{
		Components: comps,
		Router:     a.router,
		Limits:     stream.Limits{MaxStanzaBytes: a.cfg.Limits.MaxStanzaBytes, MaxDepth: a.cfg.Limits.MaxDepth},
		Grace:      componentGrace(a.cfg.Limits.ComponentGrace),
		Now:        a.now,
		Log:        a.log.With("component", "components"),
		OnConnect: func(ctx context.Context, domain string) {
			if c, ok := grants.Named(domain); ok && c.Grants.SeesPresence() {
				a.sendPresences(ctx, domain)
			}
			if a.cluster != nil {
				a.cluster.ComponentConnected(ctx, domain)
			}
			a.router.EmitComponent(ctx, domain)
		},
		OnDisconnect: func(ctx context.Context, domain string) {
			if a.cluster != nil {
				a.cluster.ComponentDisconnected(ctx, domain)
			}
			a.router.EmitComponent(ctx, domain)
		},
	})
	if a.cluster != nil {
		a.cluster.SetComponents(a.deliverComponent)
		a.cluster.SetComponentWatch(a.componentMoved)
	}
	for domain, rt := range a.components.Routes() {
		var route router.Route = rt
		if a.cluster != nil {
			route = clusterComponent{local: rt, node: a.cluster, router: a.router, domain: domain}
		}
		if err := a.router.AddDomainRoute(domain, route); err != nil {
			return fmt.Errorf("components: %w", err)
		}
	}
	return nil
}

// clusterComponent is a component's route in a cluster: to its
// connection when it is connected here, else to the node it is connected
// to (docs/cluster.md), else as on one server (it waits for the
// component within the grace period, or bounces).
type clusterComponent struct {
	local  *component.Route
	node   *cluster.Node
	router *router.Router
	domain string
}

// Deliver implements router.Route.
func (c clusterComponent) Deliver(ctx context.Context, from, to jid.JID, st *stanza.Element) error {
	if !c.local.Connected() {
		if other := c.node.ComponentNode(c.domain); other != "" {
			// What waited here for the component goes first.
			sendWaiting(ctx, c.router, c.node, c.local, other, c.domain)
			if err := c.node.SendComponent(other, c.domain, st); err != nil {
				return stanza.Errorf(stanza.ServiceUnavailable, "%s is not reachable", c.domain)
			}
			return nil
		}
	}
	return c.local.Deliver(ctx, from, to, st)
}

// componentMoved follows a component between nodes
// (cluster.ComponentWatch): what waited here for it within the grace
// period goes to the node it connected to; when it left its node, the
// grace period starts here too, so that stanzas for it wait (bounded by
// the grace and the queue) for it to come back to any node.
func (a *App) componentMoved(domain, node string) {
	rt := a.components.Routes()[domain]
	if rt == nil {
		return
	}
	if node == "" {
		rt.Away()
		return
	}
	sendWaiting(context.Background(), a.router, a.cluster, rt, node, domain)
}

// sendWaiting sends what waits in rt for the component of domain to
// node, where it is connected; what cannot be sent bounces.
func sendWaiting(ctx context.Context, r *router.Router, n *cluster.Node, rt *component.Route, node, domain string) {
	for _, st := range rt.TakeWaiting() {
		if err := n.SendComponent(node, domain, st); err != nil && stanza.MayBounce(st) {
			r.Route(ctx, stanza.ErrorReply(st, stanza.Errorf(stanza.ServiceUnavailable, "%s is not reachable", domain)))
		}
	}
}

// deliverComponent hands a stanza another node routed to a component to
// its route here (cluster.ComponentDeliverer).
func (a *App) deliverComponent(ctx context.Context, domain string, st *stanza.Element) error {
	rt := a.components.Routes()[domain]
	if rt == nil {
		return stanza.Errorf(stanza.ServiceUnavailable, "no component %s here", domain)
	}
	from, err1 := jid.Parse(st.From())
	to, err2 := jid.Parse(st.To())
	if err1 != nil || err2 != nil {
		return stanza.Errorf(stanza.JIDMalformed, "addresses of a stanza for %s", domain)
	}
	return rt.Deliver(ctx, from, to, st)
}

// advertisements are the messages a component receives when it
// connects: its privileges (XEP-0356 §4.2) when it has any, the
// namespaces delegated to it (XEP-0355 §5.2) when there are some; from
// the first served domain.
func (a *App) advertisements(c module.Component) []*stanza.Element {
	var out []*stanza.Element
	server := a.cfg.Domains[0]
	if c.Grants.Any() {
		m := stanza.New(stanza.NSClient, "message", "from", server, "to", c.Domain, "id", "privilege-1")
		out = append(out, m.Append(c.Grants.Element()))
	}
	if len(c.Delegations) > 0 {
		m := stanza.New(stanza.NSClient, "message", "from", server, "to", c.Domain, "id", "delegation-1")
		out = append(out, m.Append(privilege.Delegation(c.Delegations)))
	}
	return out
}

// sendPresences sends a component granted the users' presence the
// presence of every available session (XEP-0356 §9 rule 1): what it
// would have received had it been connected before them.
func (a *App) sendPresences(ctx context.Context, domain string) {
	for _, s := range a.router.Directory().All() {
		if p := s.Presence(); p != nil && s.Available() {
			out := p.Clone()
			out.Set("to", domain)
			a.router.Route(ctx, out)
		}
	}
}

// componentListeners are the configured component listeners, or the
// default one when components are configured and none is.
func (a *App) componentListeners() []config.Listener {
	var out []config.Listener
	for _, l := range a.cfg.Listeners {
		if l.Type == config.ListenerComponent {
			out = append(out, l)
		}
	}
	if len(out) == 0 && len(a.cfg.Components) > 0 {
		out = append(out, config.Listener{Type: config.ListenerComponent, Address: config.DefaultComponentAddress})
	}
	return out
}

// serveComponents accepts component connections on ln.
func (a *App) serveComponents(ctx context.Context, ln net.Listener) {
	if a.components == nil {
		a.log.Warn("component listener without configured components: every connection will be refused", "address", ln.Addr().String())
		a.components = component.New(component.Options{Router: a.router, Log: a.log.With("component", "components")})
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		if err := a.components.Serve(ctx, ln); err != nil {
			a.log.Error("component listener failed", "address", ln.Addr().String(), "err", err)
			select {
			case a.failed <- fmt.Errorf("component listener %s failed: %w", ln.Addr(), err):
			default:
			}
		}
	}()
}

// componentGrace maps limits.component_grace to component.Options.Grace,
// where 0 means the default and a negative value none.
func componentGrace(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
