package muc

import (
	"context"
	"time"

	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/xmpp/form"
	"github.com/parley-xmpp/parley/xmpp/muc"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// Fields of the voice request form (XEP-0045 §7.13, §8.6).
const (
	fReqRole  = "muc#role"
	fReqJID   = "muc#jid"
	fReqNick  = "muc#roomnick"
	fReqAllow = "muc#request_allow"
)

// voiceRequestEvery is how often one occupant may ask for voice: each
// request reaches every moderator, so a visitor must not flood them.
const voiceRequestEvery = 30 * time.Second

// voiceRequest handles a muc#request form sent to the room: a visitor's
// request for voice (§7.13), forwarded to every moderator as an approval
// form, or a moderator's answer to one (§8.6), which grants voice when it
// allows it. The caller holds rm.mu.
func (m *Module) voiceRequest(ctx context.Context, rm *room, p *module.Packet, x *stanza.Element) {
	st := p.Stanza
	f, err := form.Parse(x)
	if err != nil || f.Type != form.TypeSubmit {
		m.replyErrIn(rm, st, stanza.Errorf(stanza.BadRequest, "a voice request is a submitted muc#request form"))
		return
	}
	o := rm.real[p.From]
	if o == nil {
		m.replyErrIn(rm, st, stanza.Errorf(stanza.NotAcceptable, "only occupants may ask for voice"))
		return
	}
	if fd := f.Field(fReqAllow); fd != nil {
		m.voiceApproval(ctx, rm, o, f, st)
		return
	}
	if fd := f.Field(fReqRole); fd == nil || fd.Value() != muc.RoleParticipant.String() {
		m.replyErrIn(rm, st, stanza.Errorf(stanza.BadRequest, "only voice (the participant role) may be requested"))
		return
	}
	if o.role != muc.RoleVisitor {
		m.replyErrIn(rm, st, stanza.Errorf(stanza.NotAcceptable, "you have voice already"))
		return
	}
	now := m.host.Now()
	if !o.voiceAsked.IsZero() && now.Sub(o.voiceAsked) < voiceRequestEvery {
		m.replyErrIn(rm, st, &stanza.Error{Type: stanza.ErrWait, Condition: stanza.ResourceConstraint, Text: "you asked for voice a moment ago"})
		return
	}
	o.voiceAsked = now
	approval := form.New(form.TypeForm, muc.NSRequest)
	approval.Title = "Voice request"
	approval.Instructions = []string{"To approve this request for voice, select the \"Grant voice to this person?\" checkbox and submit the form."}
	approval.Add(form.Field{Var: fReqRole, Type: form.FieldListSingle, Label: "Requested role", Values: []string{muc.RoleParticipant.String()}}).
		Add(form.Field{Var: fReqJID, Type: form.FieldJIDSingle, Label: "User ID", Values: []string{p.From.String()}}).
		Add(form.Field{Var: fReqNick, Type: form.FieldTextSingle, Label: "Room Nickname", Values: []string{o.nick}}).
		Add(form.Field{Var: fReqAllow, Type: form.FieldBoolean, Label: "Grant voice to this person?", Values: []string{"false"}})
	proto := stanza.New(stanza.NSClient, "message", "from", rm.jid.String()).Append(approval.Element())
	size := approxSize(proto)
	for _, mod := range rm.occupants() {
		if mod.role != muc.RoleModerator {
			continue
		}
		for _, s := range mod.sessions {
			rm.postTo(proto, size, s.real.String())
		}
	}
}

// voiceApproval applies a moderator's answer to a voice request: with
// muc#request_allow true, the occupant of muc#roomnick becomes a
// participant (if still a visitor).
func (m *Module) voiceApproval(ctx context.Context, rm *room, mod *occupant, f *form.Form, st *stanza.Element) {
	if mod.role != muc.RoleModerator {
		m.replyErrIn(rm, st, &stanza.Error{Type: stanza.ErrAuth, Condition: stanza.Forbidden, Text: "only moderators answer voice requests"})
		return
	}
	allow, err := form.ParseBool(f.Field(fReqAllow).Value())
	if err != nil {
		m.replyErrIn(rm, st, stanza.Errorf(stanza.BadRequest, "%s: not a boolean", fReqAllow))
		return
	}
	if !allow {
		return
	}
	var nick string
	if fd := f.Field(fReqNick); fd != nil {
		nick = fd.Value()
	}
	key, err := nickKey(nick)
	t := rm.occ[key]
	if err != nil || t == nil {
		m.replyErrIn(rm, st, stanza.Errorf(stanza.ItemNotFound, "no occupant %q", nick))
		return
	}
	if t.role == muc.RoleVisitor {
		m.applyRole(ctx, rm, t, muc.RoleParticipant, "", mod.nick)
	}
}
