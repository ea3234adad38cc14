package stream

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/parley-xmpp/parley/server/auth"
	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/form"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// Namespaces of in-band registration.
const (
	nsRegister        = "jabber:iq:register"                     // XEP-0077
	nsRegisterFeature = "http://jabber.org/features/iq-register" // XEP-0077 §8
	nsIBRToken        = "urn:xmpp:ibr-token:0"                   // XEP-0445 §3
	nsPARS            = "urn:xmpp:pars:0"                        // XEP-0445 §4
)

// Registration configures in-band registration (XEP-0077) on
// unauthenticated streams, and registration with invitations (XEP-0401,
// XEP-0445). It is only ever offered over TLS.
type Registration struct {
	// Enabled offers registration. Without it only holders of an
	// invitation can register (when Invites is set).
	Enabled bool
	// RequireInvite makes every registration need an invitation.
	RequireInvite bool
	// MaxPerIPPerHour bounds the accounts registered from one address
	// (IPv6: one /64) per hour; 0 means no limit.
	MaxPerIPPerHour int
	// MinPasswordLength is the shortest password accepted.
	MinPasswordLength int
	// Create creates an account; the error wraps storage.ErrExists if it
	// exists. Nil disables registration.
	Create func(ctx context.Context, user jid.JID, password string) error
	// Exists reports whether an account exists.
	Exists func(ctx context.Context, user jid.JID) (bool, error)
	// Invites holds the invitations; nil refuses them.
	Invites storage.Invites
	// Limiter counts registrations per address; share one between
	// listeners. Nil makes one per listener.
	Limiter *RegistrationLimiter
}

// regState is a stream's registration state.
type regState struct {
	invite string // an invitation accepted with XEP-0445 <preauth/>
	done   bool   // an account was registered on this stream
}

func (c *conn) registrationOn() bool { return c.cfg.Registration.Create != nil }

// invitesOn reports whether invitations are accepted.
func (c *conn) invitesOn() bool { return c.registrationOn() && c.cfg.Registration.Invites != nil }

// appendRegisterFeatures advertises registration (TLS is up here).
func (c *conn) appendRegisterFeatures(f *stanza.Element) {
	if c.registrationOn() && c.cfg.Registration.Enabled {
		f.Append(stanza.New(nsRegisterFeature, "register"))
	}
	if c.invitesOn() {
		f.Append(stanza.New(nsIBRToken, "register"))
	}
}

// handleRegisterIQ answers the registration IQs of an unauthenticated
// stream; other IQs are not handled.
func (c *conn) handleRegisterIQ(ctx context.Context, iq *stanza.Element) (bool, error) {
	p := iq.Payload()
	if p == nil || !(p.Name.Space == nsRegister && p.Name.Local == "query") && !(p.Name.Space == nsPARS && p.Name.Local == "preauth") {
		return false, nil
	}
	reply := func(res *stanza.Element) error {
		res.Set("from", "")
		res.Set("to", "")
		return c.writeRaw(res.AppendXML(nil, stanza.NSClient))
	}
	fail := func(e *stanza.Error) error { return reply(stanza.ErrorReply(iq, e)) }
	if bad := checkIQ(iq); bad != nil {
		return true, fail(bad)
	}
	if iq.From() != "" || (iq.To() != "" && iq.To() != c.domain) {
		return true, fail(stanza.Errorf(stanza.BadRequest, "register with the server, from no address"))
	}
	if c.reg == nil {
		c.reg = &regState{}
	}
	switch {
	case p.Name.Space == nsPARS && iq.Type() == stanza.TypeSet:
		return true, c.preauth(ctx, p, reply, fail, iq)
	case p.Name.Space == nsRegister && iq.Type() == stanza.TypeGet:
		if !c.registrationOn() || !c.cfg.Registration.Enabled && c.reg.invite == "" {
			return true, fail(stanza.Errorf(stanza.ServiceUnavailable, "registration is not available"))
		}
		return true, reply(stanza.Result(iq, c.registrationForm()))
	case p.Name.Space == nsRegister && iq.Type() == stanza.TypeSet:
		return true, c.register(ctx, p, reply, fail, iq)
	}
	return true, fail(stanza.Err(stanza.BadRequest))
}

