package stream_test

import (
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/fast"
	"github.com/parley-xmpp/parley/xmpp/sasl"
	"github.com/parley-xmpp/parley/xmpp/sasl2"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

// fastToken logs carol in with SCRAM on a new connection, requesting a
// token for mech as client uaID, and returns it.
func fastToken(t *testing.T, s *xmpptest.Server, mech, uaID string) fast.Token {
	t.Helper()
	r := dialRaw(t, s)
	r.open()
	r.startTLS(nil)
	final, _ := r.sasl2Login(r.scram(sasl.ScramSHA256Plus, "carol", "pw"), &sasl2.UserAgent{ID: uaID}, fast.RequestToken(mech))
	if final.Name.Local != "success" {
		t.Fatalf("token request: %s", final)
	}
	el := successChild(t, final, fast.NS, "token")
	if el == nil {
		t.Fatalf("no <token/> in %s", final)
	}
	tok, err := fast.ParseToken(el)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// fastLogin logs carol in with a token on a new connection and returns
// the server's final element (the success is verified with the server's
// proof).
func fastLogin(t *testing.T, s *xmpptest.Server, mech, token, uaID string, auth *fast.Auth) *stanza.Element {
	t.Helper()
	r := dialRaw(t, s)
	r.open()
	r.startTLS(nil)
	m, err := fast.NewClient(mech, "carol", token, r.channelBindings())
	if err != nil {
		t.Fatal(err)
	}
	if auth == nil {
		auth = &fast.Auth{}
	}
	var ua *sasl2.UserAgent
	if uaID != "" {
		ua = &sasl2.UserAgent{ID: uaID}
	}
	final, _ := r.sasl2Login(m, ua, auth.Element())
	return final
}

func expectFASTFailure(t *testing.T, final *stanza.Element, want string) {
	t.Helper()
	if c := sasl2Condition(t, final); c != want {
		t.Fatalf("token login: condition %s, want %s", c, want)
	}
}

// XEP-0484 §4: a token requested with a password login authenticates
// later logins in one round trip, only for the client and the mechanism
// it was issued to.
func TestFASTLogin(t *testing.T) {
	s, alice, bob := newServer(t, func(c *config.Config) { c.Auth.MaxFailureDelay = 0 })
	before := time.Now()
	tok := fastToken(t, s, fast.HTSHA256None, testUAID)
	if len(tok.Token) < 65 || tok.Expiry.Before(before.Add(13*24*time.Hour)) || tok.Expiry.After(before.Add(15*24*time.Hour)) {
		t.Fatalf("token %d bytes, expiry %s", len(tok.Token), tok.Expiry)
	}
	if final := fastLogin(t, s, fast.HTSHA256None, tok.Token, testUAID, nil); final.Name.Local != "success" {
		t.Fatalf("token login: %s", final)
	} else if authID(t, final) != s.JID(t, "carol") {
		t.Fatalf("token login as %s", authID(t, final))
	}
	t.Run("another client", func(t *testing.T) {
		expectFASTFailure(t, fastLogin(t, s, fast.HTSHA256None, tok.Token, otherUAID, nil), sasl.NotAuthorized)
	})
	t.Run("no user agent", func(t *testing.T) {
		expectFASTFailure(t, fastLogin(t, s, fast.HTSHA256None, tok.Token, "", nil), sasl.NotAuthorized)
	})
	t.Run("another mechanism", func(t *testing.T) {
		expectFASTFailure(t, fastLogin(t, s, fast.HTSHA256Expr, tok.Token, testUAID, nil), sasl.NotAuthorized)
	})
	t.Run("wrong token", func(t *testing.T) {
		forged, _ := fast.NewToken()
		expectFASTFailure(t, fastLogin(t, s, fast.HTSHA256None, forged, testUAID, nil), sasl.NotAuthorized)
	})
	t.Run("channel binding", func(t *testing.T) {
		bound := fastToken(t, s, fast.HTSHA256Expr, otherUAID)
		if final := fastLogin(t, s, fast.HTSHA256Expr, bound.Token, otherUAID, nil); final.Name.Local != "success" {
			t.Fatalf("HT-SHA-256-EXPR login: %s", final)
		}
		expectFASTFailure(t, fastLogin(t, s, fast.HTSHA256None, bound.Token, otherUAID, nil), sasl.NotAuthorized)
	})
	t.Run("replayed count", func(t *testing.T) {
		tk := fastToken(t, s, fast.HTSHA256None, testUAID)
		if final := fastLogin(t, s, fast.HTSHA256None, tk.Token, testUAID, &fast.Auth{Count: 5, HasCount: true}); final.Name.Local != "success" {
			t.Fatalf("count 5: %s", final)
		}
		expectFASTFailure(t, fastLogin(t, s, fast.HTSHA256None, tk.Token, testUAID, &fast.Auth{Count: 5, HasCount: true}), sasl.NotAuthorized)
		expectFASTFailure(t, fastLogin(t, s, fast.HTSHA256None, tk.Token, testUAID, &fast.Auth{Count: 3, HasCount: true}), sasl.NotAuthorized)
		if final := fastLogin(t, s, fast.HTSHA256None, tk.Token, testUAID, &fast.Auth{Count: 6, HasCount: true}); final.Name.Local != "success" {
			t.Fatalf("count 6: %s", final)
		}
	})
	t.Run("invalidate", func(t *testing.T) {
		tk := fastToken(t, s, fast.HTSHA256None, testUAID)
		final := fastLogin(t, s, fast.HTSHA256None, tk.Token, testUAID, &fast.Auth{Invalidate: true})
		if final.Name.Local != "success" || successChild(t, final, fast.NS, "token") != nil {
			t.Fatalf("invalidating login: %s", final)
		}
		expectFASTFailure(t, fastLogin(t, s, fast.HTSHA256None, tk.Token, testUAID, nil), sasl.NotAuthorized)
	})
	t.Run("password change revokes", func(t *testing.T) {
		tk := fastToken(t, s, fast.HTSHA256None, testUAID)
		if err := s.App.Auth().SetPassword(t.Context(), s.JID(t, "carol"), "pw"); err != nil {
			t.Fatal(err)
		}
		expectFASTFailure(t, fastLogin(t, s, fast.HTSHA256None, tk.Token, testUAID, nil), sasl.NotAuthorized)
	})
	t.Run("malformed fast element", func(t *testing.T) {
		tk := fastToken(t, s, fast.HTSHA256None, testUAID)
		r := dialRaw(t, s)
		r.open()
		r.startTLS(nil)
		m, _ := fast.NewClient(fast.HTSHA256None, "carol", tk.Token, nil)
		initial, _ := m.Start()
		r.send(sasl2.Authenticate{Mechanism: fast.HTSHA256None, Initial: initial, HasInitial: true, UserAgent: &sasl2.UserAgent{ID: testUAID},
			Extensions: []*stanza.Element{stanza.New(fast.NS, "fast", "count", "zero")}}.Element())
		expectFASTFailure(t, r.mustNext(), sasl.MalformedRequest)
	})
	alive(t, alice, bob)
}

// XEP-0484 §4.5 and §7: a token used late in its life is rotated; the old
// one keeps working until the new one is used; expired tokens fail with
// <credentials-expired/>.
func TestFASTRotationAndExpiry(t *testing.T) {
	s, _, _ := newServer(t, func(c *config.Config) {
		c.Auth.FastTokenLifetime = 4 * time.Second
		c.Auth.MaxFailureDelay = 0
	})
	old := fastToken(t, s, fast.HTSHA256None, testUAID)
	final := fastLogin(t, s, fast.HTSHA256None, old.Token, testUAID, nil)
	if final.Name.Local != "success" || successChild(t, final, fast.NS, "token") != nil {
		t.Fatalf("early use rotated the token: %s", final)
	}
	time.Sleep(time.Until(old.Expiry.Add(-1500 * time.Millisecond)))
	final = fastLogin(t, s, fast.HTSHA256None, old.Token, testUAID, nil)
	el := successChild(t, final, fast.NS, "token")
	if final.Name.Local != "success" || el == nil {
		t.Fatalf("late use did not rotate the token: %s", final)
	}
	rotated, err := fast.ParseToken(el)
	if err != nil || rotated.Token == old.Token || !rotated.Expiry.After(old.Expiry) {
		t.Fatalf("rotated token %+v %v", rotated, err)
	}
	// The old token still works until a new one is used (the client may
	// have missed the new one); this login rotates again, and the token
	// issued before, never used, is replaced (§4.5).
	final = fastLogin(t, s, fast.HTSHA256None, old.Token, testUAID, nil)
	el = successChild(t, final, fast.NS, "token")
	if final.Name.Local != "success" || el == nil {
		t.Fatalf("old token before the new one was used: %s", final)
	}
	unused := rotated
	if rotated, err = fast.ParseToken(el); err != nil {
		t.Fatal(err)
	}
	expectFASTFailure(t, fastLogin(t, s, fast.HTSHA256None, unused.Token, testUAID, nil), sasl.NotAuthorized)
	if final := fastLogin(t, s, fast.HTSHA256None, rotated.Token, testUAID, nil); final.Name.Local != "success" {
		t.Fatalf("rotated token: %s", final)
	}
	// Using the new token revokes the old one.
	expectFASTFailure(t, fastLogin(t, s, fast.HTSHA256None, old.Token, testUAID, nil), sasl.NotAuthorized)
	time.Sleep(time.Until(rotated.Expiry.Add(100 * time.Millisecond)))
	expectFASTFailure(t, fastLogin(t, s, fast.HTSHA256None, rotated.Token, testUAID, nil), sasl.CredentialsExpired)
}

// FAST is off when its lifetime is 0: no inline feature, and token
// mechanisms are not advertised mechanisms.
func TestFASTDisabled(t *testing.T) {
	s, _, _ := newServer(t, func(c *config.Config) { c.Auth.FastTokenLifetime = 0 })
	r := dialRaw(t, s)
	r.open()
	f := r.startTLS(nil)
	if sasl2Feature(t, f).InlineFeature(fast.NS, "fast") != nil {
		t.Fatalf("FAST offered although disabled: %s", f)
	}
	final, _ := r.sasl2Login(r.scram(sasl.ScramSHA256, "carol", "pw"), &sasl2.UserAgent{ID: testUAID}, fast.RequestToken(fast.HTSHA256None))
	if final.Name.Local != "success" || successChild(t, final, fast.NS, "token") != nil {
		t.Fatalf("token issued although FAST is disabled: %s", final)
	}
	r2 := dialRaw(t, s)
	r2.open()
	r2.startTLS(nil)
	m, _ := fast.NewClient(fast.HTSHA256None, "carol", "x", nil)
	initial, _ := m.Start()
	r2.send(sasl2.Authenticate{Mechanism: fast.HTSHA256None, Initial: initial, HasInitial: true, UserAgent: &sasl2.UserAgent{ID: testUAID}}.Element())
	expectFASTFailure(t, r2.mustNext(), sasl.InvalidMechanism)
}
