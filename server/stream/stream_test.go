package stream_test

import (
	"crypto/tls"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/sasl"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
	"github.com/parley-xmpp/parley/xmpptest"
)

// RFC 6120 §5.3.1, §6.3.3, §7.2 and XEP-0440: the features offered at each
// step of the negotiation.
func TestFeaturesAtEachStep(t *testing.T) {
	s, alice, bob := newServer(t)
	r := dialRaw(t, s)

	f := r.open()
	st := f.Child(nsTLS, "starttls")
	if st == nil || st.Child(nsTLS, "required") == nil {
		t.Fatalf("before TLS: want <starttls><required/></starttls>, got %s", f)
	}
	if len(f.Elements()) != 1 {
		t.Errorf("before TLS: only STARTTLS may be offered, got %s", f)
	}
	if m := mechanisms(f); m != nil {
		t.Errorf("SASL mechanisms offered before TLS: %v", m)
	}

	f = r.startTLS(&tls.Config{RootCAs: s.TLSConfig().RootCAs, ServerName: s.Domain(), MinVersion: tls.VersionTLS13})
	if f.Child(nsTLS, "starttls") != nil {
		t.Errorf("STARTTLS offered again over TLS: %s", f)
	}
	wantMechs := []string{sasl.ScramSHA256Plus, sasl.ScramSHA1Plus, sasl.ScramSHA256, sasl.ScramSHA1, sasl.Plain}
	if got := mechanisms(f); !slices.Equal(got, wantMechs) {
		t.Errorf("mechanisms over TLS 1.3: %v, want %v", got, wantMechs)
	}
	if got := sortedCopy(cbTypes(f)); !slices.Equal(got, []string{sasl.TLSExporter, sasl.TLSServerEndPoint}) {
		t.Errorf("XEP-0440 channel-binding types: %v, want tls-exporter and tls-server-end-point (%s)", got, f)
	}
	if f.Child(nsBind, "bind") != nil {
		t.Errorf("bind offered before authentication: %s", f)
	}

	f = r.login(sasl.ScramSHA256, "carol", "pw")
	if f.Child(nsBind, "bind") == nil {
		t.Errorf("after SASL: no <bind/>: %s", f)
	}
	if sess := f.Child(nsSession, "session"); sess == nil || sess.Child(nsSession, "optional") == nil {
		t.Errorf("after SASL: want <session><optional/></session>, got %s", f)
	}
	if f.Child(nsSASL, "mechanisms") != nil || f.Child(nsTLS, "starttls") != nil {
		t.Errorf("after SASL: TLS or SASL offered again: %s", f)
	}
	if got := r.bind("laptop"); got.String() != "carol@"+s.Domain()+"/laptop" {
		t.Errorf("bound %s", got)
	}
	alive(t, alice, bob)
}

// PLAIN is only advertised when allowed; an attempt when it is not is an
// unadvertised mechanism.
func TestPlainDisabled(t *testing.T) {
	s, alice, bob := newServer(t, func(c *config.Config) { c.Auth.AllowPlain = false })
	r := dialRaw(t, s)
	r.open()
	f := r.startTLS(nil)
	if slices.Contains(mechanisms(f), sasl.Plain) {
		t.Fatalf("PLAIN advertised although disabled: %v", mechanisms(f))
	}
	el := r.authenticate(sasl.Plain, sasl.ClientConfig{Username: "carol", Password: "pw"})
	expectFailure(t, el, sasl.InvalidMechanism)
	// The stream stays usable: SCRAM still works on it.
	r.login(sasl.ScramSHA1, "carol", "pw")
	r.bind("")
	alive(t, alice, bob)
}

// SASL before TLS is refused (RFC 6120 §5.3.1: STARTTLS is mandatory-to-negotiate here).
func TestAuthBeforeTLS(t *testing.T) {
	s, alice, bob := newServer(t)
	r := dialRaw(t, s)
	r.open()
	r.send(stanza.New(nsSASL, "auth", "mechanism", sasl.Plain).AppendText(b64([]byte("\x00carol\x00pw"))))
	expectFailure(t, r.mustNext(), sasl.EncryptionRequired)
	r.expectStreamError(stream.PolicyViolation)
	alive(t, alice, bob)
}

