package client

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/xmpp/sasl"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

const nsPing = "urn:xmpp:ping"

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func dial(t *testing.T, fs *fakeServer, mutate func(*Config)) *Client {
	t.Helper()
	cfg := fs.config()
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := Dial(testCtx(t), cfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closeOnEOF makes the server answer the client's closing tag.
func closeOnEOF(s *session) {
	for {
		if _, err := s.read(); err != nil {
			s.writeRaw(stream.Close)
			return
		}
	}
}

func TestDialSCRAMPlusIQRoundTripAndClose(t *testing.T) {
	serverDone := make(chan struct{})
	fs := newFakeServer(t, func(s *session) {
		defer close(serverDone)
		ping := s.mustRead()
		if !ping.IsRequest() || ping.Child(nsPing, "ping") == nil {
			t.Errorf("server got %s, want ping", ping)
		}
		r := stanza.Result(ping, nil)
		r.Set("from", testDomain)
		s.write(r)
		q := s.mustRead()
		s.write(stanza.ErrorReply(q, stanza.Errorf(stanza.ItemNotFound, "no such node")))
		// Wait for the closing tag, then close ours.
		if _, err := s.read(); !errors.Is(err, io.EOF) {
			t.Errorf("server: after client Close got %v, want io.EOF", err)
		}
		s.writeRaw(stream.Close)
	}).start()
	c := dial(t, fs, func(c *Config) { c.Resource = "laptop" })

	if got := <-fs.gotAuth; got != sasl.ScramSHA256Plus {
		t.Errorf("mechanism sent %q, want %s", got, sasl.ScramSHA256Plus)
	}
	if c.Mechanism() != sasl.ScramSHA256Plus {
		t.Errorf("Mechanism() = %q", c.Mechanism())
	}
	if c.JID().String() != "alice@example.test/laptop" {
		t.Errorf("JID() = %s", c.JID())
	}
	if c.Features().Child(nsBind, "bind") == nil {
		t.Errorf("Features() lacks bind: %s", c.Features())
	}
	if st, ok := c.TLSConnectionState(); !ok || !st.HandshakeComplete {
		t.Errorf("no TLS state")
	}

	ctx := testCtx(t)
	res, err := c.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", testDomain, stanza.New(nsPing, "ping")))
	if err != nil || res.Type() != stanza.TypeResult {
		t.Fatalf("SendIQ ping = %v, %v", res, err)
	}
	res, err = c.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", testDomain, stanza.New("urn:x", "q")))
	var se *stanza.Error
	if !errors.As(err, &se) || se.Condition != stanza.ItemNotFound || se.Text != "no such node" {
		t.Fatalf("SendIQ error reply: err = %v", err)
	}
	if res == nil || res.Type() != stanza.TypeError {
		t.Errorf("error reply not returned: %v", res)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	<-serverDone
	if !errors.Is(c.Err(), ErrClosed) {
		t.Errorf("Err() = %v, want ErrClosed", c.Err())
	}
	if err := c.Send(ctx, stanza.NewMessage("chat", "bob@example.test", "late")); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close = %v, want ErrClosed", err)
	}
	select {
	case err := <-fs.errs:
		t.Errorf("server: %v", err)
	default:
	}
}

func TestMechanismSelection(t *testing.T) {
	allCB := []string{sasl.TLSExporter, sasl.TLSServerEndPoint}
	for _, tc := range []struct {
		name    string
		mechs   []string
		cbTypes []string
		force   string
		want    string
	}{
		{"forced PLAIN", nil, allCB, sasl.Plain, sasl.Plain},
		{"forced SCRAM-SHA-1", nil, allCB, sasl.ScramSHA1, sasl.ScramSHA1},
		{"forced SCRAM-SHA-1-PLUS", []string{sasl.ScramSHA1Plus, sasl.ScramSHA256}, allCB, sasl.ScramSHA1Plus, sasl.ScramSHA1Plus},
		{"no PLUS offered", []string{sasl.ScramSHA1, sasl.ScramSHA256, sasl.Plain}, allCB, "", sasl.ScramSHA256},
		{"PLUS with end-point only", nil, []string{sasl.TLSServerEndPoint}, "", sasl.ScramSHA256Plus},
		{"PLUS without XEP-0440", nil, nil, "", sasl.ScramSHA256Plus},
		{"PLAIN only", []string{sasl.Plain}, nil, "", sasl.Plain},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFakeServer(t, closeOnEOF)
			if tc.mechs != nil {
				fs.mechs = tc.mechs
			}
			fs.cbTypes = tc.cbTypes
			fs.start()
			c := dial(t, fs, func(c *Config) { c.Mechanism = tc.force })
			if got := <-fs.gotAuth; got != tc.want {
				t.Errorf("server saw mechanism %q, want %q", got, tc.want)
			}
			if c.JID().Resource() != "gen-res" {
				t.Errorf("resource %q, want server-generated", c.JID().Resource())
			}
			if err := c.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
}

func TestAuthFailure(t *testing.T) {
	for _, mech := range []string{sasl.Plain, sasl.ScramSHA256, sasl.ScramSHA1Plus} {
		t.Run(mech, func(t *testing.T) {
			fs := newFakeServer(t, nil)
			fs.mechs = append(fs.mechs, sasl.ScramSHA1Plus)
			fs.start()
			cfg := fs.config()
			cfg.Password = "wrong"
			cfg.Mechanism = mech
			_, err := Dial(testCtx(t), cfg)
			var ae *AuthError
			if !errors.As(err, &ae) || ae.Condition != sasl.NotAuthorized {
				t.Fatalf("Dial with wrong password: %v, want AuthError not-authorized", err)
			}
			if ae.Text != "try again" {
				t.Errorf("text %q", ae.Text)
			}
		})
	}
}

func TestUnadvertisedMechanismRejected(t *testing.T) {
	fs := newFakeServer(t, nil)
	fs.mechs = []string{sasl.ScramSHA256}
	fs.start()
	cfg := fs.config()
	cfg.Mechanism = sasl.Plain
	_, err := Dial(testCtx(t), cfg)
	var ae *AuthError
	if !errors.As(err, &ae) || ae.Condition != sasl.InvalidMechanism {
		t.Fatalf("err = %v, want invalid-mechanism", err)
	}
}

// TestDowngradeDetected has the features list altered in transit while the
// SASL server hashes what it really offers (XEP-0474): the client must
// notice, whether a mechanism or a channel-binding type was stripped.
func TestDowngradeDetected(t *testing.T) {
	t.Run("mechanism stripped", func(t *testing.T) {
		fs := newFakeServer(t, nil)
		fs.saslMechs = fs.mechs
		fs.mechs = []string{sasl.ScramSHA256Plus, sasl.ScramSHA1}
		fs.start()
		_, err := Dial(testCtx(t), fs.config())
		if !errors.Is(err, sasl.ErrDowngrade) {
			t.Fatalf("err = %v, want sasl.ErrDowngrade", err)
		}
	})
	t.Run("channel-binding type stripped", func(t *testing.T) {
		fs := newFakeServer(t, nil)
		fs.saslCB = fs.cbTypes
		fs.cbTypes = []string{sasl.TLSServerEndPoint}
		fs.start()
		_, err := Dial(testCtx(t), fs.config())
		if !errors.Is(err, sasl.ErrDowngrade) {
			t.Fatalf("err = %v, want sasl.ErrDowngrade", err)
		}
	})
}

func TestStartTLSRequired(t *testing.T) {
	fs := newFakeServer(t, nil)
	fs.noTLS = true
	fs.start()
	_, err := Dial(testCtx(t), fs.config())
	if err == nil {
		t.Fatal("Dial succeeded without TLS")
	}
}

func TestDirectTLS(t *testing.T) {
	fs := newFakeServer(t, closeOnEOF)
	fs.directTLS = true
	fs.start()
	c := dial(t, fs, nil)
	st, ok := c.TLSConnectionState()
	if !ok || st.NegotiatedProtocol != "xmpp-client" {
		t.Errorf("ALPN = %q, want xmpp-client", st.NegotiatedProtocol)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestUntrustedCertificate(t *testing.T) {
	fs := newFakeServer(t, nil).start()
	cfg := fs.config()
	cfg.TLS = nil // system roots do not trust the test certificate
	if _, err := Dial(testCtx(t), cfg); err == nil {
		t.Fatal("Dial trusted a self-signed certificate")
	}
}

func TestDialTimeout(t *testing.T) {
	fs := newFakeServer(t, nil)
	// Accept but never answer.
	go func() {
		conn, err := fs.ln.Accept()
		if err == nil {
			t.Cleanup(func() { conn.Close() })
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Dial(ctx, fs.config())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Dial took %v", d)
	}
}
