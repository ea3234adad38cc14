package stream_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/form"
	"github.com/parley-xmpp/parley/xmpp/sasl"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
	"github.com/parley-xmpp/parley/xmpptest"
)

const (
	nsRegister        = "jabber:iq:register"
	nsRegisterFeature = "http://jabber.org/features/iq-register"
	nsIBRToken        = "urn:xmpp:ibr-token:0"
	nsPARS            = "urn:xmpp:pars:0"
)

// preauthRaw dials and negotiates TLS, nothing more.
func preauthRaw(t *testing.T, s *xmpptest.Server) *raw {
	t.Helper()
	r := dialRaw(t, s)
	r.open()
	r.startTLS(nil)
	return r
}

// iq sends an IQ and returns the reply with the same id.
func (r *raw) iq(typ, id string, payload *stanza.Element) *stanza.Element {
	r.t.Helper()
	r.send(stanza.NewIQ(typ, id, "", payload))
	el := r.mustNext()
	if stanza.KindOf(el) != stanza.KindIQ || el.ID() != id {
		r.t.Fatalf("reply to %s: %s", id, el)
	}
	return el
}

// legacy is a jabber:iq:register set with the legacy fields.
func legacy(user, password string) *stanza.Element {
	return stanza.New(nsRegister, "query").Append(
		stanza.New(nsRegister, "username").AppendText(user),
		stanza.New(nsRegister, "password").AppendText(password))
}

// submitted is a jabber:iq:register set with a submitted data form.
func submitted(fields map[string]string) *stanza.Element {
	f := form.New(form.TypeSubmit, nsRegister)
	for k, v := range fields {
		f.Add(form.Field{Var: k, Values: []string{v}})
	}
	return stanza.New(nsRegister, "query").Append(f.Element())
}

func expectRegError(t *testing.T, el *stanza.Element, want stanza.Condition) {
	t.Helper()
	if got := stanzaError(t, el); got != want {
		t.Fatalf("error <%s/>, want <%s/>: %s", got, want, el)
	}
}

func expectResult(t *testing.T, el *stanza.Element) {
	t.Helper()
	if el.Type() != stanza.TypeResult {
		t.Fatalf("expected a result, got %s", el)
	}
}

// XEP-0077 is off by default: not advertised, and refused with
// <service-unavailable/>; invitations (XEP-0445) are still checked.
func TestRegistrationDisabled(t *testing.T) {
	s, alice, bob := newServer(t)
	r := preauthRaw(t, s)
	if r.features.Child(nsRegisterFeature, "register") != nil {
		t.Fatalf("registration advertised while disabled: %s", r.features)
	}
	if r.features.Child(nsIBRToken, "register") == nil {
		t.Fatalf("invitations not advertised: %s", r.features)
	}
	expectRegError(t, r.iq(stanza.TypeGet, "g", stanza.New(nsRegister, "query")), stanza.ServiceUnavailable)
	expectRegError(t, r.iq(stanza.TypeSet, "s", legacy("mallory", "long-password")), stanza.ServiceUnavailable)
	expectRegError(t, r.iq(stanza.TypeSet, "p", stanza.New(nsPARS, "preauth", "token", "nope")), stanza.ItemNotFound)
	if ok, _ := s.App.Stores().Accounts.AccountExists(t.Context(), s.JID(t, "mallory")); ok {
		t.Fatal("an account was created while registration is disabled")
	}
	// Before TLS nothing but STARTTLS is accepted.
	r = dialRaw(t, s)
	r.open()
	r.send(stanza.NewIQ(stanza.TypeGet, "g", "", stanza.New(nsRegister, "query")))
	r.expectStreamError(stream.NotAuthorized)
	alive(t, alice, bob)
}

