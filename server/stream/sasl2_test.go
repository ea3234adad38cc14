package stream_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/bind2"
	"github.com/parley-xmpp/parley/xmpp/fast"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/sasl"
	"github.com/parley-xmpp/parley/xmpp/sasl2"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

const (
	nsSM        = "urn:xmpp:sm:3"
	testUAID    = "d4565fa7-4d72-4749-b3d3-740edbf87770"
	otherUAID   = "9a1f3b2c-7d4e-4f60-8a9b-0c1d2e3f4a5b"
	testSoftare = "ParleyTest"
)

// sasl2Feature returns the advertised <authentication/> feature, failing
// if there is none.
func sasl2Feature(t testing.TB, features *stanza.Element) sasl2.Feature {
	t.Helper()
	el := features.Child(sasl2.NS, "authentication")
	if el == nil {
		t.Fatalf("no SASL2 <authentication/> feature in %s", features)
	}
	return sasl2.ParseFeature(el)
}

// sasl2Login runs a SASL2 exchange with mech and the extra request
// elements; it returns the final element (<success/>, verified, or
// <failure/>) and, after a success, the features that follow it (none
// after a success that resumed a session).
func (r *raw) sasl2Login(mech sasl.ClientMechanism, ua *sasl2.UserAgent, extra ...*stanza.Element) (final, features *stanza.Element) {
	r.t.Helper()
	initial, err := mech.Start()
	if err != nil {
		r.t.Fatalf("%s start: %v", mech.Name(), err)
	}
	r.send(sasl2.Authenticate{Mechanism: mech.Name(), Initial: initial, HasInitial: true, UserAgent: ua, Extensions: extra}.Element())
	for {
		el := r.mustNext()
		if el.Name.Space != sasl2.NS {
			r.t.Fatalf("unexpected %s during SASL2", el)
		}
		switch el.Name.Local {
		case "challenge":
			data, err := sasl2.DecodeData(el.Text())
			if err != nil {
				r.t.Fatalf("challenge: %v", err)
			}
			resp, err := mech.Next(data)
			if err != nil {
				r.t.Fatalf("%s: %v", mech.Name(), err)
			}
			r.send(sasl2.Response(resp))
		case "success":
			s, err := sasl2.ParseSuccess(el)
			if err != nil {
				r.t.Fatalf("success: %v (%s)", err, el)
			}
			if s.AdditionalData != nil || !mech.Done() {
				if _, err := mech.Next(s.AdditionalData); err != nil {
					r.t.Fatalf("%s: server not verified: %v", mech.Name(), err)
				}
			}
			if !mech.Done() {
				r.t.Fatalf("%s: success before the exchange completed", mech.Name())
			}
			if el.Child(nsSM, "resumed") != nil {
				// XEP-0198 §9.2: a resumed stream is re-established
				// at once; no features follow.
				return el, nil
			}
			f := r.mustNext() // no stream restart: the features follow at once
			if f.Name.Space != stanza.NSStream || f.Name.Local != "features" {
				r.t.Fatalf("expected <stream:features/> after <success/>, got %s", f)
			}
			r.features = f
			return el, f
		case "failure":
			return el, nil
		default:
			r.t.Fatalf("unexpected %s during SASL2", el)
		}
	}
}

// scram returns a SCRAM client for user on r's connection.
func (r *raw) scram(mech, user, password string) sasl.ClientMechanism {
	r.t.Helper()
	m, err := sasl.NewClient(mech, sasl.ClientConfig{
		Username: user, Password: password, ChannelBindings: r.channelBindings(),
		ServerMechanisms: sasl2Feature(r.t, r.features).Mechanisms, ServerCBTypes: cbTypes(r.features),
		RequireDowngradeProtection: true,
	})
	if err != nil {
		r.t.Fatalf("sasl.NewClient(%s): %v", mech, err)
	}
	return m
}

