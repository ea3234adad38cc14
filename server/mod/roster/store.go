package roster

import (
	"context"
	"errors"
	"fmt"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
	xroster "github.com/parley-xmpp/parley/xmpp/roster"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// entry is a contact's roster item and subscription state as stored.
type entry struct {
	item    storage.RosterItem
	exists  bool
	state   State
	pending int // the user's pending-in requests, from anyone
}

// The refusals of the roster quotas.
// RFC 6121 names no condition for a full roster; <policy-violation/>
// (RFC 6120 §8.3.3.12) says a local policy refused it, and the text says
// which. A subscription request the user cannot keep is refused to its
// sender with <resource-constraint/> (§8.3.3.18): the user lacks the room.
const (
	textRosterFull  = "the roster is full"
	textPendingFull = "the contact has too many unanswered subscription requests"
)

// checkRosterRoom returns a <policy-violation/> naming the limit when
// user's roster cannot take one more item. The caller holds user's lock,
// so the count cannot change before its write.
func (m *Module) checkRosterRoom(ctx context.Context, user jid.JID) error {
	if m.opts.MaxItems <= 0 {
		return nil
	}
	items, _, err := m.rosterItems(ctx, user)
	if err != nil {
		return fmt.Errorf("roster: count the roster of %s: %w", user, err)
	}
	if len(items) < m.opts.MaxItems {
		return nil
	}
	m.log.Info("roster: quota reached, item refused", "user", user, "items", len(items), "max", m.opts.MaxItems)
	return stanza.Errorf(stanza.PolicyViolation, "%s: at most %d items", textRosterFull, m.opts.MaxItems)
}

// load reads the state between user and contact: the roster item (if
// any) and whether a pending-in request is stored.
func (m *Module) load(ctx context.Context, user, contact jid.JID) (entry, error) {
	rs := m.host.Stores().Roster
	e := entry{item: storage.RosterItem{Contact: contact}}
	it, err := rs.RosterItem(ctx, user, contact)
	switch {
	case err == nil:
		e.item, e.exists = it, true
	case !errors.Is(err, storage.ErrNotFound):
		return e, fmt.Errorf("roster: load %s in the roster of %s: %w", contact, user, err)
	}
	reqs, err := rs.SubscriptionRequests(ctx, user)
	if err != nil {
		return e, fmt.Errorf("roster: load subscription requests of %s: %w", user, err)
	}
	e.pending = len(reqs)
	for _, r := range reqs {
		if r.From == contact {
			e.state.PendingIn = true
			break
		}
	}
	e.state.Sub = e.item.Subscription
	e.state.PendingOut = e.item.AskOut
	e.state.PreApproved = e.item.PreApproved
	return e, nil
}

// change is the result of applying a subscription stanza.
type change struct {
	Outcome
	item storage.RosterItem
	ver  int64
}

// apply runs the state machine for a subscription stanza between user and
// contact and stores the new state. st is the stanza; for an inbound
// subscribe that becomes pending-in it is kept to be redelivered.
func (m *Module) apply(ctx context.Context, user, contact jid.JID, inbound bool, st *stanza.Element) (change, error) {
	unlock := m.lock(user)
	defer unlock()
	wrote := false
	defer func() {
		if wrote { // before unlock: the writes are done
			m.invalidate(user)
		}
	}()
	e, err := m.load(ctx, user, contact)
	if err != nil {
		return change{}, err
	}
	var o Outcome
	if inbound {
		o, _ = Inbound(e.state, st.Type())
	} else {
		o, _ = Outbound(e.state, st.Type())
	}
	ch := change{Outcome: o, item: e.item}
	rs := m.host.Stores().Roster
	if !e.exists && o.State.visible() != e.state.visible() {
		if err := m.checkRosterRoom(ctx, user); err != nil {
			return change{}, err
		}
	}
	if o.State.PendingIn && !e.state.PendingIn && m.opts.MaxPending > 0 && e.pending >= m.opts.MaxPending {
		m.log.Info("roster: pending subscription requests full, request refused", "user", user, "from", contact, "pending", e.pending, "max", m.opts.MaxPending)
		return change{}, stanza.Errorf(stanza.ResourceConstraint, textPendingFull)
	}
	if o.State.visible() != e.state.visible() {
		ch.item.Subscription = o.State.Sub
		ch.item.AskOut = o.State.PendingOut
		ch.item.PreApproved = o.State.PreApproved
		wrote = true
		ch.ver, err = rs.PutRosterItem(ctx, user, ch.item)
		if err != nil {
			return change{}, fmt.Errorf("roster: store %s in the roster of %s: %w", contact, user, err)
		}
	}
	if o.State.PendingIn != e.state.PendingIn {
		wrote = true
		if o.State.PendingIn {
			kept := st.Clone()
			kept.Set("from", contact.String())
			kept.Set("to", user.String())
			req := storage.SubscriptionRequest{From: contact, Stanza: kept.AppendXML(nil, ""), At: m.host.Now()}
			err = rs.AddSubscriptionRequest(ctx, user, req)
		} else {
			err = rs.DeleteSubscriptionRequest(ctx, user, contact)
		}
		if err != nil {
			return change{}, fmt.Errorf("roster: update the request of %s to %s: %w", contact, user, err)
		}
	}
	return ch, nil
}

// wireItem converts a stored item to its protocol form.
func wireItem(it storage.RosterItem) xroster.Item {
	w := xroster.Item{
		JID:          it.Contact,
		Name:         it.Name,
		Subscription: it.Subscription.String(),
		Approved:     it.PreApproved,
		Groups:       it.Groups,
	}
	if it.AskOut {
		w.Ask = xroster.AskSub
	}
	return w
}