// preauth checks an invitation token ahead of registration (XEP-0445 §4):
// it is not used up until an account is registered with it.
func (c *conn) preauth(ctx context.Context, p *stanza.Element, reply func(*stanza.Element) error, fail func(*stanza.Error) error, iq *stanza.Element) error {
	if !c.invitesOn() {
		return fail(stanza.Errorf(stanza.ServiceUnavailable, "invitations are not accepted"))
	}
	token := p.Get("token")
	if _, err := c.validInvite(ctx, token); err != nil {
		c.log.Info("c2s: invalid invitation presented", "err", err)
		return fail(&stanza.Error{Type: stanza.ErrCancel, Condition: stanza.ItemNotFound, Text: "the provided token is invalid or expired"})
	}
	c.reg.invite = token
	return reply(stanza.Result(iq, nil))
}

// validInvite returns the invitation of token if it can register on this
// domain now.
func (c *conn) validInvite(ctx context.Context, token string) (storage.Invite, error) {
	if token == "" {
		return storage.Invite{}, errors.New("c2s: no invitation token")
	}
	inv, err := c.cfg.Registration.Invites.Invite(ctx, token)
	if err != nil {
		return storage.Invite{}, err
	}
	if !inv.Valid(c.cfg.Now()) || (inv.Domain != "" && inv.Domain != c.domain) {
		return storage.Invite{}, errors.New("c2s: invitation expired, used up or for another domain")
	}
	return inv, nil
}

// needInvite reports whether a registration on this stream needs an
// invitation.
func (c *conn) needInvite() bool {
	return c.cfg.Registration.RequireInvite || !c.cfg.Registration.Enabled
}

// registrationForm is the answer to a registration request: the legacy
// fields and the equivalent data form, with an invitation field when one
// is needed and none was presented.
func (c *conn) registrationForm() *stanza.Element {
	q := stanza.New(nsRegister, "query").Append(
		stanza.New(nsRegister, "instructions").AppendText("Choose a username and password to register with this server."),
		stanza.New(nsRegister, "username"),
		stanza.New(nsRegister, "password"),
	)
	f := form.New(form.TypeForm, nsRegister)
	f.Title = "Account registration"
	f.Add(form.Field{Var: "username", Type: form.FieldTextSingle, Label: "Username", Required: true})
	f.Add(form.Field{Var: "password", Type: form.FieldTextPrivate, Label: "Password", Required: true})
	if c.needInvite() && c.reg.invite == "" {
		f.Add(form.Field{Var: "token", Type: form.FieldTextSingle, Label: "Invitation token", Required: true})
	}
	return q.Append(f.Element())
}

// register creates an account (XEP-0077 §3.1) with the errors the XEP
// names: <not-acceptable/> for missing or invalid data, <conflict/> for a
// taken username, <forbidden/> without a valid invitation where one is
// needed, <policy-violation/> past the per-address limit.
func (c *conn) register(ctx context.Context, p *stanza.Element, reply func(*stanza.Element) error, fail func(*stanza.Error) error, iq *stanza.Element) error {
	r := &c.cfg.Registration
	token := c.reg.invite
	var username, password string
	if x := form.Find(p, nsRegister); x != nil {
		f, err := form.Parse(x)
		if err != nil {
			return fail(stanza.Errorf(stanza.BadRequest, "invalid data form"))
		}
		username, password = fieldValue(f, "username"), fieldValue(f, "password")
		if t := fieldValue(f, "token"); t != "" {
			token = t
		}
	} else {
		if p.Child(nsRegister, "remove") != nil {
			return fail(stanza.Errorf(stanza.NotAuthorized, "log in to cancel a registration"))
		}
		username, password = p.ChildText(nsRegister, "username"), p.ChildText(nsRegister, "password")
	}
	if !c.registrationOn() || !r.Enabled && token == "" {
		return fail(stanza.Errorf(stanza.ServiceUnavailable, "registration is not available"))
	}
	if c.reg.done {
		return fail(stanza.Errorf(stanza.NotAcceptable, "one account per stream: log in now"))
	}
	user, e := auth.CheckUsername(strings.TrimSpace(username), c.domain)
	if e != nil {
		return fail(e)
	}
	if e := auth.CheckPassword(password, r.MinPasswordLength); e != nil {
		return fail(e)
	}
	var inv storage.Invite
	var err error
	if c.needInvite() || token != "" {
		if inv, err = c.validInvite(ctx, token); err != nil || (inv.Username != "" && inv.Username != user.Local()) {
			c.log.Info("c2s: registration without a valid invitation", "user", user)
			return fail(stanza.Errorf(stanza.Forbidden, "a valid invitation is required"))
		}
	}
	limiter := r.Limiter
	if limiter == nil {
		limiter = c.srv.regLimiter
	}
	// Checked and counted in one step: parallel registrations from one
	// address cannot all pass the check before any is counted. A
	// registration that then fails gives its slot back.
	slot, ok := limiter.Reserve(c.remoteIP())
	if !ok {
		c.log.Warn("c2s: registration limit reached for this address")
		return fail(&stanza.Error{Type: stanza.ErrWait, Condition: stanza.PolicyViolation, Text: "too many registrations from your address, try later"})
	}
	if exists, err := r.Exists(ctx, user); err != nil {
		slot.Cancel()
		c.log.Error("c2s: registration: checking the account", "err", err)
		return fail(stanza.Err(stanza.InternalServerError))
	} else if exists {
		slot.Cancel()
		return fail(stanza.Errorf(stanza.Conflict, "the username is taken"))
	}
	if inv.Token != "" {
		// Used up atomically: two streams cannot both spend its last use.
		if _, err := r.Invites.UseInvite(ctx, inv.Token, c.cfg.Now()); err != nil {
			slot.Cancel()
			return fail(stanza.Errorf(stanza.Forbidden, "a valid invitation is required"))
		}
	}
	if err := r.Create(ctx, user, password); errors.Is(err, storage.ErrExists) {
		slot.Cancel()
		return fail(stanza.Errorf(stanza.Conflict, "the username is taken"))
	} else if err != nil {
		slot.Cancel()
		c.log.Error("c2s: registration failed", "user", user, "err", err)
		return fail(stanza.Err(stanza.InternalServerError))
	}
	c.reg.done = true
	c.log.Info("c2s: account registered in-band", "user", user, "invited", inv.Token != "")
	return reply(stanza.Result(iq, nil))
}

