package stream_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/sasl"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// RFC 6120 §4.9.3.12: stanzas before the stream is authenticated (and a
// resource bound) are refused with <not-authorized/>.
func TestStanzaBeforeAuthentication(t *testing.T) {
	s, alice, bob := newServer(t)
	msg := "<message to='" + bob.JID().String() + "' type='chat'><body>early</body></message>"
	t.Run("before TLS", func(t *testing.T) {
		r := dialRaw(t, s)
		r.open()
		r.write(msg)
		r.expectStreamError(stream.NotAuthorized)
	})
	t.Run("after TLS", func(t *testing.T) {
		r := dialRaw(t, s)
		r.open()
		r.startTLS(nil)
		r.write(msg)
		r.expectStreamError(stream.NotAuthorized)
	})
	t.Run("iq after TLS", func(t *testing.T) {
		r := dialRaw(t, s)
		r.open()
		r.startTLS(nil)
		r.send(stanza.NewIQ(stanza.TypeGet, "early", s.Domain(), stanza.New(nsPing, "ping")))
		r.expectStreamError(stream.NotAuthorized)
	})
	t.Run("after SASL before bind", func(t *testing.T) {
		r := authedRaw(t, s, "carol", "pw")
		r.write(msg)
		r.expectStreamError(stream.NotAuthorized)
	})
	alive(t, alice, bob)
}

// RFC 6120 §5.3.3 / CVE-2011-0411: data pipelined after <starttls/> in the
// same write is never processed, neither in the clear nor as if it had
// been sent over TLS.
func TestSTARTTLSInjection(t *testing.T) {
	s, alice, bob := newServer(t)
	r := dialRaw(t, s)
	r.open()
	injected := "<iq type='set' id='inj'><bind xmlns='" + nsBind + "'/></iq>" +
		"<message to='" + bob.JID().String() + "' type='chat'><body>injected</body></message>"
	r.write("<starttls xmlns='" + nsTLS + "'/>" + injected)
	r.expectStreamError(stream.PolicyViolation) // and no <proceed/> before it
	alive(t, alice, bob)                        // bob's next message is not the injected one
}

