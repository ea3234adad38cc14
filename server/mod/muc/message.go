package muc

import (
	"context"
	"fmt"
	"time"

	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/xmpp/form"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/muc"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stanzaid"
)

// message handles a message to a room or to an occupant.
func (m *Module) message(ctx context.Context, p *module.Packet) {
	st := p.Stanza
	rj := p.To.Bare()
	if st.MessageType() == stanza.TypeError {
		from := p.From
		m.goBackground(func(ctx context.Context) { m.kickOnError(ctx, rj, from) })
		return
	}
	rm, err := m.lookup(ctx, rj)
	if err != nil {
		m.replyErr(ctx, st, err)
		return
	}
	if rm == nil || rm.locked && m.affiliation(rm, p.From) != affOwnerVal {
		if rm != nil {
			m.release(ctx, rm)
		}
		m.replyErr(ctx, st, stanza.Errorf(stanza.ItemNotFound, "no such room"))
		return
	}
	defer m.release(ctx, rm)
	if m.opts.QueueBytes > 0 && rm.backlog() > m.opts.QueueBytes {
		// The room has more decided than routed: refuse new traffic
		// until it drains rather than queue without bound.
		m.log.WarnContext(ctx, "muc: room backlog full, message refused", "room", rm.jid, "from", p.From, "backlog", rm.backlog())
		m.replyErrIn(rm, st, &stanza.Error{Type: stanza.ErrWait, Condition: stanza.ResourceConstraint, Text: "the room is busy, try again"})
		return
	}
	if p.To.Resource() != "" {
		m.private(rm, p)
		return
	}
	if x := st.Child(muc.NSUser, "x"); x != nil && (x.Child(muc.NSUser, "invite") != nil || x.Child(muc.NSUser, "decline") != nil) {
		m.invitation(ctx, rm, p, x)
		return
	}
	if x := form.Find(st, muc.NSRequest); x != nil && st.MessageType() != stanza.TypeGroupchat {
		m.voiceRequest(ctx, rm, p, x)
		return
	}
	if st.MessageType() != stanza.TypeGroupchat {
		m.replyErrIn(rm, st, stanza.Errorf(stanza.BadRequest, "messages to a room are of type groupchat"))
		return
	}
	o := rm.real[p.From]
	if o == nil {
		m.replyErrIn(rm, st, stanza.Errorf(stanza.NotAcceptable, "only occupants may send messages to the room"))
		return
	}
	if o.role < muc.RoleParticipant {
		m.replyErrIn(rm, st, &stanza.Error{Type: stanza.ErrAuth, Condition: stanza.Forbidden, Text: "you have no voice in this room"})
		return
	}
	if m.opts.MessageRate > 0 && o.role < muc.RoleModerator && !o.rate.allow(m.host.Now(), m.opts.MessageRate, m.opts.MessageBurst) {
		m.replyErrIn(rm, st, &stanza.Error{Type: stanza.ErrWait, Condition: stanza.ResourceConstraint, Text: "you are sending messages too fast"})
		return
	}
	subj := st.Child("", "subject")
	if subj != nil && !stanza.IsContentNS(subj.Name.Space) {
		subj = nil
	}
	if subj != nil && len(subj.Text()) > m.opts.MaxSubject {
		m.replyErrIn(rm, st, &stanza.Error{Type: stanza.ErrModify, Condition: stanza.NotAcceptable,
			Text: fmt.Sprintf("the subject is longer than %d bytes", m.opts.MaxSubject)})
		return
	}
	if subj != nil && st.Child(stanza.NSClient, "body") == nil {
		if o.role != muc.RoleModerator && !rm.cfg.ChangeSubject {
			m.replyErrIn(rm, st, &stanza.Error{Type: stanza.ErrAuth, Condition: stanza.Forbidden, Text: "you may not change the subject"})
			return
		}
		rm.subject, rm.subjectBy = subj.Text(), o.nick
		m.persist(ctx, rm)
	}
	r := retracting(st)
	if r != nil {
		if err := m.authorRetract(ctx, rm, o, r); err != nil {
			m.replyErrIn(rm, st, err)
			return
		}
	}
	m.broadcastMessage(ctx, rm, o, st)
	if r != nil {
		tomb := stanza.New(nsRetract, "retracted", "stamp", m.host.Now().UTC().Format(time.RFC3339))
		if st.ID() != "" {
			tomb.Set("id", st.ID())
		}
		m.tombstone(ctx, rm, r.Get("id"), tomb)
	}
}

