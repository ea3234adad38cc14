package roster

import (
	"context"
	"errors"
	"hash/maphash"
	"strconv"
	"sync"

	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/privilege"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// What privileged components (XEP-0356) may do with rosters and
// presence: read and change a user's roster with an IQ to the user's
// bare JID (§4.3), get roster pushes (§4.4), and receive the users'
// presence and their contacts' (§7).

// rosterOwner returns whose roster an IQ reads or changes: the sender's
// own, or — for a component granted roster access of that type — the
// user it is addressed to. Anyone else gets deny.
func (m *Module) rosterOwner(q *module.IQ, deny stanza.Condition) (jid.JID, error) {
	if q.FromSelf() {
		return q.From.Bare(), nil
	}
	c, ok := m.opts.Components.Of(q.From)
	if !ok {
		return jid.JID{}, stanza.Err(deny)
	}
	if !c.Grants.Roster.Allows(q.Stanza.Type()) {
		m.log.Info("roster: component without the roster privilege refused", "component", c.Domain, "user", q.To, "type", q.Stanza.Type())
		return jid.JID{}, stanza.Errorf(stanza.Forbidden, "%s has no roster %s privilege", c.Domain, q.Stanza.Type())
	}
	// The router hands TargetAccount IQs only for accounts of the served
	// domains: a component never reaches another server's users here.
	return q.To.Bare(), nil
}

// pushToComponents sends a roster push of user's roster to the components
// granted pushes (§4.4), from the user's bare JID.
func (m *Module) pushToComponents(ctx context.Context, user jid.JID, payload *stanza.Element) {
	for _, c := range m.opts.Components {
		if !c.Grants.Pushes() {
			continue
		}
		id := "push" + strconv.FormatUint(m.pushSeq.Add(1), 36)
		iq := stanza.NewIQ(stanza.TypeSet, id, c.Domain, payload.Clone())
		iq.Set("from", user.String())
		m.host.Route(ctx, iq)
	}
}

// presenceToComponents sends a user's available or unavailable
// presence broadcast to the components granted the users' presence
// (§7.1), as directed presence from the full JID.
func (m *Module) presenceToComponents(ctx context.Context, pres *stanza.Element) {
	for _, c := range m.opts.Components {
		if !c.Grants.SeesPresence() {
			continue
		}
		out := pres.Clone()
		out.Set("to", c.Domain)
		m.host.Route(ctx, out)
	}
}

// contactPresenceToComponents sends presence a user receives from a
// contact whose presence the user is subscribed to, to the components
// granted roster presence (§7.4). Presence from local users is left out:
// the components got it as the user's own (§9 rule 2, once only).
func (m *Module) contactPresenceToComponents(ctx context.Context, p *module.Packet) {
	typ := p.Stanza.Type()
	if typ != "" && typ != stanza.TypeUnavailable || m.host.IsLocal(p.From.Domain()) {
		return
	}
	var to []string
	for _, c := range m.opts.Components {
		// A component's own presence is not sent back to it.
		if c.Grants.Presence == privilege.PresenceRoster && c.Domain != p.From.Domain() {
			to = append(to, c.Domain)
		}
	}
	if len(to) == 0 {
		return
	}
	user, contact := p.To.Bare(), p.From.Bare()
	sub, err := m.subscribedTo(ctx, user, contact)
	if err != nil {
		m.log.Error("roster: cannot check a subscription for a privileged component", "user", user, "contact", contact, "err", err)
		return
	}
	if !sub {
		return
	}
	if !m.forwarded.fresh(m.seed, p.From, p.Stanza) {
		return // §9 rule 2: the same presence once only
	}
	for _, d := range to {
		out := p.Stanza.Clone()
		out.Set("to", d)
		m.host.Route(ctx, out)
	}
}

// maxForwarded bounds the contacts whose last presence forwarded to the
// components is remembered.
const maxForwarded = 4096

// forwardedPresence remembers, by contact's full JID, a hash of the last
// presence sent to the components (XEP-0356 §9 rule 2: when several
// users receive the same presence of a contact, the components get it
// once). Bounded: past maxForwarded entries, an arbitrary one is
// forgotten, and at worst a presence goes out twice.
type forwardedPresence struct {
	mu   sync.Mutex
	last map[jid.JID]uint64
}

// fresh reports whether st differs from the last presence of from that
// was forwarded, and records it.
func (f *forwardedPresence) fresh(seed maphash.Seed, from jid.JID, st *stanza.Element) bool {
	c := st.Clone()
	c.Set("to", "")
	sum := maphash.Bytes(seed, c.Bytes())
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.last == nil {
		f.last = make(map[jid.JID]uint64)
	}
	if old, ok := f.last[from]; ok && old == sum {
		return false
	}
	if len(f.last) >= maxForwarded {
		for k := range f.last {
			delete(f.last, k)
			break
		}
	}
	f.last[from] = sum
	return true
}

// subscribedTo reports whether user is subscribed to contact's presence.
func (m *Module) subscribedTo(ctx context.Context, user, contact jid.JID) (bool, error) {
	if it, found, ok := m.cachedItem(user, contact); ok {
		return found && State{Sub: it.Subscription}.HasTo(), nil
	}
	it, err := m.host.Stores().Roster.RosterItem(ctx, user, contact)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return State{Sub: it.Subscription}.HasTo(), nil
}