// sasl2Condition returns the RFC 6120 condition of a SASL2 <failure/>.
func sasl2Condition(t testing.TB, el *stanza.Element) string {
	t.Helper()
	if el.Name.Space != sasl2.NS || el.Name.Local != "failure" {
		t.Fatalf("expected a SASL2 <failure/>, got %s", el)
	}
	return sasl2.ParseFailure(el).Condition
}

func authID(t testing.TB, success *stanza.Element) jid.JID {
	t.Helper()
	s, err := sasl2.ParseSuccess(success)
	if err != nil {
		t.Fatal(err)
	}
	j, err := jid.Parse(s.AuthorizationIdentifier)
	if err != nil {
		t.Fatalf("authorization identifier: %v", err)
	}
	return j
}

// XEP-0388 §2.1: SASL2 is offered only over TLS, with the same mechanisms
// as RFC 6120 SASL, and Bind 2 and FAST inline.
func TestSASL2Features(t *testing.T) {
	s := startServer(t)
	r := dialRaw(t, s)
	if f := r.open(); f.Child(sasl2.NS, "authentication") != nil {
		t.Fatalf("SASL2 offered before TLS: %s", f)
	}
	f := r.startTLS(nil)
	feat := sasl2Feature(t, f)
	if !slices.Equal(sortedCopy(feat.Mechanisms), sortedCopy(mechanisms(f))) {
		t.Fatalf("SASL2 mechanisms %v, RFC 6120 mechanisms %v", feat.Mechanisms, mechanisms(f))
	}
	if !slices.Contains(feat.Mechanisms, sasl.ScramSHA256Plus) {
		t.Fatalf("no -PLUS mechanism over TLS: %v", feat.Mechanisms)
	}
	b := feat.InlineFeature(bind2.NS, "bind")
	if b == nil {
		t.Fatalf("no inline Bind 2: %s", f)
	}
	vars := bind2.ParseFeature(b)
	for _, want := range []string{nsSM, nsCSI} {
		if !slices.Contains(vars, want) {
			t.Errorf("Bind 2 inline features %v lack %s", vars, want)
		}
	}
	if feat.InlineFeature(nsSM, "sm") == nil {
		t.Errorf("no inline stream resumption (XEP-0198 §9.2): %s", f)
	}
	fe := feat.InlineFeature(fast.NS, "fast")
	if fe == nil {
		t.Fatalf("no inline FAST: %s", f)
	}
	if m := fast.ParseFeature(fe).Mechanisms; !slices.Contains(m, fast.HTSHA256None) || !slices.Contains(m, fast.HTSHA256Expr) {
		t.Fatalf("FAST mechanisms %v", m)
	}

	off := startServer(t, func(c *config.Config) { c.Auth.SASL2 = false })
	r = dialRaw(t, off)
	r.open()
	if f := r.startTLS(nil); f.Child(sasl2.NS, "authentication") != nil {
		t.Fatalf("SASL2 offered although disabled: %s", f)
	}
}

// XEP-0388 §2.6.1: SCRAM with and without channel binding; the success
// carries the server's signature and the bare JID, and the stream's
// features follow without a restart: the client binds the RFC 6120 way.
func TestSASL2SCRAM(t *testing.T) {
	s, alice, _ := newServer(t)
	for _, mech := range []string{sasl.ScramSHA256, sasl.ScramSHA256Plus, sasl.ScramSHA1, sasl.ScramSHA1Plus} {
		t.Run(mech, func(t *testing.T) {
			r := dialRaw(t, s)
			r.open()
			r.startTLS(nil)
			ua := &sasl2.UserAgent{ID: testUAID, Software: testSoftare, Device: "CI"}
			final, f := r.sasl2Login(r.scram(mech, "carol", "pw"), ua)
			if final.Name.Local != "success" {
				t.Fatalf("%s: %s", mech, final)
			}
			if got := authID(t, final); got != s.JID(t, "carol") {
				t.Fatalf("authorization identifier %s", got)
			}
			if f.Child(nsBind, "bind") == nil || f.Child(sasl2.NS, "authentication") != nil {
				t.Fatalf("features after SASL2 success: %s", f)
			}
			r.bind("sasl2")
			body := unique("sasl2")
			sendOrFail(t, alice, stanza.NewMessage(stanza.TypeChat, r.full.String(), body))
			r.expectMessage(body)
		})
	}
}