// broadcastMessage reflects a groupchat message to every occupant from
// the sender's occupant JID, keeping its id (XEP-0045 §7.4), with the
// sender's occupant id (XEP-0421) and the room's stanza-id (XEP-0359; any
// occupant id or stanza-id claiming the room that the sender put there
// goes), archives it and records it in the history.
func (m *Module) broadcastMessage(ctx context.Context, rm *room, o *occupant, st *stanza.Element) {
	proto := &stanza.Element{Name: st.Name, Children: make([]stanza.Node, 0, len(st.Children)+2)}
	for _, n := range st.Children {
		if n.Elem != nil && (n.Elem.Name.Space == nsOccupantID || n.Elem.Name.Space == stanzaid.NS && rm.claims(n.Elem.Get("by"))) {
			continue
		}
		proto.Children = append(proto.Children, n)
	}
	for _, a := range st.Attr {
		if a.Name.Space == "" && (a.Name.Local == "to" || a.Name.Local == "from") {
			continue
		}
		proto.Attr = append(proto.Attr, a)
	}
	proto.Set("from", o.jid.String())
	id := stanzaid.New()
	proto.Append(occupantIDElement(o.oid), stanzaid.StanzaID{ID: id, By: rm.jid.String()}.Element())
	m.reflect(ctx, rm, proto, id, o.jid)
}

// reflect sends a groupchat message of the room (without 'to') to every
// occupant, archives it under its stanza-id id (with: the occupant JID it
// is from) and records it in the history.
func (m *Module) reflect(ctx context.Context, rm *room, proto *stanza.Element, id string, with jid.JID) {
	size := approxSize(proto)
	for _, other := range rm.occupants() {
		for _, s := range other.sessions {
			rm.postTo(proto, size, s.real.String())
		}
	}
	if proto.Child(stanza.NSClient, "body") != nil || proto.Child("", "subject") != nil || retracting(proto) != nil {
		now := m.host.Now()
		m.archiveMessage(ctx, rm, proto, id, with)
		rm.hist.add(delayed(proto, rm.jid.String(), now), now)
	}
}

// claims reports whether a stanza-id 'by' names the room.
func (rm *room) claims(by string) bool {
	j, err := jid.Parse(by)
	return err == nil && j == rm.jid
}

// private forwards a message between occupants (XEP-0045 §7.5), to every
// session of the recipient (§7.2.8 recommends it for multi-session nicks).
func (m *Module) private(rm *room, p *module.Packet) {
	st := p.Stanza
	if st.MessageType() == stanza.TypeGroupchat {
		m.replyErrIn(rm, st, stanza.Errorf(stanza.BadRequest, "private messages are not of type groupchat"))
		return
	}
	from := rm.real[p.From]
	if from == nil {
		m.replyErrIn(rm, st, stanza.Errorf(stanza.NotAcceptable, "only occupants may send private messages"))
		return
	}
	to := m.occupantAt(rm, p.To)
	if to == nil {
		m.replyErrIn(rm, st, stanza.Errorf(stanza.ItemNotFound, "no such occupant"))
		return
	}
	allowed := true
	switch rm.cfg.AllowPM {
	case pmNone:
		allowed = false
	case pmModerators:
		allowed = from.role == muc.RoleModerator
	case pmParticipants:
		allowed = from.role >= muc.RoleParticipant
	}
	if !allowed {
		m.replyErrIn(rm, st, &stanza.Error{Type: stanza.ErrCancel, Condition: stanza.NotAllowed, Text: "private messages are not allowed here"})
		return
	}
	c := &stanza.Element{Name: st.Name, Children: make([]stanza.Node, 0, len(st.Children)+2)}
	for _, n := range st.Children {
		if n.Elem != nil && n.Elem.Name.Space == nsOccupantID {
			continue
		}
		c.Children = append(c.Children, n)
	}
	for _, a := range st.Attr {
		if a.Name.Space == "" && (a.Name.Local == "to" || a.Name.Local == "from") {
			continue
		}
		c.Attr = append(c.Attr, a)
	}
	c.Set("from", from.jid.String())
	if c.Child(muc.NSUser, "x") == nil {
		c.Append(stanza.New(muc.NSUser, "x"))
	}
	c.Append(occupantIDElement(from.oid))
	size := approxSize(c)
	for _, s := range to.sessions {
		rm.postTo(c, size, s.real.String())
	}
}

