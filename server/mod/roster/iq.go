package roster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
	xroster "github.com/parley-xmpp/parley/xmpp/roster"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// maxText bounds item names and group names (RFC 6121 §2.3.3 lets the
// server configure such a limit and answer <not-acceptable/> past it).
const maxText = 1023

// handleGet answers a roster get (RFC 6121 §2.2) with versioning (§2.6).
func (m *Module) handleGet(ctx context.Context, q *module.IQ) (*stanza.Element, error) {
	// §2.1.5: only the user (or a privileged component) may read the
	// roster; others must not learn anything about it.
	user, err := m.rosterOwner(q, stanza.ServiceUnavailable)
	if err != nil {
		return nil, err
	}
	req, err := xroster.Decode(q.Payload)
	if err != nil {
		return nil, err
	}
	if q.Session != nil {
		q.Session.SetFlag(interestedFlag, true)
	}
	items, ver, err := m.rosterItems(ctx, user)
	if err != nil {
		return nil, fmt.Errorf("roster: read the roster of %s: %w", user, err)
	}
	cur := strconv.FormatInt(ver, 10)
	if req.HasVer && req.Ver == cur {
		// §2.6.3: unchanged; an empty result, not an empty query.
		return nil, nil
	}
	res := &xroster.Query{Ver: cur, HasVer: true}
	for _, it := range items {
		res.Items = append(res.Items, wireItem(it))
	}
	return res.Element(), nil
}

// handleSet adds, updates (§2.3, §2.4) or removes (§2.5) a roster item.
func (m *Module) handleSet(ctx context.Context, q *module.IQ) (*stanza.Element, error) {
	// §2.1.5: a roster set from anyone but the user (or a privileged
	// component) is refused.
	user, err := m.rosterOwner(q, stanza.Forbidden)
	if err != nil {
		return nil, err
	}
	req, err := xroster.Decode(q.Payload)
	if err != nil {
		return nil, err
	}
	it, err := req.Single()
	if err != nil {
		return nil, err
	}
	if !it.JID.IsBare() {
		return nil, stanza.Errorf(stanza.BadRequest, "roster items are bare JIDs, not %s", it.JID)
	}
	if it.Subscription == xroster.SubRemove {
		return nil, m.remove(ctx, user, it.JID)
	}
	if utf8.RuneCountInString(it.Name) > maxText {
		return nil, stanza.Errorf(stanza.NotAcceptable, "item name longer than %d characters", maxText)
	}
	for _, g := range it.Groups {
		if utf8.RuneCountInString(g) > maxText {
			return nil, stanza.Errorf(stanza.NotAcceptable, "group name longer than %d characters", maxText)
		}
	}
	stored, ver, err := m.update(ctx, user, it)
	if err != nil {
		return nil, err
	}
	m.push(user, wireItem(stored), ver)
	return nil, nil
}

// update stores the name and groups of an item; the subscription, ask and
// approved attributes of a set are ignored (§2.1.2.5: the client cannot
// change them this way).
func (m *Module) update(ctx context.Context, user jid.JID, it xroster.Item) (storage.RosterItem, int64, error) {
	unlock := m.lock(user)
	defer unlock()
	defer m.invalidate(user) // before unlock: the write is done
	rs := m.host.Stores().Roster
	stored, err := rs.RosterItem(ctx, user, it.JID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		if err := m.checkRosterRoom(ctx, user); err != nil {
			return stored, 0, err
		}
		stored = storage.RosterItem{Contact: it.JID}
	case err != nil:
		return stored, 0, fmt.Errorf("roster: read %s in the roster of %s: %w", it.JID, user, err)
	}
	stored.Name = it.Name
	stored.Groups = it.Groups
	ver, err := rs.PutRosterItem(ctx, user, stored)
	if err != nil {
		return stored, 0, fmt.Errorf("roster: store %s in the roster of %s: %w", it.JID, user, err)
	}
	return stored, ver, nil
}

// remove deletes an item and cancels the subscriptions in both directions
// (§2.5.2): unsubscribe if the user was subscribed to the contact or had
// asked to be, unsubscribed if the contact was subscribed or had asked.
func (m *Module) remove(ctx context.Context, user, contact jid.JID) error {
	unlock := m.lock(user)
	e, err := m.load(ctx, user, contact)
	if err != nil {
		unlock()
		return err
	}
	if !e.exists {
		unlock()
		return stanza.Errorf(stanza.ItemNotFound, "%s is not in the roster", contact)
	}
	rs := m.host.Stores().Roster
	ver, err := rs.DeleteRosterItem(ctx, user, contact)
	if err == nil && e.state.PendingIn {
		err = rs.DeleteSubscriptionRequest(ctx, user, contact)
	}
	m.invalidate(user)
	unlock()
	if err != nil {
		return fmt.Errorf("roster: remove %s from the roster of %s: %w", contact, user, err)
	}
	m.push(user, xroster.Item{JID: contact, Subscription: xroster.SubRemove}, ver)
	if e.state.HasTo() || e.state.PendingOut {
		m.route(ctx, stanza.TypeUnsubscribe, user, contact)
	}
	if e.state.HasFrom() || e.state.PendingIn {
		m.route(ctx, stanza.TypeUnsubscribed, user, contact)
	}
	if e.state.HasFrom() {
		m.sendUnavailable(ctx, user, contact)
	}
	return nil
}