// RFC 6120 §4.7 and §4.9.3: errors in the initial stream header.
func TestStreamHeaderErrors(t *testing.T) {
	s, alice, bob := newServer(t)
	d := s.Domain()
	tests := []struct {
		name   string
		header string
		want   stream.Condition
	}{
		{"unknown domain", "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.net' version='1.0'>", stream.HostUnknown},
		{"no to", "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>", stream.HostUnknown},
		{"to is a user", "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='alice@" + d + "' version='1.0'>", stream.HostUnknown},
		{"wrong stream namespace", "<stream:stream xmlns='jabber:client' xmlns:stream='http://example.com/streams' to='" + d + "' version='1.0'>", stream.InvalidNamespace},
		{"server namespace", "<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' to='" + d + "' version='1.0'>", stream.InvalidNamespace},
		{"no content namespace", "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' to='" + d + "' version='1.0'>", stream.InvalidNamespace},
		{"no version", "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='" + d + "'>", stream.UnsupportedVersion},
		{"version 0.9", "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='" + d + "' version='0.9'>", stream.UnsupportedVersion},
		{"version garbage", "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='" + d + "' version='x.y'>", stream.UnsupportedVersion},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := dialRaw(t, s)
			r.write("<?xml version='1.0'?>" + tc.header)
			r.expectHeaderError(tc.want)
			alive(t, alice, bob)
		})
	}

	// XMPP is XML 1.0 (RFC 6120 §11): a 1.1 declaration is refused,
	// before and after TLS.
	xml11 := "<?xml version='1.1'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='" + d + "' version='1.0'>"
	t.Run("XML 1.1", func(t *testing.T) {
		r := dialRaw(t, s)
		r.write(xml11)
		r.expectHeaderError(stream.NotWellFormed)
		alive(t, alice, bob)
	})
	t.Run("XML 1.1 after TLS", func(t *testing.T) {
		r := dialRaw(t, s)
		r.open()
		r.send(stanza.New(nsTLS, "starttls"))
		if el := r.mustNext(); el.Name.Local != "proceed" {
			t.Fatalf("got %s", el)
		}
		tc := tls.Client(r.nc, s.TLSConfig())
		if err := tc.HandshakeContext(xmpptest.Context(t, ioTimeout)); err != nil {
			t.Fatal(err)
		}
		r.nc, r.tls = tc, tc
		r.write(xml11)
		r.expectHeaderError(stream.NotWellFormed)
	})

	// A stream restart must not switch domains.
	t.Run("domain change after TLS", func(t *testing.T) {
		r := dialRaw(t, s)
		r.open()
		r.send(stanza.New(nsTLS, "starttls"))
		if el := r.mustNext(); el.Name.Local != "proceed" {
			t.Fatalf("got %s", el)
		}
		tc := tls.Client(r.nc, s.TLSConfig())
		if err := tc.HandshakeContext(xmpptest.Context(t, ioTimeout)); err != nil {
			t.Fatal(err)
		}
		r.nc, r.tls = tc, tc
		r.write("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.org' version='1.0'>")
		r.expectHeaderError(stream.HostUnknown)
		alive(t, alice, bob)
	})
}

// RFC 6120 §4.6.1: whitespace keepalives between stanzas are accepted.
func TestWhitespaceKeepalive(t *testing.T) {
	s, alice, bob := newServer(t)
	r := loginRaw(t, s, "carol", "pw", "ws")
	for range 5 {
		r.write(" \n\t\r\n ")
	}
	body := unique("ws")
	r.write("  \n" + string(stanza.NewMessage(stanza.TypeChat, bob.JID().String(), body).AppendXML(nil, stanza.NSClient)) + "\n \n")
	m := nextMessage(t, bob)
	if m.ChildText(stanza.NSClient, "body") != body || m.From() != r.full.String() {
		t.Fatalf("bob received %s", m)
	}
	r.write("\n")
	r.send(stanza.NewIQ(stanza.TypeGet, "p1", s.Domain(), stanza.New(nsPing, "ping")))
	if el := r.mustNext(); el.ID() != "p1" || el.Type() != stanza.TypeResult {
		t.Fatalf("ping answer after keepalives: %s", el)
	}
	alive(t, alice, bob)
}

