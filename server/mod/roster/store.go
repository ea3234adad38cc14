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
	item   storage.RosterItem
	exists bool
	state  State
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
			m.cache.invalidate(user)
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
