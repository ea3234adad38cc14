package stream_test

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/fast"
	"github.com/parley-xmpp/parley/xmpp/sasl"
	smns "github.com/parley-xmpp/parley/xmpp/sm"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

// The test's two client addresses: A, the attacker's (the default
// source), and B, the user's. Linux routes all of 127/8 to loopback.
const (
	addrA = "127.0.0.1"
	addrB = "127.0.0.2"
)

// longDelays makes any throttle delay longer than the tests' I/O timeout:
// a login that is slowed down cannot complete in time, so a login that
// does was not slowed down. Two free failures per account and address,
// four per address.
func longDelays(c *config.Config) {
	c.Auth.FreeFailuresPerAccount = 2
	c.Auth.FreeFailuresPerAddress = 4
	c.Auth.FailureDelay = 15 * time.Second // half the preauth timeout: the most allowed
	c.Auth.MaxFailureDelay = 15 * time.Second
}

// dialRawFrom opens a TCP connection to the STARTTLS listener from the
// local address ip.
func dialRawFrom(t testing.TB, s *xmpptest.Server, ip string) *raw {
	t.Helper()
	d := net.Dialer{Timeout: ioTimeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	nc, err := d.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatalf("dial %s from %s: %v", s.Addr(), ip, err)
	}
	t.Cleanup(func() { nc.Close() })
	return &raw{t: t, s: s, nc: nc}
}

// tlsFrom dials from ip and negotiates TLS.
func tlsFrom(t testing.TB, s *xmpptest.Server, ip string) *raw {
	t.Helper()
	r := dialRawFrom(t, s, ip)
	r.open()
	r.startTLS(nil)
	return r
}

// expectSilence checks that the server sends nothing for d: the login
// in progress is being slowed down (it is not refused either).
func (r *raw) expectSilence(d time.Duration) {
	r.t.Helper()
	_ = r.nc.SetReadDeadline(time.Now().Add(d))
	el, err := r.dec.Next()
	var ne net.Error
	if err == nil || !errors.As(err, &ne) || !ne.Timeout() {
		r.t.Fatalf("expected the login to be held back, got %v %v", el, err)
	}
}

// failPassword makes one wrong-password login of user from ip with mech.
func failPassword(t *testing.T, s *xmpptest.Server, ip, mech, user string) {
	t.Helper()
	r := tlsFrom(t, s, ip)
	el := r.authenticate(mech, sasl.ClientConfig{Username: user, Password: "wrong"})
	expectFailure(t, el, sasl.NotAuthorized)
}

// A stranger hammering an account from one address neither locks nor
// slows its owner out from another: the failures count per account and
// address (and per address), and the user's login from address B
// succeeds at once, with every mechanism. From A the logins are slowed
// down, not refused.
func TestStrangerCannotLockOutUser(t *testing.T) {
	s, alice, bob := newServer(t, longDelays)
	carol := s.JID(t, "carol")
	// Two wrong passwords on the wire use the free failures...
	failPassword(t, s, addrA, sasl.ScramSHA256, "carol")
	failPassword(t, s, addrA, sasl.Plain, "carol")
	// ...and many more of the same kind follow (counted the same way,
	// without waiting out each delay).
	a := netip.MustParseAddr(addrA)
	for range 200 {
		s.App.Auth().Failed(carol, a)
	}
	// From A, carol's right password is slowed down, not refused.
	r := tlsFrom(t, s, addrA)
	r.send(stanza.New(nsSASL, "auth", "mechanism", sasl.Plain).AppendText(b64([]byte("\x00carol\x00pw"))))
	r.expectSilence(time.Second)

	// From B, carol logs in at once with every mechanism, and over SASL2.
	for _, m := range []string{sasl.ScramSHA256Plus, sasl.ScramSHA1Plus, sasl.ScramSHA256, sasl.ScramSHA1, sasl.Plain} {
		r := tlsFrom(t, s, addrB)
		r.login(m, "carol", "pw")
		r.bind("")
	}
	r2 := tlsFrom(t, s, addrB)
	if final, _ := r2.sasl2Login(r2.scram(sasl.ScramSHA256Plus, "carol", "pw"), nil); final.Name.Local != "success" {
		t.Fatalf("SASL2 login from B: %s", final)
	}
	alive(t, alice, bob)
}