// RFC 6120 §4.4: the server answers the client's closing tag with its own
// and closes the connection.
func TestClosingHandshake(t *testing.T) {
	s, alice, bob := newServer(t)

	t.Run("bound", func(t *testing.T) {
		r := loginRaw(t, s, "carol", "pw", "closing")
		r.write(stream.Close)
		if el, err := r.next(); !errors.Is(err, io.EOF) {
			t.Fatalf("after </stream:stream>: got %v, %v; want the server's closing tag", el, err)
		}
		r.expectClosed()
	})
	t.Run("before TLS", func(t *testing.T) {
		r := dialRaw(t, s)
		r.open()
		r.write(stream.Close)
		if el, err := r.next(); !errors.Is(err, io.EOF) {
			t.Fatalf("after </stream:stream>: got %v, %v", el, err)
		}
		r.expectClosed()
	})
	t.Run("client library", func(t *testing.T) {
		c := s.Client(t, "carol", "pw", "lib")
		if err := c.Close(); err != nil {
			t.Fatalf("Close: %v (the server did not close the stream cleanly)", err)
		}
	})
	alive(t, alice, bob)
	alive(t, bob, alice)
}

// RFC 6120 §7.6: the server generates a resource when none is requested.
func TestServerGeneratedResource(t *testing.T) {
	s, alice, bob := newServer(t)
	r1 := authedRaw(t, s, "carol", "pw")
	j1 := r1.bind("")
	r2 := authedRaw(t, s, "carol", "pw")
	j2 := r2.bind("")
	for _, j := range []jid.JID{j1, j2} {
		if j.Bare() != s.JID(t, "carol") || j.Resource() == "" {
			t.Fatalf("generated JID %s", j)
		}
	}
	if j1 == j2 {
		t.Fatalf("two sessions got the same generated resource %s", j1)
	}
	body := unique("gen")
	sendOrFail(t, alice, stanza.NewMessage(stanza.TypeChat, j2.String(), body))
	r2.expectMessage(body)
	alive(t, alice, bob)
}

// RFC 6120 §7.7.2.2: a second session with the same full JID replaces the
// first, which gets a <conflict/> stream error.
func TestResourceConflict(t *testing.T) {
	s, alice, bob := newServer(t)
	first := loginRaw(t, s, "carol", "pw", "phone")
	second := loginRaw(t, s, "carol", "pw", "phone")
	if first.full != second.full {
		t.Fatalf("bound %s and %s", first.full, second.full)
	}
	first.expectStreamError(stream.Conflict)

	body := unique("conflict")
	sendOrFail(t, alice, stanza.NewMessage(stanza.TypeChat, second.full.String(), body))
	second.expectMessage(body)
	alive(t, alice, bob)
}

// RFC 3921 §3 (legacy session establishment) is answered with a result.
func TestLegacySession(t *testing.T) {
	s, alice, bob := newServer(t)
	r := loginRaw(t, s, "carol", "pw", "legacy")
	r.send(stanza.NewIQ(stanza.TypeSet, "sess-1", "", stanza.New(nsSession, "session")))
	el := r.mustNext()
	if stanza.KindOf(el) != stanza.KindIQ || el.Type() != stanza.TypeResult || el.ID() != "sess-1" || len(el.Elements()) != 0 {
		t.Fatalf("legacy session answer: %s", el)
	}
	r.send(stanza.NewIQ(stanza.TypeSet, "sess-2", s.Domain(), stanza.New(nsSession, "session")))
	if el := r.mustNext(); el.Type() != stanza.TypeResult || el.ID() != "sess-2" {
		t.Fatalf("legacy session to the domain: %s", el)
	}
	alive(t, alice, bob)
}

