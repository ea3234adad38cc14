package carbons

import (
	"context"
	"encoding/xml"
	"log/slog"
	"slices"

	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/session"
	"github.com/parley-xmpp/parley/xmpp/carbons"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// hookPriority runs the carbon hooks after the hooks that may refuse a
// message (blocking, privacy), so refused messages are never copied.
const hookPriority = module.PriorityNotify

// flag is the session flag (session.Session.SetFlag) that says carbons
// are enabled: a flag, so that a cluster's other nodes see it and copy
// to the session too.
const flag = "carbons"

// Module implements Message Carbons.
type Module struct {
	host module.Host
	log  *slog.Logger
}

// New returns the carbons module.
func New() module.Module { return &Module{} }

// Name implements module.Module.
func (m *Module) Name() string { return "carbons" }

// Register implements module.Module.
func (m *Module) Register(r module.Registrar) error {
	m.host = r.Host()
	m.log = m.host.Logger()
	for _, t := range []module.Target{module.TargetServer, module.TargetAccount} {
		r.HandleIQ(module.IQKey{Type: stanza.TypeSet, Name: xml.Name{Space: carbons.NS, Local: "enable"}, Target: t}, m.enable)
		r.HandleIQ(module.IQKey{Type: stanza.TypeSet, Name: xml.Name{Space: carbons.NS, Local: "disable"}, Target: t}, m.disable)
	}
	r.Feature(module.TargetServer, carbons.NS)
	r.Feature(module.TargetServer, carbons.NSRules)
	r.Hook(module.PhaseOutbound, stanza.KindMessage, hookPriority, m.sent)
	r.Hook(module.PhaseDelivered, stanza.KindMessage, hookPriority, m.received)
	// XEP-0386 §3.3: <enable/> inline in Bind 2 "MUST succeed" and has
	// no answer.
	r.Bind2Feature(carbons.NS, func(_ context.Context, s *session.Session, req *stanza.Element) *stanza.Element {
		if req.Name.Local == "enable" {
			s.SetFlag(flag, true)
		}
		return nil
	})
	return nil
}

// Enabled reports whether s enabled carbons.
func Enabled(s *session.Session) bool {
	return s.Flag(flag)
}

func (m *Module) enable(ctx context.Context, q *module.IQ) (*stanza.Element, error) {
	return m.set(q, true)
}

func (m *Module) disable(ctx context.Context, q *module.IQ) (*stanza.Element, error) {
	return m.set(q, false)
}

// set records the state; repeated requests simply succeed (§9.1).
func (m *Module) set(q *module.IQ, on bool) (*stanza.Element, error) {
	// Only a local session may change its own state (§4.1, §5.1).
	if q.Session == nil || !q.Session.JID().Bare().Equal(q.From.Bare()) ||
		(q.To.Local() != "" && !q.To.Bare().Equal(q.From.Bare())) {
		return nil, stanza.Err(stanza.NotAllowed)
	}
	q.Session.SetFlag(flag, on)
	m.log.Debug("carbons: state changed", "session", q.Session.JID(), "enabled", on)
	return nil, nil
}

// sent copies a message a local session sends to the account's other
// carbons-enabled sessions (§8). A message to the account itself is left
// to the received side, which knows where it was delivered.
func (m *Module) sent(ctx context.Context, p *module.Packet) module.Verdict {
	if (p.Origin == nil && !p.OnBehalf) || p.To.IsZero() || p.To.Bare().Equal(p.From.Bare()) {
		return module.Continue
	}
	if !carbons.Eligible(p.Stanza, carbons.Sent) {
		return module.Continue
	}
	m.copyTo(p, carbons.Sent, p.From, func(s *session.Session) bool { return s == p.Origin })
	return module.Continue
}

// received copies a delivered message to the recipient's carbons-enabled
// sessions that did not get it (§7).
func (m *Module) received(ctx context.Context, p *module.Packet) module.Verdict {
	if !carbons.Eligible(p.Stanza, carbons.Received) {
		return module.Continue
	}
	m.copyTo(p, carbons.Received, p.To, func(s *session.Session) bool {
		return s == p.Origin || slices.Contains(p.Delivered, s)
	})
	return module.Continue
}

// copyTo delivers a carbon of p's stanza to every carbons-enabled session
// of account that skip does not exclude. The forwarded message is one
// clone shared by every copy, so later changes to p's stanza (by other
// hooks, before it is serialised) do not race with the copies.
func (m *Module) copyTo(p *module.Packet, d carbons.Direction, account jid.JID, skip func(*session.Session) bool) {
	var inner *stanza.Element
	bare := account.Bare()
	for _, s := range m.host.Sessions().Sessions(bare) {
		if skip(s) || !Enabled(s) {
			continue
		}
		if inner == nil {
			inner = p.Stanza.Clone()
		}
		if err := s.Deliver(carbons.Wrap(d, bare, s.JID(), inner)); err != nil {
			// §9.3: a failed copy never bounces to the original sender.
			m.log.Debug("carbons: copy not delivered", "to", s.JID(), "err", err)
		}
	}
}