// A successful login clears the account's failures from that address: a
// user who mistyped up to the limit and then logged in starts afresh.
func TestThrottleResetBySuccess(t *testing.T) {
	s, alice, bob := newServer(t, func(c *config.Config) {
		longDelays(c)
		c.Auth.FreeFailuresPerAddress = 100
	})
	for range 4 {
		r := tlsFrom(t, s, addrA)
		expectFailure(t, r.authenticate(sasl.ScramSHA256, sasl.ClientConfig{Username: "carol", Password: "wrong"}), sasl.NotAuthorized)
		// One failure, below the two free ones: the right password is
		// not delayed, and clears it. Without that reset, the third
		// round's login would follow two failures and be held back.
		r.login(sasl.ScramSHA256, "carol", "pw")
	}
	alive(t, alice, bob)
}

// Past the free failures a login is slowed down by the configured delay,
// and then succeeds: the throttle never refuses.
func TestThrottleSlowsDownNeverRefuses(t *testing.T) {
	const delay = 300 * time.Millisecond
	s, alice, bob := newServer(t, func(c *config.Config) {
		c.Auth.FreeFailuresPerAccount = 1
		c.Auth.FailureDelay = delay
		c.Auth.MaxFailureDelay = delay
	})
	failPassword(t, s, addrA, sasl.Plain, "carol")
	for _, m := range []string{sasl.Plain, sasl.ScramSHA256Plus} {
		r := tlsFrom(t, s, addrA)
		start := time.Now()
		el := r.authenticate(m, sasl.ClientConfig{Username: "carol", Password: "wrong"})
		expectFailure(t, el, sasl.NotAuthorized)
		if took := time.Since(start); took < delay/2 {
			// Attempts are spaced by the delay after the last failure.
			t.Fatalf("%s: a login past the free failures was answered after %v, before the %v delay", m, took, delay)
		}
	}
	r := tlsFrom(t, s, addrA)
	start := time.Now()
	r.login(sasl.ScramSHA256, "carol", "pw")
	if took := time.Since(start); took < delay/2 {
		t.Fatalf("the right password was answered after %v, before the %v delay", took, delay)
	}
	r.bind("")
	alive(t, alice, bob)
}

// Failures across accounts from one address slow every password login
// from it, but a client presenting a valid FAST token, or resuming its
// session inside SASL2, is never held up by them.
func TestThrottleSparesFASTAndResumption(t *testing.T) {
	s, alice, bob := newServer(t, longDelays)
	tok := fastToken(t, s, fast.HTSHA256None, testUAID)

	// A resumable session of carol loses its connection.
	r := dialRaw(t, s)
	full, final, _ := bind2Login(t, r, otherUAID, smns.Enable{Resume: true}.Element())
	en, err := smns.ParseEnabled(successChild(t, final, "urn:xmpp:bind:0", "bound").Child(nsSM, "enabled"))
	if err != nil || !en.Resume {
		t.Fatalf("inline <enabled/>: %+v %v", en, err)
	}
	c := newSMRaw(r)
	c.sendStanza(presenceEl())
	c.sync()
	c.cut()
	waitFor(t, "the session to be detached", func() bool {
		ss := s.App.Router().Sessions().Get(full)
		return ss != nil && ss.Detached()
	})

	// Address A fails a lot, for carol and for others.
	a := netip.MustParseAddr(addrA)
	for _, u := range []string{"carol", "dave", "erin", "nobody"} {
		for range 50 {
			s.App.Auth().Failed(s.JID(t, u), a)
		}
	}
	// A plain password login from A is held back (also for another
	// account: the per-address limit)...
	for _, u := range []string{"carol", "bob"} {
		held := tlsFrom(t, s, addrA)
		held.send(stanza.New(nsSASL, "auth", "mechanism", sasl.Plain).AppendText(b64([]byte("\x00" + u + "\x00pw"))))
		held.expectSilence(time.Second)
	}
	// ...but FAST from A goes through at once...
	if final := fastLogin(t, s, fast.HTSHA256None, tok.Token, testUAID, nil); final.Name.Local != "success" {
		t.Fatalf("FAST login after failures from its address: %s", final)
	}
	// ...and so does the resumption (with the password, inline).
	r2 := dialRawFrom(t, s, addrA)
	success, _ := sasl2Resume(t, r2, en.ID, c.h)
	if successChild(t, success, nsSM, "resumed") == nil {
		t.Fatalf("no <resumed/> in %s", success)
	}
	alive(t, alice, bob)
}