// XEP-0388 §2.6.2: failures carry the RFC 6120 condition, inline requests
// of a failed attempt are ignored, and <authenticate/> after success ends
// the stream.
func TestSASL2Failures(t *testing.T) {
	s, alice, bob := newServer(t, func(c *config.Config) { c.Auth.MaxFailureDelay = 0 })
	tls := func(t *testing.T) *raw {
		r := dialRaw(t, s)
		r.open()
		r.startTLS(nil)
		return r
	}
	t.Run("wrong password", func(t *testing.T) {
		r := tls(t)
		r.send(sasl2.Authenticate{Mechanism: sasl.Plain, Initial: []byte("\x00carol\x00wrong"), HasInitial: true,
			Extensions: []*stanza.Element{bind2.Request{Tag: "x"}.Element()}}.Element())
		if c := sasl2Condition(t, r.mustNext()); c != sasl.NotAuthorized {
			t.Fatalf("condition %s", c)
		}
		// Nothing was bound: carol has no session.
		if n := len(s.App.Router().Sessions().Sessions(s.JID(t, "carol"))); n != 0 {
			t.Fatalf("carol has %d sessions after a failed SASL2 with Bind 2", n)
		}
		// The stream stays usable for another attempt.
		final, _ := r.sasl2Login(r.scram(sasl.ScramSHA256, "carol", "pw"), nil)
		if final.Name.Local != "success" {
			t.Fatalf("second attempt: %s", final)
		}
	})
	t.Run("conditions", func(t *testing.T) {
		cases := []struct {
			name string
			el   *stanza.Element
			want string
		}{
			{"unadvertised mechanism", sasl2.Authenticate{Mechanism: "DIGEST-MD5", HasInitial: true}.Element(), sasl.InvalidMechanism},
			{"bad base64", stanza.New(sasl2.NS, "authenticate", "mechanism", sasl.Plain).Append(stanza.New(sasl2.NS, "initial-response").AppendText("%%%")), sasl.IncorrectEncoding},
			{"user-agent id not a UUID", stanza.New(sasl2.NS, "authenticate", "mechanism", sasl.Plain).Append(stanza.New(sasl2.NS, "user-agent", "id", "my-phone")), sasl.MalformedRequest},
		}
		for _, tc := range cases {
			r := tls(t)
			r.send(tc.el)
			if c := sasl2Condition(t, r.mustNext()); c != tc.want {
				t.Errorf("%s: condition %s, want %s", tc.name, c, tc.want)
			}
		}
	})
	t.Run("authzid of another user", func(t *testing.T) {
		r := tls(t)
		final, _ := r.sasl2Login(mustClient(t, sasl.Plain, sasl.ClientConfig{Username: "carol", Password: "pw", Authzid: bob.JID().Bare().String()}), nil)
		if c := sasl2Condition(t, final); c != sasl.InvalidAuthzid {
			t.Fatalf("condition %s", c)
		}
	})
	t.Run("authzid differs from the stream's from", func(t *testing.T) {
		// The stream's 'from' is a hint (RFC 6120 §4.7.1), never a
		// reason to refuse: a stream opened with from='bob@...' logs
		// carol in, authzid and all.
		r := dialRawTLS(t, s, nil)
		r.write(strings.Replace(r.streamHeader(), "<stream:stream", "<stream:stream from='"+bob.JID().Bare().String()+"'", 1))
		r.readHeader()
		r.features = r.mustNext()
		final, _ := r.sasl2Login(mustClient(t, sasl.Plain, sasl.ClientConfig{Username: "carol", Password: "pw", Authzid: s.JID(t, "carol").String()}), nil)
		if final.Name.Local != "success" || authID(t, final).Bare() != s.JID(t, "carol") {
			t.Fatalf("login with another JID as the stream's from: %s", final)
		}
	})
	t.Run("failures past the mechanisms offered end the stream", func(t *testing.T) {
		r := tls(t)
		f := sasl2Feature(t, r.features)
		offered := len(f.Mechanisms)
		for _, in := range f.Inline {
			if in.Name.Space == fast.NS {
				offered += len(in.ChildrenNamed(fast.NS, "mechanism"))
			}
		}
		for i := 0; ; i++ {
			r.send(sasl2.Authenticate{Mechanism: sasl.Plain, Initial: []byte("\x00carol\x00bad"), HasInitial: true}.Element())
			el, err := r.next()
			if err != nil {
				t.Fatal(err)
			}
			if se := stream.ParseStreamError(el); se != nil {
				if se.Condition != stream.PolicyViolation || i < offered {
					t.Fatalf("stream ended after %d failures with %v; %d mechanisms offered", i, se, offered)
				}
				break
			}
			sasl2Condition(t, el)
			if i > 30 {
				t.Fatalf("%d failures and the stream goes on", i)
			}
		}
	})
	t.Run("authenticate after success", func(t *testing.T) {
		r := tls(t)
		final, _ := r.sasl2Login(r.scram(sasl.ScramSHA256, "carol", "pw"), nil)
		if final.Name.Local != "success" {
			t.Fatal(final)
		}
		r.send(sasl2.Authenticate{Mechanism: sasl.Plain, Initial: []byte("\x00carol\x00pw"), HasInitial: true}.Element())
		el, err := r.next()
		if err != nil || stream.ParseStreamError(el) == nil {
			t.Fatalf("a second <authenticate/> got %v %v, want a stream error", el, err)
		}
	})
	alive(t, alice, bob)
}