func fieldValue(f *form.Form, v string) string {
	if fd := f.Field(v); fd != nil {
		return fd.Value()
	}
	return ""
}

// RegistrationLimiter counts in-band registrations per client address
// (IPv6 grouped by /64) over the last hour. It is safe for concurrent use.
type RegistrationLimiter struct {
	max int
	now func() time.Time

	mu        sync.Mutex
	seen      map[netip.Prefix][]time.Time
	lastSweep time.Time
}

// maxRegistrationAddrs bounds the addresses a RegistrationLimiter tracks.
const maxRegistrationAddrs = 100_000

// NewRegistrationLimiter returns a limiter allowing max registrations per
// address per hour (0: unlimited); now nil means time.Now.
func NewRegistrationLimiter(max int, now func() time.Time) *RegistrationLimiter {
	if now == nil {
		now = time.Now
	}
	return &RegistrationLimiter{max: max, now: now, seen: map[netip.Prefix][]time.Time{}}
}

// live drops the registrations older than an hour.
func (l *RegistrationLimiter) live(ts []time.Time, now time.Time) []time.Time {
	i := 0
	for i < len(ts) && now.Sub(ts[i]) >= time.Hour {
		i++
	}
	return ts[i:]
}

// RegistrationSlot is a registration counted by
// [RegistrationLimiter.Reserve]; Cancel gives it back.
type RegistrationSlot struct {
	l   *RegistrationLimiter
	key netip.Prefix
	at  time.Time
}

// Cancel uncounts the registration (it failed). It is safe on the zero
// value and when called twice.
func (s *RegistrationSlot) Cancel() {
	if s == nil || s.l == nil {
		return
	}
	l := s.l
	s.l = nil
	l.mu.Lock()
	defer l.mu.Unlock()
	ts := l.seen[s.key]
	for i := len(ts) - 1; i >= 0; i-- {
		if ts[i].Equal(s.at) {
			l.seen[s.key] = append(ts[:i], ts[i+1:]...)
			return
		}
	}
}

// Reserve checks that ip may register another account now and, if so,
// counts the registration, in one step under the lock: of any number of
// parallel registrations from one address, at most the limit pass. The
// caller cancels the slot if the registration then fails.
func (l *RegistrationLimiter) Reserve(ip netip.Addr) (*RegistrationSlot, bool) {
	k, ok := auth.AddressKey(ip)
	if l == nil || l.max <= 0 || !ok {
		return &RegistrationSlot{}, true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if now.Sub(l.lastSweep) >= time.Hour {
		l.lastSweep = now
		for a, ts := range l.seen {
			if len(l.live(ts, now)) == 0 {
				delete(l.seen, a)
			}
		}
	}
	ts, tracked := l.seen[k]
	ts = l.live(ts, now)
	if len(ts) >= l.max {
		l.seen[k] = ts
		return nil, false
	}
	if !tracked && len(l.seen) >= maxRegistrationAddrs {
		for victim := range l.seen {
			delete(l.seen, victim)
			break
		}
	}
	l.seen[k] = append(ts, now)
	return &RegistrationSlot{l: l, key: k, at: now}, true
}
