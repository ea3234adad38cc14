package roster

import (
	"context"
	"errors"

	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// outboundSubscription handles a subscription stanza the user sends
// (RFC 6121 §3.1.2, §3.1.5, §3.2.2, §3.3.2, §3.4.1).
func (m *Module) outboundSubscription(ctx context.Context, user, contact jid.JID, st *stanza.Element) {
	ch, err := m.apply(ctx, user, contact, false, st)
	var se *stanza.Error
	if errors.As(err, &se) {
		// A quota: the user learns it from an error in reply.
		m.refuse(ctx, st, se)
		return
	}
	if err != nil {
		m.log.Error("roster: outbound subscription failed", "user", user, "contact", contact, "type", st.Type(), "err", err)
		return
	}
	if ch.Push {
		m.push(user, wireItem(ch.item), ch.ver)
	}
	if ch.Route {
		// §3.1.2: the server stamps the user's bare JID.
		out := st.Clone()
		out.Set("from", user.String())
		out.Set("to", contact.String())
		m.host.Route(ctx, out)
	}
	if ch.SendPresence {
		m.sendPresence(ctx, user, contact)
	}
	if ch.SendUnavailable {
		m.sendUnavailable(ctx, user, contact)
	}
}

// inboundSubscription handles a subscription stanza a contact sends to
// the user (RFC 6121 §3.1.3, §3.1.6, §3.2.3, §3.3.3, §3.4.2).
func (m *Module) inboundSubscription(ctx context.Context, user, contact jid.JID, st *stanza.Element) {
	ch, err := m.apply(ctx, user, contact, true, st)
	var se *stanza.Error
	if errors.As(err, &se) {
		// A quota: the sender learns that the request was not kept.
		m.refuse(ctx, st, se)
		return
	}
	if err != nil {
		m.log.Error("roster: inbound subscription failed", "user", user, "contact", contact, "type", st.Type(), "err", err)
		return
	}
	if ch.Push {
		m.push(user, wireItem(ch.item), ch.ver)
	}
	if ch.Route {
		out := st.Clone()
		out.Set("from", contact.String())
		out.Set("to", user.String())
		for _, s := range m.host.Sessions().Available(user) {
			m.deliver(s, out)
		}
	}
	if ch.AutoReply != "" {
		m.route(ctx, ch.AutoReply, user, contact)
	}
	if ch.SendPresence {
		m.sendPresence(ctx, user, contact)
	}
	if ch.SendUnavailable {
		m.sendUnavailable(ctx, user, contact)
	}
}

// refuse bounces a subscription stanza with e to its sender.
func (m *Module) refuse(ctx context.Context, st *stanza.Element, e *stanza.Error) {
	if !stanza.MayBounce(st) {
		return
	}
	m.host.Route(ctx, stanza.ErrorReply(st, e))
}

// inbound handles presence addressed to a local user.
func (m *Module) inbound(ctx context.Context, p *module.Packet) module.Verdict {
	typ := p.Stanza.Type()
	user := p.To.Bare()
	switch {
	case IsSubscriptionType(typ):
		contact := p.From.Bare()
		if contact != user {
			m.inboundSubscription(ctx, user, contact, p.Stanza)
		}
		return module.Handled
	case typ == stanza.TypeProbe:
		m.answerProbe(ctx, user, p.From)
		return module.Handled
	}
	// Available, unavailable and error presence are delivered as they
	// are: directed presence from anyone is allowed (RFC 6121 §4.6).
	m.contactPresenceToComponents(ctx, p)
	return module.Continue
}

// answerProbe answers a presence probe (RFC 6121 §4.3.2): the presence of
// the user's available resources if the prober is subscribed to the
// user, unavailable if it is but no resource is available, unsubscribed
// if it is not subscribed.
func (m *Module) answerProbe(ctx context.Context, user, prober jid.JID) {
	contact := prober.Bare()
	authorized := contact == user
	if !authorized {
		var err error
		if authorized, err = m.subscribedFrom(ctx, user, contact); err != nil {
			m.log.Error("roster: cannot answer a probe", "user", user, "prober", prober, "err", err)
			return
		}
	}
	if !authorized {
		m.route(ctx, stanza.TypeUnsubscribed, user, contact)
		return
	}
	answered := false
	for _, s := range m.host.Sessions().Available(user) {
		if p := s.Presence(); p != nil {
			out := p.Clone()
			out.Set("to", prober.String())
			m.host.Route(ctx, out)
			answered = true
		}
	}
	if !answered {
		m.route(ctx, stanza.TypeUnavailable, user, prober)
	}
}

// subscribedFrom reports whether contact is subscribed to user's presence.
// When user is online its cached roster answers without a storage read: a
// login probes every contact it is subscribed to.
func (m *Module) subscribedFrom(ctx context.Context, user, contact jid.JID) (bool, error) {
	if it, found, ok := m.cachedItem(user, contact); ok {
		return found && State{Sub: it.Subscription}.HasFrom(), nil
	}
	e, err := m.load(ctx, user, contact)
	if err != nil {
		return false, err
	}
	return e.state.HasFrom(), nil
}