// Only a wrong password counts. A malformed exchange, an unsupported
// channel-binding type, a downgrade-detected 'y' flag, an unadvertised
// mechanism, a refused authzid, an abort: each gets its failure, with a
// text saying why, and none slows the account down, even far past the
// free failures.
func TestThrottleCountsOnlyWrongPasswords(t *testing.T) {
	s, alice, bob := newServer(t, func(c *config.Config) {
		longDelays(c)
		c.Auth.FreeFailuresPerAccount = 1
		c.Auth.FreeFailuresPerAddress = 1
	})
	cbTypesText := "tls-exporter, tls-server-end-point"
	type attempt struct {
		name       string
		mech       string
		first      string // client-first / initial response
		final      string // the response to the challenge, if any
		cond, text string
	}
	attempts := []attempt{
		{"unsupported channel binding", sasl.ScramSHA256Plus, "p=tls-unique,,n=carol,r=abcdefghijklmnop", "", sasl.InvalidMechanism,
			"channel binding type tls-unique is not supported; offered: " + cbTypesText},
		{"downgrade y flag", sasl.ScramSHA256, "y,,n=carol,r=abcdefghijklmnop", "", sasl.NotAuthorized,
			"channel binding downgrade detected: the client supports channel binding (gs2 flag y) and the server offers it with SCRAM-SHA-256-PLUS, SCRAM-SHA-1-PLUS (types: " + cbTypesText + ")"},
		{"unadvertised mechanism", "DIGEST-MD5", "x", "", sasl.InvalidMechanism, ""},
		{"malformed client-first", sasl.ScramSHA1, "n,,r=abc", "", sasl.MalformedRequest, ""},
		{"garbage final message", sasl.ScramSHA256, "n,,n=carol,r=abcdefghijklmnop", "garbage", sasl.MalformedRequest, ""},
		{"nonce not extended", sasl.ScramSHA256, "n,,n=carol,r=abcdefghijklmnop", "c=biws,r=other,p=" + base64.StdEncoding.EncodeToString(make([]byte, 32)), sasl.NotAuthorized, ""},
		{"malformed PLAIN", sasl.Plain, "carol", "", sasl.MalformedRequest, ""},
		{"abort", sasl.ScramSHA256, "n,,n=carol,r=abcdefghijklmnop", "abort", sasl.Aborted, ""},
	}
	for range 3 {
		for _, at := range attempts {
			r := tlsFrom(t, s, addrA)
			r.send(stanza.New(nsSASL, "auth", "mechanism", at.mech).AppendText(b64([]byte(at.first))))
			el := r.mustNext()
			if at.final != "" && el.Name.Local == "challenge" {
				if at.final == "abort" {
					r.send(stanza.New(nsSASL, "abort"))
				} else {
					r.send(stanza.New(nsSASL, "response").AppendText(b64([]byte(at.final))))
				}
				el = r.mustNext()
			}
			expectFailure(t, el, at.cond)
			if at.text != "" && failureText(el) != at.text {
				t.Errorf("%s: text %q, want %q", at.name, failureText(el), at.text)
			}
			if failureText(el) == "" {
				t.Errorf("%s: no <text/> in %s", at.name, el)
			}
		}
		// Refused authzid, with the right password.
		r := tlsFrom(t, s, addrA)
		el := r.authenticate(sasl.ScramSHA256, sasl.ClientConfig{Username: "carol", Password: "pw", Authzid: bob.JID().Bare().String()})
		expectFailure(t, el, sasl.InvalidAuthzid)
		if failureText(el) == "" {
			t.Errorf("refused authzid: no <text/>")
		}
	}
	// None of that counted: carol logs in from A at once.
	r := tlsFrom(t, s, addrA)
	r.login(sasl.ScramSHA256Plus, "carol", "pw")
	// One wrong password does count: the next attempt from A is held.
	failPassword(t, s, addrA, sasl.Plain, "carol")
	held := tlsFrom(t, s, addrA)
	held.send(stanza.New(nsSASL, "auth", "mechanism", sasl.Plain).AppendText(b64([]byte("\x00carol\x00pw"))))
	held.expectSilence(time.Second)
	alive(t, alice, bob)
}