// XEP-0368: the direct-TLS port offers SASL at once.
func TestDirectTLS(t *testing.T) {
	s, alice, bob := newServer(t)

	r := dialRawTLS(t, s, nil)
	f := r.open()
	if f.Child(nsTLS, "starttls") != nil {
		t.Errorf("STARTTLS offered on the direct TLS port: %s", f)
	}
	if got := mechanisms(f); !slices.Contains(got, sasl.ScramSHA256Plus) || !slices.Contains(got, sasl.Plain) {
		t.Errorf("mechanisms on direct TLS: %v", got)
	}
	r.login(sasl.ScramSHA256Plus, "carol", "pw")
	r.bind("direct")
	body := unique("direct")
	sendOrFail(t, alice, stanza.NewMessage(stanza.TypeChat, r.full.String(), body))
	r.expectMessage(body)

	cfg := s.ClientConfig(t, "carol", "pw", "lib-direct")
	cfg.DirectTLS = true
	cfg.Address = s.TLSAddr()
	c := s.Dial(t, cfg)
	alive(t, c, bob)
	alive(t, alice, c)
}

// RFC 6120 §6 and RFC 5802/7677/9266/5929: every offered mechanism and
// channel-binding type logs in, over TLS 1.3 and 1.2.
func TestMechanisms(t *testing.T) {
	s, alice, bob := newServer(t)
	type tcase struct {
		mech, cb string
		tlsVer   uint16
	}
	var tests []tcase
	for _, v := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		for _, m := range []string{sasl.Plain, sasl.ScramSHA1, sasl.ScramSHA256} {
			tests = append(tests, tcase{m, "", v})
		}
		for _, m := range []string{sasl.ScramSHA1Plus, sasl.ScramSHA256Plus} {
			for _, cb := range []string{sasl.TLSExporter, sasl.TLSServerEndPoint} {
				tests = append(tests, tcase{m, cb, v})
			}
		}
	}
	for _, tc := range tests {
		name := tc.mech + "/" + tc.cb + "/" + tls.VersionName(tc.tlsVer)
		t.Run(name, func(t *testing.T) {
			r := dialRaw(t, s)
			r.open()
			tcfg := s.TLSConfig()
			tcfg.MinVersion, tcfg.MaxVersion = tc.tlsVer, tc.tlsVer
			r.startTLS(tcfg)
			cb := r.channelBindings()
			if tc.cb != "" {
				if _, ok := cb[tc.cb]; !ok {
					t.Fatalf("client cannot compute %s", tc.cb)
				}
				if !slices.Contains(cbTypes(r.features), tc.cb) {
					t.Fatalf("%s not advertised: %v", tc.cb, cbTypes(r.features))
				}
				// Offer only the binding under test so that it is the one used.
				cb = map[string][]byte{tc.cb: cb[tc.cb]}
			}
			el := r.authenticate(tc.mech, sasl.ClientConfig{Username: "carol", Password: "pw", ChannelBindings: cb, PreferredCB: tc.cb})
			if el.Name.Local != "success" {
				t.Fatalf("%s: %s", name, el)
			}
			r.open()
			r.bind("")
			body := unique("mech")
			sendOrFail(t, alice, stanza.NewMessage(stanza.TypeChat, r.full.String(), body))
			r.expectMessage(body)
		})
	}

	// Channel binding detects a man in the middle: binding data that does
	// not match this connection fails.
	for _, cbType := range []string{sasl.TLSExporter, sasl.TLSServerEndPoint} {
		t.Run("wrong "+cbType, func(t *testing.T) {
			r := dialRaw(t, s)
			r.open()
			r.startTLS(nil)
			bogus := map[string][]byte{cbType: []byte(strings.Repeat("x", 32))}
			el := r.authenticate(sasl.ScramSHA256Plus, sasl.ClientConfig{Username: "carol", Password: "pw", ChannelBindings: bogus, PreferredCB: cbType})
			expectFailure(t, el, sasl.NotAuthorized)
		})
	}

	// The client library, forcing each mechanism.
	for _, m := range []string{sasl.Plain, sasl.ScramSHA1, sasl.ScramSHA256, sasl.ScramSHA1Plus, sasl.ScramSHA256Plus} {
		t.Run("client/"+m, func(t *testing.T) {
			cfg := s.ClientConfig(t, "carol", "pw", "")
			cfg.Mechanism = m
			c := s.Dial(t, cfg)
			if c.Mechanism() != m {
				t.Fatalf("logged in with %s", c.Mechanism())
			}
			alive(t, c, alice)
			if err := c.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}
		})
	}
	alive(t, alice, bob)
}
