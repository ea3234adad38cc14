package muc

import (
	"context"
	"fmt"

	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/muc"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// forbidden is the error for requests beyond the requester's privileges.
func forbidden(text string) error {
	return &stanza.Error{Type: stanza.ErrAuth, Condition: stanza.Forbidden, Text: text}
}

// notAllowed is the error for acting on someone at or above oneself.
func notAllowed(text string) error {
	return &stanza.Error{Type: stanza.ErrCancel, Condition: stanza.NotAllowed, Text: text}
}

// adminGet returns a role or affiliation list (XEP-0045 §8.5, §9.5, §9.8,
// §10.5, §10.8).
func (m *Module) adminGet(rm *room, from jid.JID, q *stanza.Element) (*stanza.Element, error) {
	items := q.ChildrenNamed(muc.NSAdmin, "item")
	if len(items) != 1 {
		return nil, stanza.Errorf(stanza.BadRequest, "one <item/> names the list")
	}
	it := muc.ParseItem(items[0])
	res := stanza.New(muc.NSAdmin, "query")
	switch {
	case it.Affiliation != "":
		aff, err := muc.ParseAffiliation(it.Affiliation)
		if err != nil || aff == affNoneVal {
			return nil, stanza.Errorf(stanza.BadRequest, "no such affiliation list")
		}
		if m.affiliation(rm, from) < affAdminVal {
			return nil, forbidden("only admins and owners see affiliation lists")
		}
		for _, j := range rm.affList(aff) {
			e := rm.affs[j]
			res.Append(muc.Item{Affiliation: aff.String(), JID: j.String(), Nick: e.nick, Reason: e.reason}.Element(muc.NSAdmin))
		}
	case it.Role != "":
		role, err := muc.ParseRole(it.Role)
		if err != nil || role == muc.RoleNone {
			return nil, stanza.Errorf(stanza.BadRequest, "no such role list")
		}
		if o := rm.real[from]; o == nil || o.role != muc.RoleModerator {
			return nil, forbidden("only moderators see role lists")
		}
		for _, o := range rm.occupants() {
			if o.role == role {
				res.Append(muc.Item{Affiliation: m.affiliation(rm, o.bare()).String(), Role: role.String(),
					Nick: o.nick, JID: o.primary().real.String()}.Element(muc.NSAdmin))
			}
		}
	default:
		return nil, stanza.Errorf(stanza.BadRequest, "the item names no role nor affiliation")
	}
	return res, nil
}

// change is one validated item of an admin request.
type change struct {
	target *occupant // role change
	role   muc.Role
	j      jid.JID // affiliation change
	aff    muc.Affiliation
	reason string
	nick   string
}

// adminSet applies role and affiliation changes (XEP-0045 §8, §9, §10);
// every item is checked before any is applied.
func (m *Module) adminSet(ctx context.Context, rm *room, from jid.JID, q *stanza.Element) error {
	items := q.ChildrenNamed(muc.NSAdmin, "item")
	if len(items) == 0 {
		return stanza.Errorf(stanza.BadRequest, "no <item/>")
	}
	actorAff := m.affiliation(rm, from)
	actor := rm.real[from]
	var changes []change
	owners := rm.countAff(affOwnerVal)
	for _, el := range items {
		it := muc.ParseItem(el)
		switch {
		case it.Role != "" && it.Nick != "":
			role, err := muc.ParseRole(it.Role)
			if err != nil {
				return stanza.Errorf(stanza.BadRequest, "%v", err)
			}
			c, err := m.checkRole(rm, actor, actorAff, it.Nick, role)
			if err != nil {
				return err
			}
			c.reason = it.Reason
			changes = append(changes, c)
		case it.Affiliation != "" && it.JID != "":
			aff, err := muc.ParseAffiliation(it.Affiliation)
			if err != nil {
				return stanza.Errorf(stanza.BadRequest, "%v", err)
			}
			j, err := jid.Parse(it.JID)
			if err != nil {
				return stanza.Errorf(stanza.JIDMalformed, "bad jid %q", it.JID)
			}
			j = j.Bare()
			old := affNoneVal
			if e, ok := rm.affs[j]; ok {
				old = e.aff
			}
			if err := checkAffiliation(actorAff, old, aff); err != nil {
				return err
			}
			if old == affOwnerVal && aff != affOwnerVal {
				owners--
				if owners == 0 {
					return stanza.Errorf(stanza.Conflict, "a room needs an owner")
				}
			}
			changes = append(changes, change{j: j, aff: aff, reason: it.Reason, nick: it.Nick})
		default:
			return stanza.Errorf(stanza.BadRequest, "an item changes a role by nick or an affiliation by jid")
		}
	}
	after := make(map[jid.JID]bool) // who holds an affiliation once applied
	for _, c := range changes {
		if c.target == nil {
			after[c.j] = c.aff != affNoneVal
		}
	}
	if err := m.roomForAffiliations(rm, after); err != nil {
		return err
	}
	actorNick := ""
	if actor != nil {
		actorNick = actor.nick
	}
	for _, c := range changes {
		if c.target != nil {
			m.applyRole(ctx, rm, c.target, c.role, c.reason, actorNick)
		} else {
			m.applyAffiliation(ctx, rm, c.j, c.aff, c.reason, c.nick, actorNick)
		}
	}
	return nil
}

// checkRole validates a role change (§8.2–§8.6, §9.6, §9.7).
func (m *Module) checkRole(rm *room, actor *occupant, actorAff muc.Affiliation, nick string, role muc.Role) (change, error) {
	if actor == nil || actor.role != muc.RoleModerator {
		return change{}, forbidden("only moderators change roles")
	}
	var t *occupant
	if key, err := nickKey(nick); err == nil {
		t = rm.occ[key]
	}
	if t == nil {
		return change{}, stanza.Errorf(stanza.ItemNotFound, "no occupant %q", nick)
	}
	tAff := m.affiliation(rm, t.bare())
	if role == muc.RoleModerator || t.role == muc.RoleModerator && role != muc.RoleModerator {
		if actorAff < affAdminVal {
			return change{}, forbidden("only admins grant or revoke moderation")
		}
	}
	if role < muc.RoleModerator && tAff >= affAdminVal && tAff >= actorAff {
		return change{}, notAllowed("that occupant's affiliation is at or above yours")
	}
	if role < muc.RoleModerator && tAff >= affAdminVal && t != actor && role == muc.RoleNone {
		return change{}, notAllowed("admins and owners cannot be kicked")
	}
	return change{target: t, role: role}, nil
}

// checkAffiliation validates an affiliation change (§9.1, §9.3, §10.3,
// §10.6).
func checkAffiliation(actor, old, aff muc.Affiliation) error {
	switch {
	case actor < affAdminVal:
		return forbidden("only admins and owners change affiliations")
	case actor == affOwnerVal:
		return nil
	case aff >= affAdminVal:
		return forbidden("only owners grant admin or owner")
	case old >= affAdminVal:
		return notAllowed("only owners change admins and owners")
	}
	return nil
}

// applyRole changes an occupant's role and tells the room; a kick
// (role none) removes it with 307.
func (m *Module) applyRole(ctx context.Context, rm *room, o *occupant, role muc.Role, reason, actor string) {
	if role == muc.RoleNone {
		m.removeOccupant(ctx, rm, o, leaveInfo{codes: []int{muc.StatusKicked}, reason: reason, actor: actor})
		return
	}
	o.role = role
	m.broadcastPresence(rm, o, presOpts{reason: reason, actor: actor, self: []int{muc.StatusSelf}})
}

// applyAffiliation sets an affiliation and updates the occupants it
// concerns: banned ones leave with 301, non-members of a members-only
// room with 321, the others get their new role.
func (m *Module) applyAffiliation(ctx context.Context, rm *room, j jid.JID, aff muc.Affiliation, reason, nick, actor string) {
	if aff == affNoneVal {
		delete(rm.affs, j)
	} else {
		rm.affs[j] = affEntry{aff: aff, reason: reason, nick: nick}
	}
	m.persistAff(ctx, rm, j)
	var hit []*occupant
	for _, o := range rm.occupants() {
		if o.bare() == j || j.Local() == "" && o.bare().Domain() == j.Domain() {
			hit = append(hit, o)
		}
	}
	for _, o := range hit {
		now := m.affiliation(rm, o.bare())
		switch {
		case now == affOutcastVal:
			m.removeOccupant(ctx, rm, o, leaveInfo{codes: []int{muc.StatusBanned}, reason: reason, actor: actor})
		case rm.cfg.MembersOnly && now < affMemberVal:
			m.removeOccupant(ctx, rm, o, leaveInfo{codes: []int{muc.StatusAffRemoved}, reason: reason, actor: actor})
		default:
			o.role = rm.defaultRole(now)
			m.broadcastPresence(rm, o, presOpts{reason: reason, actor: actor, self: []int{muc.StatusSelf}})
		}
	}
}

// roomForAffiliations checks that the room's affiliation list stays
// within Options.MaxAffiliations once the JIDs in after gain (true) or
// lose (false) their affiliation; the error is <policy-violation/>.
func (m *Module) roomForAffiliations(rm *room, after map[jid.JID]bool) error {
	if m.opts.MaxAffiliations <= 0 {
		return nil
	}
	n := len(rm.affs)
	for j, has := range after {
		_, had := rm.affs[j]
		switch {
		case has && !had:
			n++
		case !has && had:
			n--
		}
	}
	if n > m.opts.MaxAffiliations {
		return &stanza.Error{Type: stanza.ErrModify, Condition: stanza.PolicyViolation,
			Text: fmt.Sprintf("a room holds at most %d affiliations", m.opts.MaxAffiliations)}
	}
	return nil
}
