package muc

import (
	"context"

	"github.com/parley-xmpp/parley/xmpp/form"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/muc"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// ownerGet returns the configuration form (XEP-0045 §10.2).
func (m *Module) ownerGet(rm *room, from jid.JID) (*stanza.Element, error) {
	if m.affiliation(rm, from) != affOwnerVal {
		return nil, forbidden("only owners configure the room")
	}
	return stanza.New(muc.NSOwner, "query").Append(m.configForm(rm)), nil
}

// ownerSet submits or cancels the configuration, or destroys the room
// (§10.1–§10.2, §10.9).
func (m *Module) ownerSet(ctx context.Context, rm *room, from jid.JID, q *stanza.Element) error {
	if m.affiliation(rm, from) != affOwnerVal {
		return forbidden("only owners configure or destroy the room")
	}
	if d := q.Child(muc.NSOwner, "destroy"); d != nil {
		m.destroy(ctx, rm, d)
		return nil
	}
	x := q.Child(form.NS, "x")
	if x == nil {
		return stanza.Errorf(stanza.BadRequest, "expected a data form or <destroy/>")
	}
	switch x.Get("type") {
	case form.TypeCancel:
		if rm.locked {
			// §10.1.3: cancelling the initial configuration destroys
			// the room.
			m.destroy(ctx, rm, nil)
		}
		return nil
	case form.TypeSubmit:
	default:
		return stanza.Errorf(stanza.BadRequest, "the form must be submitted or cancelled")
	}
	s, err := m.parseSubmit(rm, x)
	if err != nil {
		return err
	}
	// Counted as if the lists only added (what they take away is not
	// subtracted): a conservative check.
	listed := make(map[jid.JID]bool)
	for _, j := range append(append([]jid.JID(nil), s.owners...), s.admins...) {
		listed[j] = true
	}
	if err := m.roomForAffiliations(rm, listed); err != nil {
		return err
	}
	m.configure(ctx, rm, s)
	return nil
}

// configure applies a submitted configuration and its consequences.
func (m *Module) configure(ctx context.Context, rm *room, s *submitted) {
	old := rm.cfg
	wasLocked := rm.locked
	rm.cfg = s.cfg
	rm.locked = false
	rm.hist.setLimit(rm.cfg.MaxHistory)
	switch {
	case rm.cfg.Persistent:
		m.persist(ctx, rm)
	case old.Persistent:
		m.unpersist(ctx, rm)
	}
	setList := func(aff muc.Affiliation, list []jid.JID) {
		keep := make(map[jid.JID]bool)
		for _, j := range list {
			keep[j] = true
			if e, ok := rm.affs[j]; !ok || e.aff != aff {
				m.applyAffiliation(ctx, rm, j, aff, "", rm.affs[j].nick, "")
			}
		}
		for _, j := range rm.affList(aff) {
			if !keep[j] {
				m.applyAffiliation(ctx, rm, j, affNoneVal, "", "", "")
			}
		}
	}
	if s.hasOwners {
		setList(affOwnerVal, s.owners)
	}
	if s.hasAdmins {
		setList(affAdminVal, s.admins)
	}
	if rm.cfg.MembersOnly && !old.MembersOnly {
		for _, o := range append([]*occupant(nil), rm.occupants()...) {
			if m.affiliation(rm, o.bare()) < affMemberVal {
				m.removeOccupant(ctx, rm, o, leaveInfo{codes: []int{muc.StatusMembersOnly}})
			}
		}
	}
	if rm.cfg.Moderated != old.Moderated {
		for _, o := range rm.occupants() {
			if o.role == muc.RoleModerator {
				continue
			}
			if r := rm.defaultRole(m.affiliation(rm, o.bare())); r != o.role {
				o.role = r
				m.broadcastPresence(rm, o, presOpts{self: []int{muc.StatusSelf}})
			}
		}
	}
	if wasLocked || len(rm.occ) == 0 {
		return
	}
	// §10.2.1: tell the occupants the configuration changed.
	codes := []int{muc.StatusConfigChanged}
	if rm.cfg.WhoIs != old.WhoIs {
		if rm.cfg.WhoIs == whoisAnyone {
			codes = append(codes, 172)
		} else {
			codes = append(codes, 173)
		}
	}
	m.announceConfig(rm, codes)
}

// announceConfig tells every occupant that the room's configuration
// changed (§10.2.1: status 104, and 172 or 173 when its anonymity did).
func (m *Module) announceConfig(rm *room, codes []int) {
	proto := stanza.New(stanza.NSClient, "message", "type", stanza.TypeGroupchat, "from", rm.jid.String()).
		Append(muc.UserX(nil, codes...))
	size := approxSize(proto)
	for _, o := range rm.occupants() {
		for _, s := range o.sessions {
			rm.postTo(proto, size, s.real.String())
		}
	}
}

// destroy ends a room (§10.9): every occupant leaves with the <destroy/>
// (alternate venue and reason) and the stored room is deleted.
func (m *Module) destroy(ctx context.Context, rm *room, d *stanza.Element) {
	var out *stanza.Element
	if d != nil {
		out = stanza.New(muc.NSUser, "destroy")
		if j := d.Get("jid"); j != "" {
			out.Set("jid", j)
		}
		if r := d.ChildText(muc.NSOwner, "reason"); r != "" {
			out.Append(stanza.New(muc.NSUser, "reason").AppendText(r))
		}
		if pw := d.ChildText(muc.NSOwner, "password"); pw != "" {
			out.Append(stanza.New(muc.NSUser, "password").AppendText(pw))
		}
	}
	rm.cfg.Persistent = true // keep the room open until everyone is out
	for _, o := range append([]*occupant(nil), rm.occupants()...) {
		m.removeOccupant(ctx, rm, o, leaveInfo{destroy: out})
	}
	rm.cfg.Persistent = false
	m.unpersist(ctx, rm)
	m.close(rm)
}
