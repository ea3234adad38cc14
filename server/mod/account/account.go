package account

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"time"

	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/register"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// CloseGrace is how long the session that cancelled its registration
// keeps its stream, so that the IQ result is written before the stream
// error ends it (XEP-0077 §3.2).
const CloseGrace = 250 * time.Millisecond

// Module serves jabber:iq:register to authenticated users.
type Module struct {
	host module.Host
}

var _ module.Module = (*Module)(nil)

// New returns the module.
func New() *Module { return &Module{} }

// Name implements module.Module.
func (m *Module) Name() string { return "account" }

// Register implements module.Module. Requests come addressed to the
// server or, without 'to', to the user's own account (RFC 6120 §10.3.3).
func (m *Module) Register(r module.Registrar) error {
	m.host = r.Host()
	name := xml.Name{Space: register.NS, Local: "query"}
	for _, t := range []module.Target{module.TargetServer, module.TargetAccount} {
		r.HandleIQ(module.IQKey{Type: stanza.TypeGet, Name: name, Target: t}, m.get)
		r.HandleIQ(module.IQKey{Type: stanza.TypeSet, Name: name, Target: t}, m.set)
	}
	r.Feature(module.TargetServer, register.NS)
	return nil
}

// own checks that the request concerns the requester's own account on
// its own server.
func (m *Module) own(q *module.IQ) error {
	if q.To.Local() != "" && !q.FromSelf() {
		return stanza.Err(stanza.ServiceUnavailable) // not ours to answer
	}
	if !m.host.IsLocal(q.From.Domain()) || q.From.Domain() != q.To.Domain() || q.From.Local() == "" {
		return stanza.Errorf(stanza.NotAllowed, "only accounts of this server can manage their registration")
	}
	return nil
}

// get answers that the requester is registered (XEP-0077 §3.1).
func (m *Module) get(_ context.Context, q *module.IQ) (*stanza.Element, error) {
	if err := m.own(q); err != nil {
		return nil, err
	}
	res := register.Query{
		Instructions: "You are registered. Send a new password to change it, or <remove/> to delete your account.",
		Registered:   true, Username: q.From.Local(), HasUsername: true, HasPassword: true,
	}
	return res.Element(), nil
}

func (m *Module) set(ctx context.Context, q *module.IQ) (*stanza.Element, error) {
	if err := m.own(q); err != nil {
		return nil, err
	}
	req, err := register.Parse(q.Payload)
	if err != nil {
		return nil, stanza.Err(stanza.BadRequest)
	}
	if req.Remove {
		return m.remove(ctx, q)
	}
	return m.changePassword(ctx, q, req)
}

// changePassword implements XEP-0077 §3.3: the account's other sessions
// end. The error replies do not echo the request, which holds the
// password.
func (m *Module) changePassword(ctx context.Context, q *module.IQ, req *register.Query) (*stanza.Element, error) {
	if !req.HasUsername || !req.HasPassword || req.Password == "" {
		// An empty password must never replace the current one.
		return nil, m.reply(q, stanza.Errorf(stanza.BadRequest, "a username and a non-empty password are required"))
	}
	named, err := jid.New(req.Username, q.From.Domain(), "")
	if err != nil || named != q.From.Bare() {
		return nil, m.reply(q, stanza.Errorf(stanza.NotAllowed, "you can only change your own password"))
	}
	if err := m.host.Accounts().AcceptablePassword(req.Password); err != nil {
		return nil, m.reply(q, err)
	}
	err = m.host.Accounts().SetPassword(ctx, q.From.Bare(), req.Password)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, m.reply(q, stanza.Err(stanza.RegistrationRequired))
	}
	if err != nil {
		return nil, fmt.Errorf("account: change password of %s: %w", q.From.Bare(), err)
	}
	ended := m.endOtherSessions(q)
	m.host.Logger().InfoContext(ctx, "account: password changed in-band", "user", q.From.Bare().String(), "sessions_ended", ended)
	return nil, nil
}

// endOtherSessions ends every session of the requester's account but the
// one that sent q, with a <reset/> stream error (RFC 6120 §4.9.3.16: the
// credentials the streams were established with were revoked): whoever
// else knew the old password is logged out. Detached (XEP-0198) sessions
// end too. It returns how many ended.
func (m *Module) endOtherSessions(q *module.IQ) int {
	end := &stream.Error{Condition: stream.Reset, Text: "the account's password was changed"}
	n := 0
	for _, s := range m.host.Sessions().Sessions(q.From.Bare()) {
		if s == q.Session || (q.Session == nil && s.JID() == q.From) {
			continue
		}
		s.Conn().Close(end)
		n++
	}
	return n
}

// reply sends an error without the request payload and returns
// module.ErrNoReply, or returns the error itself when it is not a stanza
// error.
func (m *Module) reply(q *module.IQ, err error) error {
	var se *stanza.Error
	if !errors.As(err, &se) {
		return err
	}
	e := stanza.New(stanza.NSClient, "iq", "type", stanza.TypeError, "id", q.Stanza.ID())
	e.Set("to", q.Stanza.From())
	e.Set("from", q.Stanza.To())
	m.deliver(q, e.Append(se.Element()))
	return module.ErrNoReply
}

func (m *Module) deliver(q *module.IQ, st *stanza.Element) {
	if q.Session != nil && q.Session.JID() == q.From {
		if err := q.Session.Deliver(st); err == nil {
			return
		}
	}
	m.host.Route(context.WithoutCancel(context.Background()), st)
}

// remove implements XEP-0077 §3.2: the account and all its data are
// deleted, the result is sent, then every session of the account ends
// with a <not-authorized/> stream error.
func (m *Module) remove(ctx context.Context, q *module.IQ) (*stanza.Element, error) {
	if !register.OnlyRemove(q.Payload) {
		return nil, stanza.Errorf(stanza.BadRequest, "<remove/> must be the only child")
	}
	user := q.From.Bare()
	err := m.host.Accounts().Delete(ctx, user)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, stanza.Err(stanza.RegistrationRequired)
	}
	if err != nil {
		return nil, fmt.Errorf("account: remove %s: %w", user, err)
	}
	m.host.Logger().InfoContext(ctx, "account: registration cancelled in-band", "user", user.String())
	m.deliver(q, stanza.Result(q.Stanza, nil))
	end := &stream.Error{Condition: stream.NotAuthorized, Text: "the account was deleted"}
	for _, s := range m.host.Sessions().Sessions(user) {
		if s == q.Session {
			conn := s.Conn()
			time.AfterFunc(CloseGrace, func() { conn.Close(end) })
			continue
		}
		s.Conn().Close(end)
	}
	return nil, module.ErrNoReply
}
