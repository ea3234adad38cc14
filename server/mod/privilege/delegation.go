package privilege

import (
	"context"

	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/privilege"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// XEP-0355 in admin mode: IQ requests of a delegated namespace addressed
// to a served domain, or to a user's bare JID, go to the component they
// are delegated to, wrapped in <delegation><forwarded/></delegation>
// (§5.3); its answer comes back the same way and goes to the requester
// unwrapped, once checked.

// registerDelegations hooks the delegated namespaces and advertises
// delegation (§9.1).
func (m *Module) registerDelegations(r module.Registrar) {
	m.delegated = map[string]string{}
	for _, c := range m.opts.Components {
		for _, ns := range c.Delegations {
			m.delegated[ns] = c.Domain
		}
	}
	if len(m.delegated) == 0 {
		return
	}
	r.Feature(module.TargetServer, privilege.NSDelegation)
	r.Hook(module.PhaseServerIQ, stanza.KindIQ, module.PriorityObserve, m.delegate)
	r.Hook(module.PhaseInbound, stanza.KindIQ, module.PriorityObserve, m.delegate)
}

// delegate forwards a request of a delegated namespace to its component.
func (m *Module) delegate(ctx context.Context, p *module.Packet) module.Verdict {
	st := p.Stanza
	if !st.IsRequest() || p.To.Resource() != "" {
		return module.Continue // §5.3: the server or a bare JID only
	}
	payload := st.Payload()
	if payload == nil {
		return module.Continue
	}
	comp := m.delegated[payload.Name.Space]
	if comp == "" || p.From.Domain() == comp {
		// Not delegated, or from the managing entity itself (§5.3.1):
		// handled as usual.
		return module.Continue
	}
	if m.inflight.Add(1) > int64(m.opts.MaxPending) {
		m.inflight.Add(-1)
		m.log.Warn("privilege: too many delegated IQs awaiting an answer", "component", comp, "from", p.From)
		m.bounce(ctx, st, p.To.String(), &stanza.Error{Type: stanza.ErrWait, Condition: stanza.ResourceConstraint, Text: "too many requests in progress"})
		return module.Handled
	}
	orig := st.Clone()
	to, from := p.To, p.From
	m.host.Go(func(ctx context.Context) {
		defer m.inflight.Add(-1)
		m.forwardDelegated(ctx, comp, orig, from, to)
	})
	return module.Handled
}

// forwardDelegated sends orig to the component and routes its checked
// answer to the requester, or <service-unavailable/> (§5.3: no answer,
// an error, an answer that does not match).
func (m *Module) forwardDelegated(ctx context.Context, comp string, orig *stanza.Element, from, to jid.JID) {
	ctx, cancel := context.WithTimeout(ctx, m.opts.Timeout)
	defer cancel()
	inner := orig.Clone()
	inner.Name.Space = stanza.NSClient
	wrap := stanza.NewIQ(stanza.TypeSet, "", comp, privilege.Forward(privilege.NSDelegation, inner))
	wrap.Set("from", to.Domain())
	res, err := m.host.SendIQ(ctx, wrap)
	if err != nil {
		m.log.Info("privilege: delegated IQ not answered", "component", comp, "from", from, "ns", orig.Payload().Name.Space, "err", err)
		m.bounce(ctx, orig, to.String(), stanza.Err(stanza.ServiceUnavailable))
		return
	}
	ans, err := privilege.Forwarded(res, privilege.NSDelegation)
	if err != nil || ans.Name.Local != "iq" || ans.ID() != orig.ID() || ans.Type() != stanza.TypeResult ||
		!sameAddr(ans.To(), from) || (ans.From() != "" && !sameAddr(ans.From(), to)) {
		m.log.Info("privilege: delegated IQ answered wrongly", "component", comp, "from", from, "answer", res.String(), "err", err)
		m.bounce(ctx, orig, to.String(), stanza.Err(stanza.ServiceUnavailable))
		return
	}
	out := ans.Clone()
	out.Set("from", to.String())
	out.Set("to", from.String())
	m.host.Route(ctx, out)
}

// sameAddr reports whether s is the address j.
func sameAddr(s string, j jid.JID) bool {
	p, err := jid.Parse(s)
	return err == nil && p == j
}