func mustClient(t testing.TB, mech string, cfg sasl.ClientConfig) sasl.ClientMechanism {
	t.Helper()
	m, err := sasl.NewClient(mech, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// successChild returns the inline result named space/local of a success.
func successChild(t testing.TB, success *stanza.Element, space, local string) *stanza.Element {
	t.Helper()
	s, err := sasl2.ParseSuccess(success)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range s.Extensions {
		if e.Name.Space == space && e.Name.Local == local {
			return e
		}
	}
	return nil
}

// bind2Login logs carol in with SASL2 and a Bind 2 request.
func bind2Login(t *testing.T, r *raw, uaID string, features ...*stanza.Element) (jid.JID, *stanza.Element, *stanza.Element) {
	t.Helper()
	r.open()
	r.startTLS(nil)
	final, f := r.sasl2Login(r.scram(sasl.ScramSHA256Plus, "carol", "pw"), &sasl2.UserAgent{ID: uaID},
		bind2.Request{Tag: testSoftare, Features: features}.Element())
	if final.Name.Local != "success" {
		t.Fatalf("Bind 2 login: %s", final)
	}
	full := authID(t, final)
	r.full = full
	return full, final, f
}

// XEP-0386: the resource is the tag plus a server part, stable for one
// client installation; SM and CSI are enabled inline; the session is
// usable at once, and a new login of the same client replaces it.
func TestBind2(t *testing.T) {
	s, alice, bob := newServer(t)
	r := dialRaw(t, s)
	full, final, f := bind2Login(t, r, testUAID,
		stanza.New(nsSM, "enable", "resume", "true"), stanza.New(nsCSI, "inactive"))
	if full.Bare() != s.JID(t, "carol") || !strings.HasPrefix(full.Resource(), testSoftare+"/") || len(full.Resource()) <= len(testSoftare)+1 {
		t.Fatalf("bound %s", full)
	}
	bound := successChild(t, final, bind2.NS, "bound")
	if bound == nil {
		t.Fatalf("no <bound/> in %s", final)
	}
	if en := bound.Child(nsSM, "enabled"); en == nil || en.Get("resume") != "true" || en.Get("id") == "" {
		t.Fatalf("inline SM result: %s", bound)
	}
	if f.Child(nsBind, "bind") != nil || f.Child(nsSM, "sm") != nil {
		t.Fatalf("features after Bind 2 offer bind or SM again: %s", f)
	}
	if s.App.Router().Sessions().Get(full) == nil {
		t.Fatalf("%s is not in the session table", full)
	}
	// A message with a body is urgent for CSI: it arrives although the
	// session is inactive.
	body := unique("bind2")
	sendOrFail(t, alice, stanza.NewMessage(stanza.TypeChat, full.String(), body))
	r.expectMessage(body)

	// The same client logging in again gets the same resource and
	// replaces its old session; another client gets another resource.
	again := dialRaw(t, s)
	full2, _, _ := bind2Login(t, again, testUAID)
	if full2 != full {
		t.Fatalf("same client bound %s, then %s", full, full2)
	}
	for {
		el, err := r.next()
		if err != nil {
			t.Fatalf("the replaced session: %v", err)
		}
		if se := stream.ParseStreamError(el); se != nil {
			if se.Condition != stream.Conflict {
				t.Fatalf("the replaced session got %v", se)
			}
			break
		}
	}
	other := dialRaw(t, s)
	full3, _, _ := bind2Login(t, other, otherUAID)
	if full3 == full {
		t.Fatalf("two clients bound the same resource %s", full)
	}
	// Without a user agent the resource is random.
	r4 := dialRaw(t, s)
	r4.open()
	r4.startTLS(nil)
	final4, _ := r4.sasl2Login(r4.scram(sasl.ScramSHA256, "carol", "pw"), nil, bind2.Request{}.Element())
	if j := authID(t, final4); j.Resource() == "" || j == full || j == full3 {
		t.Fatalf("bound without a tag or user agent: %s", j)
	}
	alive(t, alice, bob)
}

// XEP-0386 with XEP-0280: carbons, a module's feature, are enabled inline
// through Registrar.Bind2Feature: the Bind 2 session gets copies of what
// the account's other session sends.
func TestBind2Carbons(t *testing.T) {
	const nsCarbons = "urn:xmpp:carbons:2"
	s, alice, _ := newServer(t)
	r := dialRaw(t, s)
	r.open()
	f := r.startTLS(nil)
	if vars := bind2.ParseFeature(sasl2Feature(t, f).InlineFeature(bind2.NS, "bind")); !slices.Contains(vars, nsCarbons) {
		t.Fatalf("carbons not offered inline: %v", vars)
	}
	final, _ := r.sasl2Login(r.scram(sasl.ScramSHA256, "carol", "pw"), &sasl2.UserAgent{ID: testUAID},
		bind2.Request{Tag: "carbons", Features: []*stanza.Element{stanza.New(nsCarbons, "enable")}}.Element())
	if final.Name.Local != "success" || successChild(t, final, bind2.NS, "bound") == nil {
		t.Fatalf("Bind 2 with carbons: %s", final)
	}
	other := s.Client(t, "carol", "pw", "phone")
	body := unique("carbon")
	sendOrFail(t, other, stanza.NewMessage(stanza.TypeChat, alice.JID().String(), body))
	nextMessage(t, alice)
	for {
		el := r.mustNext()
		if stanza.KindOf(el) != stanza.KindMessage {
			continue
		}
		sent := el.Child(nsCarbons, "sent")
		if sent == nil || !strings.Contains(sent.String(), body) {
			t.Fatalf("expected a <sent/> carbon of %q, got %s", body, el)
		}
		return
	}
}