// XEP-0077 §3.1: the form, a registration, then a login on the same
// stream; the errors the XEP names for bad requests.
func TestRegistration(t *testing.T) {
	s, alice, bob := newServer(t, func(c *config.Config) {
		c.Registration.Enabled = true
		c.Registration.MaxPerIPPerHour = 0
	})
	r := preauthRaw(t, s)
	if r.features.Child(nsRegisterFeature, "register") == nil {
		t.Fatalf("registration not advertised: %s", r.features)
	}
	res := r.iq(stanza.TypeGet, "g", stanza.New(nsRegister, "query"))
	expectResult(t, res)
	q := res.Child(nsRegister, "query")
	if q == nil || q.Child(nsRegister, "username") == nil || q.Child(nsRegister, "password") == nil || q.Child(nsRegister, "instructions") == nil {
		t.Fatalf("registration fields: %s", res)
	}
	x := form.Find(q, nsRegister)
	if x == nil {
		t.Fatalf("no data form: %s", res)
	}
	f, err := form.Parse(x)
	if err != nil || f.Field("username") == nil || f.Field("password") == nil || f.Field("token") != nil {
		t.Fatalf("data form: %+v %v", f, err)
	}
	cases := []struct {
		name    string
		payload *stanza.Element
		want    stanza.Condition
	}{
		{"taken username", legacy("carol", "long-password"), stanza.Conflict},
		{"taken username, other case", legacy("CAROL", "long-password"), stanza.Conflict},
		{"invalid username", legacy("bad user@x", "long-password"), stanza.NotAcceptable},
		{"empty username", legacy("", "long-password"), stanza.NotAcceptable},
		{"empty password", stanza.New(nsRegister, "query").Append(stanza.New(nsRegister, "username").AppendText("dave"), stanza.New(nsRegister, "password")), stanza.NotAcceptable},
		{"no password", stanza.New(nsRegister, "query").Append(stanza.New(nsRegister, "username").AppendText("dave")), stanza.NotAcceptable},
		{"short password", legacy("dave", "short"), stanza.NotAcceptable},
	}
	for _, tc := range cases {
		expectRegError(t, r.iq(stanza.TypeSet, "bad", tc.payload), tc.want)
	}
	expectResult(t, r.iq(stanza.TypeSet, "ok", legacy("dave", "dave-password")))
	// One account per stream.
	expectRegError(t, r.iq(stanza.TypeSet, "again", legacy("erin", "erin-password")), stanza.NotAcceptable)
	// The new account logs in on the same stream.
	if el := r.authenticate(sasl.ScramSHA256, sasl.ClientConfig{Username: "dave", Password: "dave-password"}); el.Name.Local != "success" {
		t.Fatalf("login after registration: %s", el)
	}
	r.open()
	r.bind("new")
	body := unique("welcome")
	sendOrFail(t, alice, stanza.NewMessage(stanza.TypeChat, r.full.String(), body))
	r.expectMessage(body)

	// The data form works too.
	r2 := preauthRaw(t, s)
	expectResult(t, r2.iq(stanza.TypeSet, "form", submitted(map[string]string{"username": "frank", "password": "frank-password"})))
	if ok, _ := s.App.Stores().Accounts.AccountExists(t.Context(), s.JID(t, "frank")); !ok {
		t.Fatal("frank was not created")
	}
	alive(t, alice, bob)
}

// Registrations per address are limited: past the limit,
// <policy-violation/>.
func TestRegistrationLimit(t *testing.T) {
	s := startServer(t, func(c *config.Config) {
		c.Registration.Enabled = true
		c.Registration.MaxPerIPPerHour = 2
	})
	for i, u := range []string{"u1", "u2"} {
		r := preauthRaw(t, s)
		if el := r.iq(stanza.TypeSet, "r", legacy(u, "long-password")); el.Type() != stanza.TypeResult {
			t.Fatalf("registration %d: %s", i, el)
		}
	}
	r := preauthRaw(t, s)
	el := r.iq(stanza.TypeSet, "r", legacy("u3", "long-password"))
	expectRegError(t, el, stanza.PolicyViolation)
	if e := stanza.ParseError(el); e.Type != stanza.ErrWait {
		t.Fatalf("error type %s, want wait", e.Type)
	}
	// Failed attempts do not count: the limit is on accounts created.
	if ok, _ := s.App.Stores().Accounts.AccountExists(t.Context(), s.JID(t, "u3")); ok {
		t.Fatal("u3 created past the limit")
	}
}

// The limit is checked and counted in one step: 20 registrations sent at
// once from one address, each on its own stream, against a limit of 5
// create exactly 5 accounts; the others get <policy-violation/>. A
// registration that fails (a taken name) does not use up a slot.
func TestRegistrationLimitParallel(t *testing.T) {
	s, alice, bob := newServer(t, func(c *config.Config) {
		c.Registration.Enabled = true
		c.Registration.MaxPerIPPerHour = 5
	})
	taken := preauthRaw(t, s)
	expectRegError(t, taken.iq(stanza.TypeSet, "r", legacy("carol", "long-password")), stanza.Conflict)

	const n = 20
	conns := make([]*raw, n)
	for i := range conns {
		conns[i] = preauthRaw(t, s)
	}
	for i, r := range conns {
		r.send(stanza.NewIQ(stanza.TypeSet, "r", "", legacy(fmt.Sprintf("par%d", i), "long-password")))
	}
	created := 0
	for i, r := range conns {
		el := r.mustNext()
		switch {
		case el.Type() == stanza.TypeResult:
			created++
		case stanzaError(t, el) != stanza.PolicyViolation:
			t.Fatalf("registration %d: %s", i, el)
		}
	}
	accounts := 0
	for i := range n {
		if ok, _ := s.App.Stores().Accounts.AccountExists(t.Context(), s.JID(t, fmt.Sprintf("par%d", i))); ok {
			accounts++
		}
	}
	if created != 5 || accounts != 5 {
		t.Fatalf("%d registrations succeeded and %d accounts exist, want exactly 5", created, accounts)
	}
	alive(t, alice, bob)
}

