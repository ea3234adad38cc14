package last

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/session"
	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// NS is the XEP-0012 namespace and disco feature.
const NS = "jabber:iq:last"

// statusKey is the session value holding the status of the session's
// last unavailable broadcast.
type statusKey struct{}

// Module answers last activity queries and records last activity.
type Module struct {
	host    module.Host
	store   storage.LastActivity
	started time.Time
}

// New returns the last activity module.
func New() *Module { return &Module{} }

var _ module.Module = (*Module)(nil)

// Name implements module.Module.
func (*Module) Name() string { return "last" }

// Register implements module.Module.
func (m *Module) Register(r module.Registrar) error {
	m.host = r.Host()
	m.store = m.host.Stores().Last
	if m.store == nil {
		return errors.New("last: no last activity store")
	}
	m.started = m.host.Now()
	name := xml.Name{Space: NS, Local: "query"}
	r.Feature(module.TargetServer, NS)
	r.Feature(module.TargetAccount, NS)
	r.HandleIQ(module.IQKey{Type: stanza.TypeGet, Name: name, Target: module.TargetServer}, m.uptime)
	r.HandleIQ(module.IQKey{Type: stanza.TypeGet, Name: name, Target: module.TargetAccount}, m.account)
	r.Hook(module.PhaseOutbound, stanza.KindPresence, module.PriorityObserve, m.rememberStatus)
	r.Hook(module.PhaseInbound, stanza.KindIQ, module.PriorityObserve, m.guardFullJID)
	r.OnSession(module.SessionEnded, m.sessionEnded)
	return nil
}

// Element returns the <query/> payload for a number of seconds and an
// optional status text.
func Element(seconds int64, status string) *stanza.Element {
	return stanza.New(NS, "query", "seconds", strconv.FormatInt(max(seconds, 0), 10)).AppendText(status)
}

func (m *Module) uptime(context.Context, *module.IQ) (*stanza.Element, error) {
	return Element(int64(m.host.Now().Sub(m.started)/time.Second), ""), nil
}

func (m *Module) account(ctx context.Context, q *module.IQ) (*stanza.Element, error) {
	user := q.To.Bare()
	ok, err := m.authorized(ctx, user, q.From)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, stanza.Err(stanza.Forbidden)
	}
	if len(m.host.Sessions().Sessions(user)) > 0 {
		return Element(0, ""), nil
	}
	at, status, err := m.store.LastActivity(ctx, user)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil, stanza.Errorf(stanza.ItemNotFound, "no recorded activity")
	case err != nil:
		return nil, fmt.Errorf("last: activity of %s: %w", user, err)
	}
	return Element(int64(m.host.Now().Sub(at)/time.Second), status), nil
}

// authorized reports whether from may see user's presence: it is the
// account itself, or user's roster gives it a "from" or "both"
// subscription.
func (m *Module) authorized(ctx context.Context, user, from jid.JID) (bool, error) {
	if from.Bare() == user {
		return true, nil
	}
	item, err := m.host.Roster().RosterItem(ctx, user, from.Bare())
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("last: roster of %s: %w", user, err)
	}
	return item.Subscription == storage.SubFrom || item.Subscription == storage.SubBoth, nil
}

// guardFullJID refuses last activity queries to a full JID from entities
// not authorised to see the user's presence (§4).
func (m *Module) guardFullJID(ctx context.Context, p *module.Packet) module.Verdict {
	if p.To.Resource() == "" || p.Stanza.Type() != stanza.TypeGet {
		return module.Continue
	}
	if pl := p.Stanza.Payload(); pl == nil || pl.Name.Space != NS || pl.Name.Local != "query" {
		return module.Continue
	}
	ok, err := m.authorized(ctx, p.To.Bare(), p.From)
	if err != nil {
		m.host.Logger().Error("last: authorisation", "to", p.To, "err", err)
		ok = false
	}
	if ok {
		return module.Continue
	}
	reply := stanza.ErrorReply(p.Stanza, stanza.Err(stanza.Forbidden))
	if p.Origin != nil && reply.To() == p.Origin.JID().String() {
		if err := p.Origin.Deliver(reply); err != nil {
			m.host.Logger().Warn("last: error delivery failed", "to", p.From, "err", err)
		}
	} else {
		m.host.Route(ctx, reply)
	}
	return module.Handled
}

// rememberStatus keeps the status of a session's broadcast unavailable
// presence, and forgets it when the session becomes available again.
func (m *Module) rememberStatus(_ context.Context, p *module.Packet) module.Verdict {
	if p.Origin == nil || !p.To.IsZero() {
		return module.Continue
	}
	switch p.Stanza.Type() {
	case stanza.TypeUnavailable:
		p.Origin.SetValue(statusKey{}, p.Stanza.ChildText("", "status"))
	case "":
		p.Origin.SetValue(statusKey{}, nil)
	}
	return module.Continue
}

// sessionEnded records the account's last activity when its last session
// ends.
func (m *Module) sessionEnded(ctx context.Context, s *session.Session) {
	user := s.JID().Bare()
	if len(m.host.Sessions().Sessions(user)) > 0 {
		return
	}
	status, _ := s.Value(statusKey{}).(string)
	if err := m.store.SetLastActivity(ctx, user, m.host.Now(), status); err != nil {
		m.host.Logger().Error("last: recording activity", "user", user, "err", err)
	}
}