// RFC 6120 §6.4.5 and §6.5: SASL failures and their exact conditions.
func TestSASLFailures(t *testing.T) {
	// Throttling is tested on its own below.
	s, alice, bob := newServer(t, func(c *config.Config) { c.Auth.MaxFailureDelay = 0 })

	t.Run("unadvertised mechanism", func(t *testing.T) {
		r := dialRaw(t, s)
		r.open()
		offered := mechanisms(r.startTLS(nil))
		// The stream allows at least one failure per mechanism offered
		// (a client may try them all), then ends.
		names := []string{"DIGEST-MD5", "X-OAUTH2", "ANONYMOUS", "EXTERNAL", "CRAM-MD5", "LOGIN", "GSSAPI", "NTLM", "OTP", "SKEY", "X-A", "X-B", "X-C", "X-D", "X-E"}
		for i, m := range names {
			r.send(stanza.New(nsSASL, "auth", "mechanism", m).AppendText("="))
			el, err := r.next()
			if err != nil {
				t.Fatalf("failure %d: %v", i+1, err)
			}
			if se := stream.ParseStreamError(el); se != nil {
				if se.Condition != stream.PolicyViolation || i < len(offered) {
					t.Fatalf("stream ended after %d failures with %v; %d mechanisms offered", i, se, len(offered))
				}
				return
			}
			expectFailure(t, el, sasl.InvalidMechanism)
			if want := "mechanism " + m + " is not offered; offered: " + strings.Join(offered, ", "); failureText(el) != want {
				t.Fatalf("text %q, want %q", failureText(el), want)
			}
		}
		t.Fatalf("%d failures and the stream goes on", len(names))
	})

	t.Run("authzid of another user", func(t *testing.T) {
		r := dialRaw(t, s)
		r.open()
		r.startTLS(nil)
		el := r.authenticate(sasl.Plain, sasl.ClientConfig{Username: "carol", Password: "pw", Authzid: bob.JID().Bare().String()})
		expectFailure(t, el, sasl.InvalidAuthzid)
		// Naming oneself is fine.
		el = r.authenticate(sasl.Plain, sasl.ClientConfig{Username: "carol", Password: "pw", Authzid: s.JID(t, "carol").String()})
		if el.Name.Local != "success" {
			t.Fatalf("authzid of oneself: %s", el)
		}
	})

	t.Run("authzid of another user with SCRAM", func(t *testing.T) {
		r := dialRaw(t, s)
		r.open()
		r.startTLS(nil)
		el := r.authenticate(sasl.ScramSHA256, sasl.ClientConfig{Username: "carol", Password: "pw", Authzid: bob.JID().Bare().String()})
		expectFailure(t, el, sasl.InvalidAuthzid)
	})

	t.Run("SCRAM nonce not extending the client nonce", func(t *testing.T) {
		for _, m := range []string{sasl.ScramSHA1, sasl.ScramSHA256} {
			h, _ := sasl.HashOf(m)
			r := dialRaw(t, s)
			r.open()
			r.startTLS(nil)
			const cnonce = "clientNonce0123456789"
			r.send(stanza.New(nsSASL, "auth", "mechanism", m).AppendText(b64([]byte("n,,n=carol,r=" + cnonce))))
			ch := r.mustNext()
			if ch.Name.Local != "challenge" {
				t.Fatalf("%s: %s", m, ch)
			}
			first, _ := base64.StdEncoding.DecodeString(ch.Text())
			var snonce string
			for _, f := range strings.Split(string(first), ",") {
				if v, ok := strings.CutPrefix(f, "r="); ok {
					snonce = v
				}
			}
			if !strings.HasPrefix(snonce, cnonce) || len(snonce) <= len(cnonce) {
				t.Fatalf("%s: server nonce %q does not extend the client nonce", m, snonce)
			}
			// Keep the server's part but change the client's: a replayed
			// or spliced exchange.
			bad := "otherNonce9876543210" + snonce[len(cnonce):]
			proof := base64.StdEncoding.EncodeToString(make([]byte, h.Size()))
			r.send(stanza.New(nsSASL, "response").AppendText(b64([]byte("c=biws,r=" + bad + ",p=" + proof))))
			expectFailure(t, r.mustNext(), sasl.NotAuthorized)
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		for _, m := range []string{sasl.Plain, sasl.ScramSHA1, sasl.ScramSHA256, sasl.ScramSHA256Plus} {
			r := dialRaw(t, s)
			r.open()
			r.startTLS(nil)
			expectFailure(t, r.authenticate(m, sasl.ClientConfig{Username: "carol", Password: "wrong"}), sasl.NotAuthorized)
			// Unknown users fail the same way.
			el := r.authenticate(m, sasl.ClientConfig{Username: "nobody", Password: "pw"})
			expectFailure(t, el, sasl.NotAuthorized)
			if got := failureText(el); got != "wrong username or password" {
				t.Fatalf("%s: text %q", m, got)
			}
			// The same stream may go on trying, up to its limit.
			for i := 0; ; i++ {
				r.send(stanza.New(nsSASL, "auth", "mechanism", sasl.Plain).AppendText(b64([]byte("\x00carol\x00wrong"))))
				el, err := r.next()
				if err != nil {
					t.Fatal(err)
				}
				if se := stream.ParseStreamError(el); se != nil {
					if se.Condition != stream.PolicyViolation || i+2 < len(mechanisms(r.features)) {
						t.Fatalf("%s: stream ended after %d failures with %v", m, i+2, se)
					}
					break
				}
				expectFailure(t, el, sasl.NotAuthorized)
				if i > 20 {
					t.Fatalf("%s: %d failures and the stream goes on", m, i+2)
				}
			}
		}
	})

	t.Run("bad base64", func(t *testing.T) {
		r := dialRaw(t, s)
		r.open()
		r.startTLS(nil)
		r.send(stanza.New(nsSASL, "auth", "mechanism", sasl.Plain).AppendText("!!!not base64"))
		expectFailure(t, r.mustNext(), sasl.IncorrectEncoding)
	})

	t.Run("abort", func(t *testing.T) {
		r := dialRaw(t, s)
		r.open()
		r.startTLS(nil)
		r.send(stanza.New(nsSASL, "auth", "mechanism", sasl.ScramSHA256).AppendText(b64([]byte("n,,n=carol,r=abcdefghijklmnop"))))
		if el := r.mustNext(); el.Name.Local != "challenge" {
			t.Fatal(el)
		}
		r.send(stanza.New(nsSASL, "abort"))
		expectFailure(t, r.mustNext(), sasl.Aborted)
		r.login(sasl.ScramSHA256, "carol", "pw")
		r.bind("")
	})
	alive(t, alice, bob)
}

// Before authentication top-level elements are limited to
// preauth_stanza_bytes (8 KiB by default).
func TestPreauthElementSize(t *testing.T) {
	s, alice, bob := newServer(t)
	big := "<auth xmlns='" + nsSASL + "' mechanism='PLAIN'>" + strings.Repeat("A", 9<<10) + "</auth>"
	t.Run("before TLS", func(t *testing.T) {
		r := dialRaw(t, s)
		r.open()
		r.writeLenient(big)
		r.expectStreamError(stream.PolicyViolation)
	})
	t.Run("after TLS", func(t *testing.T) {
		r := dialRaw(t, s)
		r.open()
		r.startTLS(nil)
		r.writeLenient(big)
		r.expectStreamError(stream.PolicyViolation)
	})
	t.Run("SASL response", func(t *testing.T) {
		r := dialRaw(t, s)
		r.open()
		r.startTLS(nil)
		r.send(stanza.New(nsSASL, "auth", "mechanism", sasl.ScramSHA256).AppendText(b64([]byte("n,,n=carol,r=abcdefghijklmnop"))))
		if el := r.mustNext(); el.Name.Local != "challenge" {
			t.Fatal(el)
		}
		r.writeLenient("<response xmlns='" + nsSASL + "'>" + strings.Repeat("A", 9<<10) + "</response>")
		r.expectStreamError(stream.PolicyViolation)
	})
	t.Run("before bind", func(t *testing.T) {
		r := authedRaw(t, s, "carol", "pw")
		r.writeLenient("<iq type='set' id='b'><bind xmlns='" + nsBind + "'><resource>" + strings.Repeat("r", 9<<10) + "</resource></bind></iq>")
		r.expectStreamError(stream.PolicyViolation)
	})
	t.Run("many elements", func(t *testing.T) {
		r := dialRaw(t, s)
		r.open()
		r.startTLS(nil)
		r.writeLenient("<auth xmlns='" + nsSASL + "' mechanism='PLAIN'>" + strings.Repeat("<x/>", 100) + "</auth>")
		r.expectStreamError(stream.PolicyViolation)
	})
	t.Run("deep", func(t *testing.T) {
		r := dialRaw(t, s)
		r.open()
		r.writeLenient("<starttls xmlns='" + nsTLS + "'>" + strings.Repeat("<x>", 20) + strings.Repeat("</x>", 20) + "</starttls>")
		r.expectStreamError(stream.PolicyViolation)
	})
	alive(t, alice, bob)
}

// A disabled account is refused with <account-disabled/> by every
// mechanism once the password is proven (SCRAM reads the flag with the
// keys, PLAIN asks for it), never before; re-enabled, it logs in.
func TestDisabledAccount(t *testing.T) {
	s, alice, bob := newServer(t, func(c *config.Config) {
		c.Auth.MaxFailureDelay = 0 // the wrong passwords below
	})
	mechs := []string{sasl.Plain, sasl.ScramSHA1, sasl.ScramSHA256, sasl.ScramSHA256Plus}
	try := func(mech, password string) *stanza.Element {
		r := dialRaw(t, s)
		r.open()
		r.startTLS(nil)
		return r.authenticate(mech, sasl.ClientConfig{Username: "carol", Password: password})
	}
	if err := s.App.Auth().SetDisabled(t.Context(), jid.MustParse("carol@"+s.Domain()), true); err != nil {
		t.Fatal(err)
	}
	for _, m := range mechs {
		expectFailure(t, try(m, "pw"), sasl.AccountDisabled)
		expectFailure(t, try(m, "wrong"), sasl.NotAuthorized)
	}
	if err := s.App.Auth().SetDisabled(t.Context(), jid.MustParse("carol@"+s.Domain()), false); err != nil {
		t.Fatal(err)
	}
	for _, m := range mechs {
		if el := try(m, "pw"); el.Name.Local != "success" {
			t.Errorf("%s login after re-enabling: %s", m, el)
		}
	}
	alive(t, alice, bob)
}