// slixmppLogin does what slixmpp 1.8.3 does with its default settings on
// a Parley stream: it picks the offered mechanism it scores highest, and
// on each <failure/> the next one, on the same stream. Its SCRAM always
// sends 'p=tls-unique' for -PLUS and, having channel-binding data (Python
// returns tls-unique data even on TLS 1.3), 'y' for the others. It
// returns the mechanisms tried, in order.
func slixmppLogin(t *testing.T, r *raw, user, password string) []string {
	t.Helper()
	order := []string{sasl.ScramSHA512Plus, sasl.ScramSHA256Plus, sasl.ScramSHA1Plus, sasl.ScramSHA512, sasl.ScramSHA256, sasl.ScramSHA1, sasl.Plain}
	offered := mechanisms(r.features)
	var tried []string
	for _, m := range order {
		if !slices.Contains(offered, m) {
			continue
		}
		tried = append(tried, m)
		var initial string
		switch {
		case m == sasl.Plain:
			initial = "\x00" + user + "\x00" + password
		case strings.HasSuffix(m, "-PLUS"):
			initial = "p=tls-unique,,n=" + user + ",r=slixmppnonce0123456789"
		default:
			initial = "y,,n=" + user + ",r=slixmppnonce0123456789"
		}
		r.send(stanza.New(nsSASL, "auth", "mechanism", m).AppendText(b64([]byte(initial))))
		el := r.mustNext()
		switch el.Name.Local {
		case "success":
			if m != sasl.Plain {
				t.Fatalf("%s succeeded with a flag the server must refuse", m)
			}
			r.open()
			return tried
		case "failure":
			if failureText(el) == "" {
				t.Errorf("%s: failure without a <text/>: %s", m, el)
			}
			if failureCondition(el) == sasl.TemporaryAuthFailure {
				t.Fatalf("%s: %s", m, el)
			}
		default:
			t.Fatalf("%s: unexpected %s", m, el)
		}
	}
	t.Fatalf("slixmpp-like login of %s failed after %v", user, tried)
	return nil
}

// slixmpp 1.8.3 (Debian 12) with its default settings logs in, five times
// in a row, against a server with the default configuration: it walks
// down the mechanism list (SCRAM-SHA-256-PLUS and SCRAM-SHA-1-PLUS with
// tls-unique, then SCRAM-SHA-256 and SCRAM-SHA-1 with the 'y' flag, all
// refused with a reason) to PLAIN, on one stream, and none of the
// refusals counts against the account or the address.
func TestSlixmppDefaultMechanismFallback(t *testing.T) {
	s, alice, bob := newServer(t)
	for i := range 5 {
		r := dialRaw(t, s)
		r.open()
		r.startTLS(nil)
		tried := slixmppLogin(t, r, "carol", "pw")
		want := []string{sasl.ScramSHA256Plus, sasl.ScramSHA1Plus, sasl.ScramSHA256, sasl.ScramSHA1, sasl.Plain}
		if strings.Join(tried, " ") != strings.Join(want, " ") {
			t.Fatalf("login %d tried %v, want %v", i+1, tried, want)
		}
		r.bind("")
	}
	alive(t, alice, bob)
}

// RFC 6120 §4.7.1: the stream header's 'from' is a hint at most. A client
// sending its machine's host name (Perl's XML::Stream, used by sendxmpp,
// sends from='localhost') or another account's JID logs in all the same,
// with and without an authzid, and the attempts are not failures.
func TestStreamFromIsNotAuthorization(t *testing.T) {
	s, alice, bob := newServer(t, func(c *config.Config) {
		longDelays(c)
		c.Auth.FreeFailuresPerAccount = 1
	})
	for _, from := range []string{"localhost", bob.JID().Bare().String(), "other@elsewhere.example/res"} {
		for _, authzid := range []string{"", s.JID(t, "carol").String()} {
			for _, m := range []string{sasl.Plain, sasl.ScramSHA256} {
				r := dialRaw(t, s)
				r.write(strings.Replace(r.streamHeader(), "<stream:stream", "<stream:stream from='"+from+"'", 1))
				r.readHeader()
				r.features = r.mustNext()
				r.send(stanza.New(nsTLS, "starttls"))
				if el := r.mustNext(); el.Name.Local != "proceed" {
					t.Fatal(el)
				}
				tcn := tls.Client(r.nc, r.s.TLSConfig())
				ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
				if err := tcn.HandshakeContext(ctx); err != nil {
					t.Fatal(err)
				}
				cancel()
				r.nc, r.tls = tcn, tcn
				r.write(strings.Replace(r.streamHeader(), "<stream:stream", "<stream:stream from='"+from+"'", 1))
				r.readHeader()
				r.features = r.mustNext()
				el := r.authenticate(m, sasl.ClientConfig{Username: "carol", Password: "pw", Authzid: authzid})
				if el.Name.Local != "success" {
					t.Fatalf("from=%q authzid=%q %s: %s", from, authzid, m, el)
				}
			}
		}
	}
	alive(t, alice, bob)
}
