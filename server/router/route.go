package router

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// Route carries stanzas the router cannot deliver on this node: to a
// domain it does not serve (server-to-server, RFC 6120 §10.4), to the
// domain of an external component (XEP-0114), or to a full JID of a served
// domain whose session is bound on another node of a cluster.
//
// The router calls Deliver on the sender's goroutine, after the outbound
// hooks (and, for a full JID of a served domain, after the inbound hooks)
// have run; what follows delivery is the far end's. Deliver must not block
// on the network: it queues st and returns. A failure it learns of later
// it answers itself, by routing the reply stanza.ErrorReply builds
// (unless stanza.MayBounce says st may not be bounced).
type Route interface {
	// Deliver takes st, sent by from to to (both parsed from st). st may
	// be shared with other recipients and must not be modified.
	//
	// It returns nil when it took st; an error wrapping ErrNoRoute when it
	// knows no way to to, and the router then does what it would do had
	// the route not been registered; a *stanza.Error to have st bounced
	// with that error. Any other error is logged and st bounced with
	// <internal-server-error/>.
	Deliver(ctx context.Context, from, to jid.JID, st *stanza.Element) error
}

// ErrNoRoute is returned (wrapped or not) by a Route that knows no way to
// a stanza's address.
var ErrNoRoute = errors.New("router: no route")

// routes are the registered routes; filled before the router serves, read
// without a lock afterwards.
type routes struct {
	domains  map[string]Route // one domain each: external components
	remote   Route            // any domain neither served nor in domains
	sessions Route            // full JIDs of served domains bound elsewhere
}

// AddDomainRoute routes every stanza addressed to a JID of domain through
// rt: an external component's domain (XEP-0114). Like module registration
// it must run before the router serves any stanza. It fails for a served
// domain, a module's service domain, or a domain already routed.
func (r *Router) AddDomainRoute(domain string, rt Route) error {
	switch {
	case rt == nil:
		return fmt.Errorf("router: nil route for %q", domain)
	case r.domains[domain]:
		return fmt.Errorf("router: route for %q: the domain is served here", domain)
	case r.services[domain] != nil:
		return fmt.Errorf("router: route for %q: a module serves the domain", domain)
	case r.routes.domains[domain] != nil:
		return fmt.Errorf("router: route for %q registered twice", domain)
	}
	if r.routes.domains == nil {
		r.routes.domains = make(map[string]Route)
	}
	r.routes.domains[domain] = rt
	// A component's domain is a service of this server: listed in its
	// disco#items like the modules' service domains.
	r.serviceNames = append(r.serviceNames, domain)
	sort.Strings(r.serviceNames)
	return nil
}

// SetRemoteRoute routes stanzas addressed to any domain that is neither
// served here, nor a service domain, nor routed by AddDomainRoute:
// server-to-server. It must run before the router serves any stanza, once.
func (r *Router) SetRemoteRoute(rt Route) error {
	switch {
	case rt == nil:
		return errors.New("router: nil remote route")
	case r.routes.remote != nil:
		return errors.New("router: remote route registered twice")
	}
	r.routes.remote = rt
	return nil
}

// SetSessionRoute routes stanzas addressed to a full JID of a served
// domain that has no session in the directory: the sessions bound on the
// other nodes of a cluster. It must run before the router serves any
// stanza, once.
func (r *Router) SetSessionRoute(rt Route) error {
	switch {
	case rt == nil:
		return errors.New("router: nil session route")
	case r.routes.sessions != nil:
		return errors.New("router: session route registered twice")
	}
	r.routes.sessions = rt
	return nil
}

// remote handles a stanza to a domain that is not served here: its domain
// route, else the remote route, else RFC 6120 §10.4's error.
func (r *Router) remote(ctx context.Context, p *module.Packet) {
	if rt := r.routes.domains[p.To.Domain()]; rt != nil && r.forward(ctx, rt, p) {
		return
	}
	if rt := r.routes.remote; rt != nil && r.forward(ctx, rt, p) {
		return
	}
	r.bounce(ctx, p, stanza.Errorf(stanza.RemoteServerNotFound, "no route to %s", p.To.Domain()))
}

// forward hands p to rt, bouncing it if rt fails; it reports false when rt
// knows no way to p's address (ErrNoRoute), and the caller carries on as
// without rt.
func (r *Router) forward(ctx context.Context, rt Route, p *module.Packet) bool {
	err := rt.Deliver(ctx, p.From, p.To, p.Stanza)
	if err == nil {
		return true
	}
	if errors.Is(err, ErrNoRoute) {
		return false
	}
	var se *stanza.Error
	if !errors.As(err, &se) {
		r.log.Error("router: route failed", "to", p.To, "from", p.From, "err", err)
		se = stanza.Err(stanza.InternalServerError)
	} else {
		r.log.Debug("router: route refused a stanza", "to", p.To, "from", p.From, "err", err)
	}
	r.bounce(ctx, p, se)
	return true
}

// Serves reports whether stanzas for domain are this server's to handle:
// a served domain, a module's service domain (such as a MUC service), or
// an external component's domain (AddDomainRoute), which users of other
// servers reach through this one as they do its services. A
// server-to-server stream accepts stanzas for these only, and this server
// authenticates these as senders (Server Dialback).
func (r *Router) Serves(domain string) bool {
	return r.domains[domain] || r.services[domain] != nil || r.routes.domains[domain] != nil
}
