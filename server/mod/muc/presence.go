package muc

import (
	"context"
	"fmt"
	"slices"
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
	// Within a room, answers queue in its outbox (see outbox).
	fail := func(err error) {
		if rm != nil {
			m.replyErrIn(rm, st, err)
		} else {
			m.replyErr(ctx, st, err)
		}
	}
	if rm != nil {
		defer m.release(ctx, rm)
		if o := rm.real[p.From]; o != nil {
			m.update(rm, o, p)
			return
		}
	}
	x := st.Child(muc.NS, "x")
	if x == nil {
		// §7.2.1: presence without <x/> from a non-occupant is not a
		// join; the client lost track of the room.
		kick := ghostKick(st, p.From)
		if rm != nil {
			rm.post(kick, approxSize(kick))
		} else {
			m.route(ctx, kick)
		}
		return
	}
	nick, key, err := occupantNick(p.To)
	if err != nil {
		fail(err)
		return
	}
	hist, err := muc.ParseHistory(x)
	if err != nil {
		fail(stanza.Errorf(stanza.BadRequest, "%v", err))
		return
	}
	if n := m.occupying(p.From); m.opts.MaxUserRooms > 0 && n >= m.opts.MaxUserRooms && !m.isAdmin(p.From) {
		m.log.InfoContext(ctx, "muc: join refused, too many rooms", "from", p.From, "rooms", n)
		fail(&stanza.Error{Type: stanza.ErrWait, Condition: stanza.ResourceConstraint,
			Text: fmt.Sprintf("you are in %d rooms already, the most this service allows", n)})
		return
	}
	created := false
	if rm == nil {
		if err := m.mayCreate(p.From); err != nil {
			fail(err)
			return
		}
		rm, created = m.create(rj, p.From)
		defer m.release(ctx, rm)
		if !created {
			if o := rm.real[p.From]; o != nil {
				m.update(rm, o, p)
				return
			}
		}
	}
	if err := m.mayEnter(rm, p.From, key, x, created); err != nil {
		if created {
			m.close(rm)
		}
		m.replyErrIn(rm, st, err)
		return
	}
	m.enter(rm, p, nick, key, hist, created)
}

