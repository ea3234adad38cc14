package roster

import (
	"context"
	"strconv"
	"strings"
	"sync"

	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/session"
	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// sessKey keys the module's per-session state.
type sessKey struct{}

// sessState is what the module remembers about one session.
type sessState struct {
	mu sync.Mutex
	// directed holds the entities that received directed available
	// presence from the session and no directed unavailable since
	// (RFC 6121 §4.6.3): they get unavailable presence when it ends.
	directed map[jid.JID]struct{}
	// status is the <status/> of the session's last unavailable presence,
	// recorded as the user's last activity (XEP-0012).
	status string
}

func stateOf(s *session.Session) *sessState {
	var ps *sessState
	s.Update(sessKey{}, func(old any) any {
		if old != nil {
			ps = old.(*sessState)
			return old
		}
		ps = &sessState{directed: make(map[jid.JID]struct{})}
		return ps
	})
	return ps
}

// takeDirected empties the directed-presence list and returns it.
func (ps *sessState) takeDirected() []jid.JID {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	out := make([]jid.JID, 0, len(ps.directed))
	for j := range ps.directed {
		out = append(out, j)
	}
	clear(ps.directed)
	return out
}

// outbound handles presence a local session sends (RFC 6121 §3, §4).
func (m *Module) outbound(ctx context.Context, p *module.Packet) module.Verdict {
	sess := p.Origin
	if sess == nil {
		return module.Continue
	}
	st := p.Stanza
	typ := st.Type()
	user := sess.JID().Bare()
	if p.To.IsZero() {
		switch typ {
		case "":
			m.available(ctx, sess, st)
		case stanza.TypeUnavailable:
			m.unavailable(ctx, sess, st)
		default:
			m.log.Debug("roster: presence without 'to' ignored", "from", sess.JID(), "type", typ)
		}
		return module.Handled
	}
	switch {
	case IsSubscriptionType(typ):
		contact := p.To.Bare()
		if contact == user {
			m.log.Debug("roster: subscription presence to oneself ignored", "user", user, "type", typ)
			return module.Handled
		}
		m.outboundSubscription(ctx, user, contact, st)
		return module.Handled
	case typ == "" || typ == stanza.TypeUnavailable:
		if !m.directed(ctx, sess, p.To, typ) {
			// Past the cap: the presence is not sent, and the sender
			// learns why.
			m.log.Warn("roster: too many directed presences, refused", "from", sess.JID(), "to", p.To, "max", m.host.Limits().DirectedPresences)
			_ = sess.Deliver(stanza.ErrorReply(st, stanza.Errorf(stanza.PolicyViolation,
				"directed presence to more than %d entities at once; send unavailable presence to some first", m.host.Limits().DirectedPresences)))
			return module.Handled
		}
	}
	return module.Continue
}

// directed records directed presence (RFC 6121 §4.6) so the recipient gets
// unavailable presence when the session goes away. It reports false, and
// records nothing, for available presence to a new entity when the
// session already sent it to Limits.DirectedPresences entities: the set
// is bounded, and so is the unavailable presence sent at logout.
func (m *Module) directed(_ context.Context, sess *session.Session, to jid.JID, typ string) bool {
	ps := stateOf(sess)
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if typ == stanza.TypeUnavailable {
		delete(ps.directed, to)
		return true
	}
	if _, ok := ps.directed[to]; ok {
		return true
	}
	if most := m.host.Limits().DirectedPresences; most > 0 && len(ps.directed) >= most {
		return false
	}
	ps.directed[to] = struct{}{}
	return true
}

// parsePriority reads <priority/> (RFC 6121 §4.7.2.3): an integer from
// -128 to 127, 0 when absent or invalid.
func parsePriority(st *stanza.Element) int {
	el := st.Child("", "priority")
	if el == nil || !stanza.IsContentNS(el.Name.Space) {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSpace(el.Text()))
	if err != nil || n < -128 || n > 127 {
		return 0
	}
	return n
}

// subscribers returns the contacts with a subscription to the user's
// presence (from or both), and the contacts the user is subscribed to.
func (m *Module) contacts(ctx context.Context, user jid.JID) (from, to []jid.JID) {
	items, _, err := m.rosterItems(ctx, user)
	if err != nil {
		m.log.Error("roster: cannot read the roster for presence", "user", user, "err", err)
		return nil, nil
	}
	for _, it := range items {
		if it.Subscription == storage.SubFrom || it.Subscription == storage.SubBoth {
			from = append(from, it.Contact)
		}
		if it.Subscription == storage.SubTo || it.Subscription == storage.SubBoth {
			to = append(to, it.Contact)
		}
	}
	return from, to
}

// available handles an available presence broadcast (RFC 6121 §4.2 for
// the initial one, §4.4 for the others).
func (m *Module) available(ctx context.Context, sess *session.Session, st *stanza.Element) {
	full := sess.JID()
	user := full.Bare()
	pres := st.Clone()
	pres.Set("from", full.String())
	pres.Set("to", "")
	initial := !sess.Available()
	sess.SetSharedPresence(pres, parsePriority(st), m.presences)

	subscribers, subscriptions := m.contacts(ctx, user)
	m.presenceToComponents(ctx, pres)
	for _, c := range subscribers {
		out := pres.Clone()
		out.Set("to", c.String())
		m.host.Route(ctx, out)
	}
	// Every available resource of the user, this one included, sees it.
	for _, s := range m.host.Sessions().Available(user) {
		out := pres.Clone()
		out.Set("to", s.JID().String())
		m.deliver(s, out)
	}
	if !initial {
		return
	}
	// §4.2.2: probe the contacts the user is subscribed to; their answers
	// come back to this resource.
	for _, c := range subscriptions {
		m.route(ctx, stanza.TypeProbe, full, c)
	}
	// The presence of the user's other available resources.
	for _, s := range m.host.Sessions().Available(user) {
		if s == sess {
			continue
		}
		if other := s.Presence(); other != nil {
			out := other.Clone()
			out.Set("to", full.String())
			m.deliver(sess, out)
		}
	}
	m.redeliverRequests(ctx, sess)
	m.host.Emit(ctx, module.SessionAvailable, sess)
}

// redeliverRequests delivers the pending-in subscription requests to a
// resource that just became available (RFC 6121 §3.1.3).
func (m *Module) redeliverRequests(ctx context.Context, sess *session.Session) {
	user := sess.JID().Bare()
	reqs, err := m.subscriptionRequests(ctx, user)
	if err != nil {
		m.log.Error("roster: cannot read pending subscription requests", "user", user, "err", err)
		return
	}
	for _, r := range reqs {
		el, err := stream.ParseElement(r.Stanza, stream.DefaultLimits())
		if err != nil {
			m.log.Error("roster: stored subscription request unreadable", "user", user, "from", r.From, "err", err)
			continue
		}
		m.deliver(sess, el)
	}
}

// unavailable handles an unavailable presence broadcast, or the end of an
// available session (RFC 6121 §4.5).
func (m *Module) unavailable(ctx context.Context, sess *session.Session, st *stanza.Element) {
	full := sess.JID()
	user := full.Bare()
	was := sess.Available()
	pres := st.Clone()
	pres.Set("from", full.String())
	pres.Set("to", "")
	pres.Set("type", stanza.TypeUnavailable)
	sess.SetPresence(nil, 0)
	ps := stateOf(sess)
	ps.mu.Lock()
	ps.status = st.ChildText("", "status")
	ps.mu.Unlock()
	directed := ps.takeDirected()

	sent := make(map[jid.JID]bool)
	if was {
		m.presenceToComponents(ctx, pres)
		subscribers, _ := m.contacts(ctx, user)
		for _, c := range subscribers {
			sent[c] = true
			out := pres.Clone()
			out.Set("to", c.String())
			m.host.Route(ctx, out)
		}
		for _, s := range m.host.Sessions().Available(user) {
			if s == sess {
				continue
			}
			out := pres.Clone()
			out.Set("to", s.JID().String())
			m.deliver(s, out)
		}
	}
	for _, d := range directed {
		if sent[d] || sent[d.Bare()] || d.Bare() == user {
			continue
		}
		out := pres.Clone()
		out.Set("to", d.String())
		m.host.Route(ctx, out)
	}
}

// sessionEnded sends unavailable presence for a session that ended while
// available (closed without unavailable, or broken), and records the
// user's last activity when the last session ends.
func (m *Module) sessionEnded(ctx context.Context, sess *session.Session) {
	ps := stateOf(sess)
	ps.mu.Lock()
	pending := len(ps.directed) > 0
	ps.mu.Unlock()
	if sess.Available() || pending {
		m.unavailable(ctx, sess, stanza.New(stanza.NSClient, "presence", "type", stanza.TypeUnavailable))
	}
	user := sess.JID().Bare()
	m.cache.drop(user, m.online(user))
	if len(m.host.Sessions().Sessions(user)) > 0 {
		return // still online, here or on another node of a cluster
	}
	last := m.host.Stores().Last
	if last == nil {
		return
	}
	ps.mu.Lock()
	status := ps.status
	ps.mu.Unlock()
	if err := last.SetLastActivity(ctx, user, m.host.Now(), status); err != nil {
		m.log.Error("roster: cannot record last activity", "user", user, "err", err)
	}
}

func (m *Module) deliver(s *session.Session, st *stanza.Element) {
	if err := s.Deliver(st); err != nil {
		m.log.Debug("roster: presence not delivered", "to", s.JID(), "err", err)
	}
}

// sendPresence sends the presence of the user's available resources to a
// contact that just gained a subscription (RFC 6121 §3.1.5).
func (m *Module) sendPresence(ctx context.Context, user, contact jid.JID) {
	for _, s := range m.host.Sessions().Available(user) {
		if p := s.Presence(); p != nil {
			out := p.Clone()
			out.Set("to", contact.String())
			m.host.Route(ctx, out)
		}
	}
}

// sendUnavailable sends unavailable presence from the user's available
// resources to a contact that just lost its subscription (RFC 6121
// §3.2.2, §3.3.3).
func (m *Module) sendUnavailable(ctx context.Context, user, contact jid.JID) {
	for _, s := range m.host.Sessions().Available(user) {
		m.route(ctx, stanza.TypeUnavailable, s.JID(), contact)
	}
}
