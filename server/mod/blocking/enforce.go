package blocking

import (
	"context"

	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// blockedError is the error a user gets for a stanza to a JID they block
// (§3.3).
func blockedError() *stanza.Error {
	return &stanza.Error{Condition: stanza.NotAcceptable, App: stanza.New(NSErrors, "blocked")}
}

// outbound stops stanzas a local session sends to a JID its user blocks.
func (m *Module) outbound(ctx context.Context, p *module.Packet) module.Verdict {
	if p.To.IsZero() {
		return module.Continue
	}
	user := p.From.Bare()
	if p.To.Bare() == user {
		return module.Continue
	}
	blocked, err := m.Blocks(ctx, user, p.To)
	if err != nil {
		m.host.Logger().Error("blocking: outbound check", "from", p.From, "err", err)
		return module.Continue
	}
	if !blocked {
		return module.Continue
	}
	if stanza.MayBounce(p.Stanza) && p.Origin != nil {
		reply := stanza.ErrorReply(p.Stanza, blockedError())
		if err := p.Origin.Deliver(reply); err != nil {
			m.host.Logger().Warn("blocking: error delivery failed", "to", p.From, "err", err)
		}
	}
	return module.Handled
}

// inbound stops stanzas to a local account from a JID it blocks, and
// presence sent on behalf of a local user to a contact that user blocks.
func (m *Module) inbound(ctx context.Context, p *module.Packet) module.Verdict {
	if _, own := m.ours.Load(p.Stanza); own {
		return module.Continue
	}
	user := p.To.Bare()
	if p.From.Bare() == user {
		return module.Continue
	}
	blocked, err := m.Blocks(ctx, user, p.From)
	if err != nil {
		m.host.Logger().Error("blocking: inbound check", "to", p.To, "err", err)
		return module.Continue
	}
	if blocked {
		m.refuse(ctx, p)
		return module.Handled
	}
	if p.Kind == stanza.KindPresence && p.Origin == nil && p.From.Local() != "" && m.host.IsLocal(p.From.Domain()) {
		blocked, err := m.Blocks(ctx, p.From, p.To)
		if err != nil {
			m.host.Logger().Error("blocking: presence check", "from", p.From, "err", err)
			return module.Continue
		}
		if blocked {
			return module.Handled
		}
	}
	return module.Continue
}

// refuse answers a stanza from a blocked JID as §3.3 says: nothing for
// presence and for IQ results and errors, service-unavailable otherwise.
func (m *Module) refuse(ctx context.Context, p *module.Packet) {
	if p.Kind == stanza.KindPresence || !stanza.MayBounce(p.Stanza) {
		return
	}
	reply := stanza.ErrorReply(p.Stanza, stanza.Err(stanza.ServiceUnavailable))
	if reply.From() == "" {
		reply.Set("from", p.To.String())
	}
	m.routeOwn(ctx, reply)
}