// occupantNick checks the nickname of an occupant JID against RFC 8266:
// what the room shows and what it compares. A missing or unusable
// nickname is <jid-malformed/> (XEP-0045 §7.2.1).
func occupantNick(occ jid.JID) (nick, key string, err error) {
	if occ.Resource() == "" {
		return "", "", stanza.Errorf(stanza.JIDMalformed, "no nickname given")
	}
	nick, key, err = enforceNick(occ.Resource())
	if err != nil {
		return "", "", stanza.Errorf(stanza.JIDMalformed, "the nickname is not allowed (RFC 8266)")
	}
	return nick, key, nil
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
// The account already in the room under that nickname may join it again
// from another resource (§7.2.8, a multi-session nick).
func (m *Module) mayEnter(rm *room, from jid.JID, key string, x *stanza.Element, created bool) error {
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
	o := rm.occ[key]
	if o != nil && o.bare() != from.Bare() {
		return &stanza.Error{Type: stanza.ErrCancel, Condition: stanza.Conflict, Text: "that nickname is in use"}
	}
	if holder, ok := rm.nickOwner(key); ok && holder != from.Bare() {
		return &stanza.Error{Type: stanza.ErrCancel, Condition: stanza.Conflict, Text: "that nickname is reserved"}
	}
	if o == nil && rm.cfg.MaxUsers > 0 && len(rm.occ) >= rm.cfg.MaxUsers && aff < affAdminVal {
		return &stanza.Error{Type: stanza.ErrWait, Condition: stanza.ServiceUnavailable, Text: "the room is full"}
	}
	return nil
}

// userPresence keeps what other occupants are shown of a presence: its
// children without the MUC join payload, and without any occupant id
// (the room adds its own, XEP-0421 §4).
func userPresence(st *stanza.Element) *stanza.Element {
	c := stanza.New(stanza.NSClient, "presence")
	for _, n := range st.Children {
		if n.Elem != nil && (n.Elem.Name.Space == muc.NS || n.Elem.Name.Space == muc.NSUser || n.Elem.Name.Space == nsOccupantID) {
			continue
		}
		if n.Elem == nil && strings.TrimSpace(n.Text) == "" {
			continue
		}
		c.Children = append(c.Children, n)
	}
	return c
}

// enter adds a new occupant, or a new session of the account's occupant
// with that nickname, and sends what §7.2.2–§7.2.16 require: the other
// occupants' presence, the new presence to everyone (the occupant's own
// last, with its status codes), the history, the subject.
func (m *Module) enter(rm *room, p *module.Packet, nick, key string, hist muc.History, created bool) {
	to := p.From.String()
	s := &occSession{real: p.From, sess: p.Origin, pres: userPresence(p.Stanza)}
	o := rm.occ[key]
	joining := o == nil
	if joining {
		aff := m.affiliation(rm, p.From)
		occJID, err := jid.New(rm.jid.Local(), rm.jid.Domain(), nick)
		if err != nil {
			occJID = p.To
		}
		o = &occupant{nick: nick, key: key, jid: occJID, role: rm.defaultRole(aff), oid: rm.occupantID(p.From), sessions: []*occSession{s}}
	}
	m.sendList(rm, o, s)
	if joining {
		rm.add(o)
	} else {
		o.sessions = append(o.sessions, s)
		rm.real[p.From] = o
	}
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
	if o.jid != p.To {
		self = append(self, muc.StatusNickAssigned)
	}
	m.broadcastPresence(rm, o, presOpts{self: self, id: p.Stanza.ID(), selfOnly: s})
	now := m.host.Now()
	for _, e := range rm.hist.pick(hist, rm.cfg.MaxHistory, now) {
		rm.postTo(e.msg, e.chars, to)
	}
	subj := stanza.New(stanza.NSClient, "message", "type", stanza.TypeGroupchat, "to", to, "from", rm.jid.String())
	if rm.subjectBy != "" {
		subj.Set("from", rm.jid.String()+"/"+rm.subjectBy)
	}
	subj.Append(stanza.New(stanza.NSClient, "subject").AppendText(rm.subject))
	rm.post(subj, approxSize(subj))
}

// update handles presence from an occupant's session: a nickname change
// when the nickname differs (§7.6), else a status change (§7.7).
func (m *Module) update(rm *room, o *occupant, p *module.Packet) {
	nick, key, err := occupantNick(p.To)
	if err != nil {
		m.replyErrIn(rm, p.Stanza, err)
		return
	}
	s := o.session(p.From)
	// Another spelling of the same nickname renames a single-session
	// occupant; from one resource of several it is only a status change
	// (the others keep the nickname as shown).
	if key != o.key || nick != o.nick && len(o.sessions) == 1 {
		m.changeNick(rm, o, s, p, nick, key)
		return
	}
	s.pres = userPresence(p.Stanza)
	if rm.cfg.Moderated && o.role == muc.RoleVisitor && p.Stanza.Child("", "status") != nil {
		// Visitors of a moderated room may not broadcast status text
		// (§7.7): strip it.
		s.pres.RemoveChildren("", "status")
	}
	if s != o.primary() {
		// The session becomes the one shown.
		o.sessions = append(slices.DeleteFunc(o.sessions, func(x *occSession) bool { return x == s }), s)
	}
	m.broadcastPresence(rm, o, presOpts{self: []int{muc.StatusSelf}, id: p.Stanza.ID()})
}

// changeNick renames an occupant (§7.6): unavailable with 303 under the old
// nickname, then available under the new one. One session of a
// multi-session occupant changing nickname leaves the others behind: it
// goes as if it left and entered again under the new nickname.
func (m *Module) changeNick(rm *room, o *occupant, s *occSession, p *module.Packet, nick, key string) {
	other := rm.occ[key]
	if other != nil && other != o && other.bare() != o.bare() {
		m.replyErrIn(rm, p.Stanza, &stanza.Error{Type: stanza.ErrCancel, Condition: stanza.Conflict, Text: "that nickname is in use"})
		return
	}
	if holder, ok := rm.nickOwner(key); ok && holder != o.bare() {
		m.replyErrIn(rm, p.Stanza, &stanza.Error{Type: stanza.ErrCancel, Condition: stanza.Conflict, Text: "that nickname is reserved"})
		return
	}
	newJID, err := jid.New(rm.jid.Local(), rm.jid.Domain(), nick)
	if err != nil {
		m.replyErrIn(rm, p.Stanza, stanza.Errorf(stanza.JIDMalformed, "the nickname is not allowed"))
		return
	}
	if len(o.sessions) == 1 && (other == nil || other == o) {
		m.broadcastPresence(rm, o, presOpts{typ: stanza.TypeUnavailable, keepRole: true, newNick: nick,
			codes: []int{muc.StatusNewNick}, self: []int{muc.StatusSelf}})
		delete(rm.occ, o.key)
		o.nick, o.key, o.jid = nick, key, newJID
		s.pres = userPresence(p.Stanza)
		rm.occ[key] = o
		self := []int{muc.StatusSelf}
		if newJID != p.To {
			self = append(self, muc.StatusNickAssigned)
		}
		m.broadcastPresence(rm, o, presOpts{self: self, id: p.Stanza.ID()})
		return
	}
	// The session leaves o (the others stay) and joins the new nickname:
	// a new occupant, or the account's occupant already there.
	gone := presOpts{typ: stanza.TypeUnavailable, keepRole: true, newNick: nick,
		codes: []int{muc.StatusNewNick}, self: []int{muc.StatusSelf}}
	if len(o.sessions) == 1 {
		// Its only session joins the account's occupant under the new
		// nickname: o goes.
		m.broadcastPresence(rm, o, gone)
		rm.remove(o)
	} else {
		m.dropSession(rm, o, s, gone)
	}
	s.pres = userPresence(p.Stanza)
	if other == nil {
		other = &occupant{nick: nick, key: key, jid: newJID, role: o.role, oid: o.oid, sessions: []*occSession{s}}
		rm.add(other)
	} else {
		other.sessions = append(other.sessions, s)
		rm.real[s.real] = other
	}
	m.track(s.real, rm.jid, true)
	self := []int{muc.StatusSelf}
	if other.jid != p.To {
		self = append(self, muc.StatusNickAssigned)
	}
	m.broadcastPresence(rm, other, presOpts{self: self, id: p.Stanza.ID()})
}

// leave handles unavailable presence from a real JID (§7.14).
func (m *Module) leave(ctx context.Context, rj, from jid.JID, status string) {
	rm := m.loaded(rj)
	if rm == nil {
		return
	}
	rm.mu.Lock()
	defer m.release(ctx, rm)
	if rm.closed {
		return
	}
	if o := rm.real[from]; o != nil {
		pres := stanza.New(stanza.NSClient, "presence")
		if status != "" {
			pres.Append(stanza.New(stanza.NSClient, "status").AppendText(status))
		}
		m.removeSession(ctx, rm, o, from, pres, leaveInfo{})
	}
}

// ghostKick is the answer to presence from a non-occupant that is not a
// join: the kick §7.2.1 recommends (110, 307, 333).
func ghostKick(st *stanza.Element, to jid.JID) *stanza.Element {
	item := muc.Item{Affiliation: "none", Role: "none", Reason: "You are not in the room."}
	pr := stanza.New(stanza.NSClient, "presence", "type", stanza.TypeUnavailable, "from", st.To(), "to", to.String())
	return pr.Append(muc.UserX([]muc.Item{item}, muc.StatusSelf, muc.StatusKicked, muc.StatusTechnicalError))
}

// kickOnError removes the session of an occupant whose client bounced
// what the room sent it (status 333).
func (m *Module) kickOnError(ctx context.Context, rj, from jid.JID) {
	rm := m.loaded(rj)
	if rm == nil {
		return
	}
	rm.mu.Lock()
	defer m.release(ctx, rm)
	if rm.closed {
		return
	}
	if o := rm.real[from]; o != nil {
		m.removeSession(ctx, rm, o, from, stanza.New(stanza.NSClient, "presence"), leaveInfo{codes: []int{muc.StatusTechnicalError}})
	}
}

// removeSession takes one session of an occupant out: the occupant itself
// when it was its last, else only that resource, the others staying (a
// multi-session nick); pres is the session's last presence.
func (m *Module) removeSession(ctx context.Context, rm *room, o *occupant, full jid.JID, pres *stanza.Element, li leaveInfo) {
	s := o.session(full)
	if s == nil {
		return
	}
	if len(o.sessions) == 1 {
		s.pres = pres
		m.removeOccupant(ctx, rm, o, li)
		return
	}
	s.pres = pres
	m.dropSession(rm, o, s, presOpts{typ: stanza.TypeUnavailable, codes: li.codes, self: []int{muc.StatusSelf}})
}

// dropSession takes one of several sessions out of an occupant: that
// resource gets its own unavailable presence (po), everyone else the
// occupant's presence as the remaining sessions show it.
func (m *Module) dropSession(rm *room, o *occupant, s *occSession, po presOpts) {
	po.selfOnly = s
	po.onlySelf = true
	m.broadcastPresence(rm, o, po)
	o.sessions = slices.DeleteFunc(o.sessions, func(x *occSession) bool { return x == s })
	delete(rm.real, s.real)
	m.track(s.real, rm.jid, false)
	rm.leftRoom(s.real)
	m.broadcastPresence(rm, o, presOpts{self: []int{muc.StatusSelf}})
}

// leaveInfo says why an occupant goes.
type leaveInfo struct {
	codes   []int // for everyone (301, 307, 321, 322, 332, 333)
	reason  string
	actor   string
	destroy *stanza.Element
}

// removeOccupant takes an occupant out with all its sessions, tells
// everyone (the occupant last, with 110), and closes a temporary room left
// empty.
func (m *Module) removeOccupant(_ context.Context, rm *room, o *occupant, li leaveInfo) {
	m.broadcastPresence(rm, o, presOpts{typ: stanza.TypeUnavailable, codes: li.codes, self: []int{muc.StatusSelf},
		reason: li.reason, actor: li.actor, destroy: li.destroy})
	rm.remove(o)
	for _, s := range o.sessions {
		m.track(s.real, rm.jid, false)
		rm.leftRoom(s.real)
	}
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
	// selfOnly, when set, is the one session of the occupant that gets
	// the self codes and id (a session joining or leaving); the occupant's
	// other sessions get the presence with 110 only.
	selfOnly *occSession
	// onlySelf sends to selfOnly alone (one session of several leaving).
	onlySelf bool
}

// presenceOf builds occupant o's presence as the room sends it, without
// 'to'; withJID discloses the real JID (that of the session shown).
func (m *Module) presenceOf(rm *room, o *occupant, withJID bool, po presOpts, extra ...int) *stanza.Element {
	return m.sessionPresence(rm, o, o.primary(), withJID, po, extra...)
}

// sessionPresence builds the presence of one session of o.
func (m *Module) sessionPresence(rm *room, o *occupant, s *occSession, withJID bool, po presOpts, extra ...int) *stanza.Element {
	item := muc.Item{Affiliation: m.affiliation(rm, s.real).String(), Role: o.role.String(), Nick: po.newNick,
		Reason: po.reason, Actor: po.actor}
	if po.typ == stanza.TypeUnavailable && !po.keepRole {
		item.Role = muc.RoleNone.String()
	}
	if withJID {
		item.JID = s.real.String()
	}
	pr := occupantPresence(s.pres, o.jid, item, o.oid, append(append([]int(nil), po.codes...), extra...), po.destroy)
	if po.typ != "" {
		pr.Set("type", po.typ)
	}
	return pr
}

// occupantPresence builds an occupant's presence from its own (pres,
// whose children it shares), without 'to' or 'type': from its occupant
// JID, with its occupant id and a muc#user item with status codes and a
// <destroy/> if any.
func occupantPresence(pres *stanza.Element, from jid.JID, item muc.Item, oid string, codes []int, destroy *stanza.Element) *stanza.Element {
	pr := &stanza.Element{Name: pres.Name, Children: append([]stanza.Node(nil), pres.Children...)}
	pr.Set("from", from.String())
	x := muc.UserX([]muc.Item{item}, codes...)
	if destroy != nil {
		x.Append(destroy)
	}
	pr.Append(occupantIDElement(oid), x)
	return pr
}

// broadcastPresence queues o's presence for every occupant, o's own
// sessions last (with po.self codes) if it is in the room. Two versions
// are built at most (with and without the real JID); each recipient gets
// a shallow copy.
func (m *Module) broadcastPresence(rm *room, o *occupant, po presOpts) {
	if !po.onlySelf {
		var withJID, without *stanza.Element
		var withSize, withoutSize int
		for _, other := range rm.occupants() {
			if other == o {
				continue
			}
			var proto *stanza.Element
			var size int
			if rm.seesJIDs(other) {
				if withJID == nil {
					withJID = m.presenceOf(rm, o, true, po)
					withSize = approxSize(withJID)
				}
				proto, size = withJID, withSize
			} else {
				if without == nil {
					without = m.presenceOf(rm, o, false, po)
					withoutSize = approxSize(without)
				}
				proto, size = without, withoutSize
			}
			for _, s := range other.sessions {
				rm.postTo(proto, size, s.real.String())
			}
		}
	}
	if po.onlySelf {
		m.postSelf(rm, o, po.selfOnly, po, po.self)
		return
	}
	if rm.occ[o.key] != o {
		return
	}
	for _, s := range o.sessions {
		if po.selfOnly != nil && s != po.selfOnly {
			m.postSelf(rm, o, s, presOpts{typ: po.typ, codes: po.codes, newNick: po.newNick, reason: po.reason,
				actor: po.actor, keepRole: po.keepRole, destroy: po.destroy}, []int{muc.StatusSelf})
			continue
		}
		m.postSelf(rm, o, s, po, po.self)
	}
}

// postSelf queues the occupant's presence for one of its own sessions.
// A session gets its own presence (its JID, its status), not the one
// shown to others.
func (m *Module) postSelf(rm *room, o *occupant, s *occSession, po presOpts, codes []int) {
	shown := o.primary()
	if po.onlySelf {
		shown = s
	}
	self := m.sessionPresence(rm, o, shown, true, po, codes...)
	self.Set("to", s.real.String())
	if po.id != "" {
		self.Set("id", po.id)
	}
	rm.post(self, approxSize(self))
}
