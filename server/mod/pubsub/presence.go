package pubsub

import (
	"context"
	"sync"

	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/session"
	"github.com/parley-xmpp/parley/xmpp/caps"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/muc"
	xpubsub "github.com/parley-xmpp/parley/xmpp/pubsub"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// presenceTracker remembers which resources each PEP service has seen
// available, to tell initial presence (XEP-0163 §4.3.2) from updates, and
// the available resources of remote contacts.
//
// A resource seen by its own account's service, the one record every
// available session has, is kept in self under its full JID alone (48
// bytes a key, where a pair of JIDs takes 96), and forgetting it when
// the session ends is one deletion, not a walk over every record (a
// mass disconnect walked the whole map once per session).
type presenceTracker struct {
	mu     sync.Mutex
	self   map[jid.JID]struct{} // full JIDs seen by their own account
	seen   map[pair]struct{}    // others: contacts' resources seen by an owner
	remote map[jid.JID]map[jid.JID]struct{}
}

type pair struct{ owner, full jid.JID }

func newPresenceTracker() *presenceTracker {
	return &presenceTracker{self: make(map[jid.JID]struct{}), seen: make(map[pair]struct{}), remote: make(map[jid.JID]map[jid.JID]struct{})}
}

// isSelf reports whether full is a resource of owner.
func isSelf(owner, full jid.JID) bool { return full.Bare() == owner }

// available records full as available to owner and reports whether this is
// its initial presence there.
func (t *presenceTracker) available(owner, full jid.JID, remote bool) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if remote {
		set := t.remote[full.Bare()]
		if set == nil {
			set = make(map[jid.JID]struct{})
			t.remote[full.Bare()] = set
		}
		set[full] = struct{}{}
	}
	if isSelf(owner, full) {
		if _, ok := t.self[full]; ok {
			return false
		}
		t.self[full] = struct{}{}
		return true
	}
	k := pair{owner, full}
	if _, ok := t.seen[k]; ok {
		return false
	}
	t.seen[k] = struct{}{}
	return true
}

// known reports whether full was seen available by owner.
func (t *presenceTracker) known(owner, full jid.JID) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if isSelf(owner, full) {
		_, ok := t.self[full]
		return ok
	}
	_, ok := t.seen[pair{owner, full}]
	return ok
}

// unavailable forgets full for owner.
func (t *presenceTracker) unavailable(owner, full jid.JID) {
	t.mu.Lock()
	if isSelf(owner, full) {
		delete(t.self, full)
	} else {
		delete(t.seen, pair{owner, full})
	}
	if set := t.remote[full.Bare()]; set != nil {
		delete(set, full)
		if len(set) == 0 {
			delete(t.remote, full.Bare())
		}
	}
	t.mu.Unlock()
}

// forget drops every record of full (its session ended).
func (t *presenceTracker) forget(full jid.JID) {
	t.mu.Lock()
	delete(t.self, full)
	for k := range t.seen {
		if k.full == full {
			delete(t.seen, k)
		}
	}
	t.mu.Unlock()
}

// remoteResources lists the resources of a remote user seen available.
func (t *presenceTracker) remoteResources(user jid.JID) []jid.JID {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []jid.JID
	for j := range t.remote[user.Bare()] {
		out = append(out, j)
	}
	return out
}

// outboundPresence sees the presence local sessions send: it injects the
// XEP-0153 avatar hash, records capabilities, and on the initial presence
// of a resource sends it the last items of its own account's nodes.
func (m *Module) outboundPresence(ctx context.Context, p *module.Packet) module.Verdict {
	if p.Origin == nil {
		return module.Continue
	}
	switch p.Stanza.Type() {
	case "":
		m.injectAvatarHash(ctx, p)
		if !p.To.IsZero() {
			return module.Continue
		}
		owner, full := p.From.Bare(), p.From
		initial := m.presence.available(owner, full, false)
		m.recordCaps(ctx, full, p.Stanza.Child(caps.NS, "c"), func(ctx context.Context) {
			if initial {
				m.sendLastOnPresence(ctx, owner, full)
			}
		})
	case stanza.TypeUnavailable:
		if p.To.IsZero() {
			m.presence.unavailable(p.From.Bare(), p.From)
		}
	}
	return module.Continue
}

// inboundPresence sees presence reaching a local account: a contact's
// initial presence with interest in a node gets its last item.
//
// Only a contact the account shares its presence with (a roster item
// with subscription from or both, XEP-0163 §4.3) counts. Presence from a
// chat room occupant (room@service/nick, marked by its muc#user payload),
// from a service or from a stranger's directed presence is not a
// contact's: no caps query goes to it and no item is sent to it. (A room
// would relay such a notification into itself; the caps it carries are
// another user's.)
func (m *Module) inboundPresence(ctx context.Context, p *module.Packet) module.Verdict {
	owner, full := p.To.Bare(), p.From
	if full.IsBare() || full.Bare() == owner {
		return module.Continue
	}
	switch p.Stanza.Type() {
	case "":
		if full.Local() == "" || p.Stanza.Child(muc.NSUser, "x") != nil {
			return module.Continue
		}
		if !m.presence.known(owner, full) {
			// Checked once per resource: later presence from a resource
			// already admitted costs no roster lookup.
			ok, err := m.inRoster(ctx, []jid.JID{owner}, full, nil)
			if err != nil {
				m.log.ErrorContext(ctx, "pubsub: roster for inbound presence", "owner", owner, "from", full, "err", err)
				return module.Continue
			}
			if !ok {
				return module.Continue
			}
		}
		initial := m.presence.available(owner, full, !m.host.IsLocal(full.Domain()))
		m.recordCaps(ctx, full, p.Stanza.Child(caps.NS, "c"), func(ctx context.Context) {
			if initial {
				m.sendLastOnPresence(ctx, owner, full)
			}
		})
	case stanza.TypeUnavailable:
		m.presence.unavailable(owner, full)
	}
	return module.Continue
}

func (m *Module) sessionEnded(_ context.Context, s *session.Session) {
	m.presence.forget(s.JID())
	m.caps.forget(s.JID())
	if user := s.JID().Bare(); !session.AnyLocal(m.host.Sessions().Sessions(user)) {
		// The avatar hash is cached for online users only: the cache
		// stays bounded, and an account deleted and created again does
		// not advertise its predecessor's photo.
		m.avatars.forget(user)
	}
}

// sendLastOnPresence sends to a newly available resource the last item of
// each of owner's PEP nodes configured on_sub_and_presence that it may
// access and shows interest in.
func (m *Module) sendLastOnPresence(ctx context.Context, owner, full jid.JID) {
	nodes, err := m.stores.PubSub.PubSubNodes(ctx, owner)
	if err != nil {
		m.log.ErrorContext(ctx, "pubsub: nodes for last items", "owner", owner, "err", err)
		return
	}
	rq := &request{svc: owner, pep: true, from: owner}
	for _, sn := range nodes {
		if !m.caps.wants(full, sn.Node) {
			continue
		}
		n, err := m.loadNode(ctx, rq, sn.Node)
		if err != nil {
			continue
		}
		if n.cfg.SendLastPublishedItem != xpubsub.SendOnSubAndPresence || !n.cfg.DeliverNotifications {
			continue
		}
		if m.canAccess(ctx, rq, n, full) != nil {
			continue
		}
		m.sendLast(ctx, rq, n, full)
	}
}