// With require_invite, an invitation (XEP-0401) is needed, presented with
// XEP-0445 <preauth/> or in the form; it is used up atomically.
func TestRegistrationInvite(t *testing.T) {
	s := startServer(t, func(c *config.Config) {
		c.Registration.Enabled = true
		c.Registration.RequireInvite = true
		c.Registration.MaxPerIPPerHour = 0
	})
	inv := s.App.Stores().Invites
	ctx := t.Context()
	for _, i := range []storage.Invite{
		{Token: "once", Domain: s.Domain(), MaxUses: 1, Created: time.Now()},
		{Token: "twice", Domain: s.Domain(), MaxUses: 2, Created: time.Now()},
		{Token: "for-gina", Domain: s.Domain(), Username: "gina", MaxUses: 1, Created: time.Now()},
		{Token: "expired", Domain: s.Domain(), MaxUses: 1, Created: time.Now().Add(-time.Hour), Expires: time.Now().Add(-time.Minute)},
	} {
		if err := inv.CreateInvite(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	r := preauthRaw(t, s)
	res := r.iq(stanza.TypeGet, "g", stanza.New(nsRegister, "query"))
	f, err := form.Parse(form.Find(res.Child(nsRegister, "query"), nsRegister))
	if err != nil || f.Field("token") == nil {
		t.Fatalf("the form asks for no invitation: %s", res)
	}
	expectRegError(t, r.iq(stanza.TypeSet, "none", legacy("hank", "long-password")), stanza.Forbidden)
	expectRegError(t, r.iq(stanza.TypeSet, "bad", submitted(map[string]string{"username": "hank", "password": "long-password", "token": "nope"})), stanza.Forbidden)
	expectRegError(t, r.iq(stanza.TypeSet, "exp", submitted(map[string]string{"username": "hank", "password": "long-password", "token": "expired"})), stanza.Forbidden)
	expectRegError(t, r.iq(stanza.TypeSet, "who", submitted(map[string]string{"username": "hank", "password": "long-password", "token": "for-gina"})), stanza.Forbidden)
	expectResult(t, r.iq(stanza.TypeSet, "ok", submitted(map[string]string{"username": "hank", "password": "long-password", "token": "once"})))
	if i, _ := inv.Invite(ctx, "once"); i.Uses != 1 {
		t.Fatalf("invitation uses %d after registering", i.Uses)
	}
	r = preauthRaw(t, s)
	expectRegError(t, r.iq(stanza.TypeSet, "used", submitted(map[string]string{"username": "ivy", "password": "long-password", "token": "once"})), stanza.Forbidden)

	// XEP-0445: the token first, then the legacy fields.
	r = preauthRaw(t, s)
	expectRegError(t, r.iq(stanza.TypeSet, "p0", stanza.New(nsPARS, "preauth", "token", "expired")), stanza.ItemNotFound)
	expectResult(t, r.iq(stanza.TypeSet, "p1", stanza.New(nsPARS, "preauth", "token", "for-gina")))
	expectResult(t, r.iq(stanza.TypeSet, "reg", legacy("gina", "long-password")))
	if el := r.authenticate(sasl.ScramSHA256, sasl.ClientConfig{Username: "gina", Password: "long-password"}); el.Name.Local != "success" {
		t.Fatalf("login of the invited account: %s", el)
	}
}

// TestRegistrationUsernamePolicy: in-band registration applies the
// username policy of every account creation (auth.CheckUsername): each
// bad username is <not-acceptable/>, and the stream may still register.
func TestRegistrationUsernamePolicy(t *testing.T) {
	s, _, _ := newServer(t, func(c *config.Config) {
		c.Registration.Enabled = true
		c.Registration.MaxPerIPPerHour = 0
	})
	r := preauthRaw(t, s)
	for _, u := range []string{"", "bad user", "a<b", "a:b", "a@b", "a/b", "x\u0007", "\u2163", strings.Repeat("a", 1024)} {
		expectRegError(t, r.iq(stanza.TypeSet, "bad", legacy(u, "long-password")), stanza.NotAcceptable)
	}
	expectResult(t, r.iq(stanza.TypeSet, "ok", legacy(" Grace ", "grace-password")))
	if ok, _ := s.App.Stores().Accounts.AccountExists(t.Context(), s.JID(t, "grace")); !ok {
		t.Fatal("grace was not created")
	}
}