// occupantAt returns the occupant of an occupant JID, its nickname
// compared by RFC 8266 key; nil when there is none.
func (m *Module) occupantAt(rm *room, occ jid.JID) *occupant {
	key, err := nickKey(occ.Resource())
	if err != nil {
		return nil
	}
	return rm.occ[key]
}

// invitation forwards mediated invitations and declines (XEP-0045
// §7.8.2).
func (m *Module) invitation(ctx context.Context, rm *room, p *module.Packet, x *stanza.Element) {
	st := p.Stanza
	if dec := x.Child(muc.NSUser, "decline"); dec != nil {
		to, err := jid.Parse(dec.Get("to"))
		if err != nil {
			m.replyErrIn(rm, st, stanza.Errorf(stanza.JIDMalformed, "bad 'to' in decline"))
			return
		}
		out := stanza.New(muc.NSUser, "decline", "from", p.From.Bare().String())
		if r := dec.ChildText(muc.NSUser, "reason"); r != "" {
			out.Append(stanza.New(muc.NSUser, "reason").AppendText(r))
		}
		msg := stanza.New(stanza.NSClient, "message", "from", rm.jid.String(), "to", to.String())
		msg.Append(stanza.New(muc.NSUser, "x").Append(out))
		rm.post(msg, approxSize(msg))
		return
	}
	o := rm.real[p.From]
	if o == nil {
		m.replyErrIn(rm, st, stanza.Errorf(stanza.NotAcceptable, "only occupants may invite"))
		return
	}
	aff := m.affiliation(rm, p.From)
	if rm.cfg.MembersOnly && !rm.cfg.AllowInvites && aff < affAdminVal {
		m.replyErrIn(rm, st, &stanza.Error{Type: stanza.ErrAuth, Condition: stanza.Forbidden, Text: "only admins may invite to this room"})
		return
	}
	for _, inv := range x.ChildrenNamed(muc.NSUser, "invite") {
		to, err := jid.Parse(inv.Get("to"))
		if err != nil {
			m.replyErrIn(rm, st, stanza.Errorf(stanza.JIDMalformed, "bad 'to' in invite"))
			return
		}
		if rm.cfg.MembersOnly && m.affiliation(rm, to) == affNoneVal {
			if err := m.roomForAffiliations(rm, map[jid.JID]bool{to.Bare(): true}); err != nil {
				m.replyErrIn(rm, st, err)
				return
			}
			rm.affs[to.Bare()] = affEntry{aff: affMemberVal}
			m.persistAff(ctx, rm, to.Bare())
		}
		out := stanza.New(muc.NSUser, "invite", "from", p.From.String())
		if r := inv.ChildText(muc.NSUser, "reason"); r != "" {
			out.Append(stanza.New(muc.NSUser, "reason").AppendText(r))
		}
		ux := stanza.New(muc.NSUser, "x").Append(out)
		if rm.cfg.Protected {
			ux.Append(stanza.New(muc.NSUser, "password").AppendText(rm.cfg.Secret))
		}
		msg := stanza.New(stanza.NSClient, "message", "from", rm.jid.String(), "to", to.String()).Append(ux)
		rm.post(msg, approxSize(msg))
	}
}

// bucket is a token bucket bounding an occupant's messages
// (Options.MessageRate): it holds up to burst tokens, refilled at rate per
// second, and each message takes one.
type bucket struct {
	tokens float64
	last   time.Time
}

// allow takes a token if there is one.
func (b *bucket) allow(now time.Time, rate, burst int) bool {
	if b.last.IsZero() {
		b.tokens = float64(burst)
	} else if d := now.Sub(b.last); d > 0 {
		b.tokens = min(float64(burst), b.tokens+d.Seconds()*float64(rate))
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
