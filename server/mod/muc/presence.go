package muc

import (
	"context"
	"strings"

	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/muc"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// presence handles presence to an occupant JID (room/nick): entering,
// changing nickname or status, leaving (XEP-0045 §7.2, §7.6, §7.7, §7.14).
func (m *Module) presence(ctx context.Context, p *module.Packet) {
	st := p.Stanza
	rj := p.To.Bare()
	switch st.Type() {
	case "":
	case stanza.TypeUnavailable:
		m.leave(ctx, rj, p.From, st.ChildText("", "status"))
		return
	case stanza.TypeError:
		// The occupant's client or server refused what the room sent:
		// remove it (§18, "service removes user because of error").
		from := p.From
		m.goBackground(func(ctx context.Context) { m.kickOnError(ctx, rj, from) })
		return
	default:
		return // subscriptions and probes mean nothing to a room
	}
	rm, err := m.lookup(ctx, rj)
	if err != nil {
		m.replyErr(ctx, st, err)
		return
	}
	if rm != nil {
		defer rm.mu.Unlock()
		if o := rm.real[p.From]; o != nil {
			m.update(ctx, rm, o, p)
			return
		}
	}
	x := st.Child(muc.NS, "x")
	if x == nil {
		// §7.2.1: presence without <x/> from a non-occupant is not a
		// join; the client lost track of the room.
		m.ghostKick(ctx, st, p.From)
		return
	}
	nick := p.To.Resource()
	if nick == "" {
		m.replyErr(ctx, st, stanza.Errorf(stanza.JIDMalformed, "no nickname given"))
		return
	}
	hist, err := muc.ParseHistory(x)
	if err != nil {
		m.replyErr(ctx, st, stanza.Errorf(stanza.BadRequest, "%v", err))
		return
	}
	created := false
	if rm == nil {
		if err := m.mayCreate(p.From); err != nil {
			m.replyErr(ctx, st, err)
			return
		}
		rm, created = m.create(rj, p.From)
		defer rm.mu.Unlock()
		if !created {
			if o := rm.real[p.From]; o != nil {
				m.update(ctx, rm, o, p)
				return
			}
		}
	}
	if err := m.mayEnter(rm, p.From, nick, x, created); err != nil {
		if created {
			m.close(rm)
		}
		m.replyErr(ctx, st, err)
		return
	}
	m.enter(ctx, rm, p, nick, hist, created)
}

// mayCreate applies the room creation policy.
func (m *Module) mayCreate(from jid.JID) error {
	switch {
	case m.isAdmin(from):
		return nil
	case m.opts.Create == CreateAdmins:
		return stanza.Errorf(stanza.NotAllowed, "only administrators create rooms here")
	case !m.host.IsLocal(from.Domain()):
		return stanza.Errorf(stanza.NotAllowed, "only local users create rooms here")
	}
	return nil
}

// mayEnter checks a join against the room (XEP-0045 §7.2.5–§7.2.11).
func (m *Module) mayEnter(rm *room, from jid.JID, nick string, x *stanza.Element, created bool) error {
	if created {
		return nil
	}
	aff := m.affiliation(rm, from)
	switch {
	case rm.locked && aff != affOwnerVal:
		return stanza.Errorf(stanza.ItemNotFound, "the room is being created")
	case aff == affOutcastVal:
		return &stanza.Error{Type: stanza.ErrAuth, Condition: stanza.Forbidden, Text: "you are banned from this room"}
	case rm.cfg.MembersOnly && aff < affMemberVal:
		return &stanza.Error{Type: stanza.ErrAuth, Condition: stanza.RegistrationRequired, Text: "the room is members-only"}
	case rm.cfg.Protected && aff < affOwnerVal && x.ChildText(muc.NS, "password") != rm.cfg.Secret:
		return &stanza.Error{Type: stanza.ErrAuth, Condition: stanza.NotAuthorized, Text: "a password is required"}
	}
	if o := rm.occ[nick]; o != nil && o.real.Bare() != from.Bare() {
		return &stanza.Error{Type: stanza.ErrCancel, Condition: stanza.Conflict, Text: "that nickname is in use"}
	} else if o != nil {
		return &stanza.Error{Type: stanza.ErrCancel, Condition: stanza.Conflict, Text: "you are in the room with that nickname from another resource"}
	}
	if holder, ok := rm.nickOwner(nick); ok && holder != from.Bare() {
		return &stanza.Error{Type: stanza.ErrCancel, Condition: stanza.Conflict, Text: "that nickname is reserved"}
	}
	if rm.cfg.MaxUsers > 0 && len(rm.occ) >= rm.cfg.MaxUsers && aff < affAdminVal {
		return &stanza.Error{Type: stanza.ErrWait, Condition: stanza.ServiceUnavailable, Text: "the room is full"}
	}
	return nil
}

// userPresence keeps what other occupants are shown of a presence: its
// children without the MUC join payload.
func userPresence(st *stanza.Element) *stanza.Element {
	c := stanza.New(stanza.NSClient, "presence")
	for _, n := range st.Children {
		if n.Elem != nil && (n.Elem.Name.Space == muc.NS || n.Elem.Name.Space == muc.NSUser) {
			continue
		}
		if n.Elem == nil && strings.TrimSpace(n.Text) == "" {
			continue
		}
		c.Children = append(c.Children, n)
	}
	return c
}

// enter adds a new occupant and sends what §7.2.2–§7.2.16 require: the
// other occupants' presence, the new presence to everyone (the
// occupant's own last, with its status codes), the history, the subject.
func (m *Module) enter(ctx context.Context, rm *room, p *module.Packet, nick string, hist muc.History, created bool) {
	aff := m.affiliation(rm, p.From)
	o := &occupant{nick: nick, jid: p.To, real: p.From, sess: p.Origin, role: rm.defaultRole(aff), pres: userPresence(p.Stanza)}
	to := p.From.String()
	for _, other := range rm.occupants() {
		pr := m.presenceOf(rm, other, rm.seesJIDs(o), presOpts{})
		pr.Set("to", to)
		m.route(ctx, pr)
	}
	rm.add(o)
	m.track(p.From, rm.jid, true)
	self := []int{muc.StatusSelf}
	if rm.cfg.WhoIs == whoisAnyone {
		self = append(self, muc.StatusNonAnonymous)
	}
	if created {
		self = append(self, muc.StatusCreated)
		if p.Stanza.Child(muc.NS, "x") == nil {
			rm.locked = false
		}
	}
	m.broadcastPresence(ctx, rm, o, presOpts{self: self, id: p.Stanza.ID()})
	now := m.host.Now()
	for _, e := range rm.hist.pick(hist, rm.cfg.MaxHistory, now) {
		m.route(ctx, addressed(e.msg, to))
	}
	subj := stanza.New(stanza.NSClient, "message", "type", stanza.TypeGroupchat, "to", to, "from", rm.jid.String())
	if rm.subjectBy != "" {
		subj.Set("from", rm.jid.String()+"/"+rm.subjectBy)
	}
	subj.Append(stanza.New(stanza.NSClient, "subject").AppendText(rm.subject))
	m.route(ctx, subj)
}

// update handles presence from an occupant: a nickname change when the
// nickname differs (§7.6), else a status change (§7.7).
func (m *Module) update(ctx context.Context, rm *room, o *occupant, p *module.Packet) {
	nick := p.To.Resource()
	if nick == "" {
		m.replyErr(ctx, p.Stanza, stanza.Errorf(stanza.JIDMalformed, "no nickname given"))
		return
	}
	if nick != o.nick {
		m.changeNick(ctx, rm, o, p, nick)
		return
	}
	o.pres = userPresence(p.Stanza)
	if rm.cfg.Moderated && o.role == muc.RoleVisitor && p.Stanza.Child("", "status") != nil {
		// Visitors of a moderated room may not broadcast status text
		// (§7.7): strip it.
		o.pres.RemoveChildren("", "status")
	}
	m.broadcastPresence(ctx, rm, o, presOpts{self: []int{muc.StatusSelf}, id: p.Stanza.ID()})
}

// changeNick renames an occupant (§7.6): unavailable with 303 under the old
// nickname, then available under the new one.
func (m *Module) changeNick(ctx context.Context, rm *room, o *occupant, p *module.Packet, nick string) {
	if other := rm.occ[nick]; other != nil {
		m.replyErr(ctx, p.Stanza, &stanza.Error{Type: stanza.ErrCancel, Condition: stanza.Conflict, Text: "that nickname is in use"})
		return
	}
	if holder, ok := rm.nickOwner(nick); ok && holder != o.real.Bare() {
		m.replyErr(ctx, p.Stanza, &stanza.Error{Type: stanza.ErrCancel, Condition: stanza.Conflict, Text: "that nickname is reserved"})
		return
	}
	m.broadcastPresence(ctx, rm, o, presOpts{typ: stanza.TypeUnavailable, keepRole: true, newNick: nick,
		codes: []int{muc.StatusNewNick}, self: []int{muc.StatusSelf}})
	delete(rm.occ, o.nick)
	o.nick, o.jid = nick, p.To
	o.pres = userPresence(p.Stanza)
	rm.occ[nick] = o
	m.broadcastPresence(ctx, rm, o, presOpts{self: []int{muc.StatusSelf}, id: p.Stanza.ID()})
}

// leave handles unavailable presence from a real JID (§7.14).
func (m *Module) leave(ctx context.Context, rj, from jid.JID, status string) {
	rm := m.loaded(rj)
	if rm == nil {
		return
	}
	rm.mu.Lock()
	defer rm.mu.Unlock()
	if rm.closed {
		return
	}
	if o := rm.real[from]; o != nil {
		li := leaveInfo{}
		if status != "" {
			o.pres = stanza.New(stanza.NSClient, "presence").Append(stanza.New(stanza.NSClient, "status").AppendText(status))
		} else {
			o.pres = stanza.New(stanza.NSClient, "presence")
		}
		m.removeOccupant(ctx, rm, o, li)
	}
}

// ghostKick answers presence from a non-occupant that is not a join with
// the kick §7.2.1 recommends (110, 307, 333).
func (m *Module) ghostKick(ctx context.Context, st *stanza.Element, to jid.JID) {
	item := muc.Item{Affiliation: "none", Role: "none", Reason: "You are not in the room."}
	pr := stanza.New(stanza.NSClient, "presence", "type", stanza.TypeUnavailable, "from", st.To(), "to", to.String())
	pr.Append(muc.UserX([]muc.Item{item}, muc.StatusSelf, muc.StatusKicked, muc.StatusTechnicalError))
	m.route(ctx, pr)
}

// kickOnError removes an occupant whose client bounced what the room
// sent it (status 333).
func (m *Module) kickOnError(ctx context.Context, rj, from jid.JID) {
	rm := m.loaded(rj)
	if rm == nil {
		return
	}
	rm.mu.Lock()
	defer rm.mu.Unlock()
	if rm.closed {
		return
	}
	if o := rm.real[from]; o != nil {
		o.pres = stanza.New(stanza.NSClient, "presence")
		m.removeOccupant(ctx, rm, o, leaveInfo{codes: []int{muc.StatusTechnicalError}})
	}
}

// leaveInfo says why an occupant goes.
type leaveInfo struct {
	codes   []int // for everyone (301, 307, 321, 322, 332, 333)
	reason  string
	actor   string
	destroy *stanza.Element
}

// removeOccupant takes an occupant out, tells everyone (the occupant
// last, with 110), and closes a temporary room left empty.
func (m *Module) removeOccupant(ctx context.Context, rm *room, o *occupant, li leaveInfo) {
	m.broadcastPresence(ctx, rm, o, presOpts{typ: stanza.TypeUnavailable, codes: li.codes, self: []int{muc.StatusSelf},
		reason: li.reason, actor: li.actor, destroy: li.destroy})
	rm.remove(o)
	m.track(o.real, rm.jid, false)
	if len(rm.occ) == 0 && !rm.cfg.Persistent {
		m.close(rm)
	}
}

// presOpts shape a presence the room generates.
type presOpts struct {
	typ      string
	id       string // for the occupant's own copy
	codes    []int  // for everyone
	self     []int  // for the occupant itself
	newNick  string
	reason   string
	actor    string
	keepRole bool // an unavailable that is not a departure (nick change)
	destroy  *stanza.Element
}

// presenceOf builds occupant o's presence as the room sends it, without
// 'to'; withJID discloses the real JID.
func (m *Module) presenceOf(rm *room, o *occupant, withJID bool, po presOpts, extra ...int) *stanza.Element {
	pr := &stanza.Element{Name: o.pres.Name, Children: append([]stanza.Node(nil), o.pres.Children...)}
	pr.Set("from", o.jid.String())
	if po.typ != "" {
		pr.Set("type", po.typ)
	}
	item := muc.Item{Affiliation: m.affiliation(rm, o.real).String(), Role: o.role.String(), Nick: po.newNick,
		Reason: po.reason, Actor: po.actor}
	if po.typ == stanza.TypeUnavailable && !po.keepRole {
		item.Role = muc.RoleNone.String()
	}
	if withJID {
		item.JID = o.real.String()
	}
	x := muc.UserX([]muc.Item{item}, append(append([]int(nil), po.codes...), extra...)...)
	if po.destroy != nil {
		x.Append(po.destroy)
	}
	pr.Append(x)
	return pr
}

// broadcastPresence sends o's presence to every occupant, o itself last
// (with po.self codes) if it is in the room. Two versions are built at
// most (with and without the real JID); each recipient gets a shallow
// copy.
func (m *Module) broadcastPresence(ctx context.Context, rm *room, o *occupant, po presOpts) {
	var withJID, without *stanza.Element
	for _, other := range rm.occupants() {
		if other == o {
			continue
		}
		var proto *stanza.Element
		if rm.seesJIDs(other) {
			if withJID == nil {
				withJID = m.presenceOf(rm, o, true, po)
			}
			proto = withJID
		} else {
			if without == nil {
				without = m.presenceOf(rm, o, false, po)
			}
			proto = without
		}
		m.route(ctx, addressed(proto, other.real.String()))
	}
	if rm.real[o.real] != o {
		return
	}
	self := m.presenceOf(rm, o, true, po, po.self...)
	self.Set("to", o.real.String())
	if po.id != "" {
		self.Set("id", po.id)
	}
	m.route(ctx, self)
}
