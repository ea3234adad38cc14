package sasl

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

var testSalt = []byte("0123456789abcdef")

func serverCfg(t testing.TB) ServerConfig {
	return ServerConfig{
		Lookup:     credLookup(t, "user", "pencil", testSalt),
		FakeSecret: []byte("per-server secret"),
	}
}

// run drives a full exchange and returns the server's failure, or the
// client's error, or nil on mutual success.
func run(t testing.TB, c ClientMechanism, s ServerMechanism) error {
	t.Helper()
	msg, err := c.Start()
	if err != nil {
		return fmt.Errorf("client start: %w", err)
	}
	for range 10 {
		out, done, err := s.Next(msg)
		if err != nil {
			return err
		}
		msg, err = c.Next(out)
		if err != nil {
			return err
		}
		if done {
			if !c.Done() {
				return errors.New("server done but client not done")
			}
			return nil
		}
	}
	return errors.New("exchange did not terminate")
}

func wantFailure(t *testing.T, err error, cond string) *Failure {
	t.Helper()
	var f *Failure
	if !errors.As(err, &f) {
		t.Fatalf("err = %v, want *Failure %s", err, cond)
	}
	if f.Condition != cond {
		t.Fatalf("condition = %s (%v), want %s", f.Condition, f, cond)
	}
	return f
}

func TestRoundTripAllSCRAM(t *testing.T) {
	cb := map[string][]byte{TLSExporter: bytes.Repeat([]byte{7}, 32), TLSServerEndPoint: []byte("cert-hash")}
	all := []string{ScramSHA1, ScramSHA1Plus, ScramSHA256, ScramSHA256Plus, ScramSHA512, ScramSHA512Plus}
	for _, mech := range all {
		t.Run(mech, func(t *testing.T) {
			scfg := serverCfg(t)
			scfg.Lookup = credLookup(t, "us,er=", "pencil", testSalt)
			scfg.ChannelBindings = cb
			scfg.Mechanisms = all
			c, err := NewClient(mech, ClientConfig{
				Username: "us,er=", Password: "pencil", Authzid: "admin=,x@example.org",
				ChannelBindings: cb, ServerMechanisms: all, ServerCBTypes: []string{TLSExporter, TLSServerEndPoint},
				RequireDowngradeProtection: true,
			})
			if err != nil {
				t.Fatal(err)
			}
			s, err := NewServer(mech, scfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := run(t, c, s); err != nil {
				t.Fatal(err)
			}
			if s.Username() != "us,er=" || s.Authzid() != "admin=,x@example.org" {
				t.Fatalf("identity = %q / %q", s.Username(), s.Authzid())
			}
			if strings.HasSuffix(mech, "-PLUS") && c.(*scramClient).ChannelBinding() != TLSExporter {
				t.Fatalf("channel binding = %q", c.(*scramClient).ChannelBinding())
			}
		})
	}
}

func TestWrongPasswordAndUnknownUserIndistinguishable(t *testing.T) {
	attempt := func(user, pass string) (string, ServerMechanism, error) {
		c, _ := NewClient(ScramSHA256, ClientConfig{Username: user, Password: pass})
		s, _ := NewServer(ScramSHA256, serverCfg(t))
		first, _ := c.Start()
		sf, _, err := s.Next(first)
		if err != nil {
			t.Fatal(err)
		}
		final, err := c.Next(sf)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = s.Next(final)
		return string(sf), s, err
	}
	_, s1, errWrong := attempt("user", "wrong")
	f1 := wantFailure(t, errWrong, NotAuthorized)
	sfA, s2, errUnknown := attempt("ghost", "pencil")
	f2 := wantFailure(t, errUnknown, NotAuthorized)
	if f1.Error() != f2.Error() {
		t.Fatalf("failures differ: %q vs %q", f1, f2)
	}
	// Both are password guesses, the only failures a throttle counts.
	if !errors.Is(errWrong, ErrInvalidProof) || !errors.Is(errUnknown, ErrInvalidProof) {
		t.Fatalf("a wrong proof does not wrap ErrInvalidProof: %v, %v", errWrong, errUnknown)
	}
	if s1.Username() != "" || s2.Username() != "" {
		t.Fatal("username exposed after failure")
	}
	// The fake salt is stable per user (strip the random nonce).
	sfB, _, _ := attempt("ghost", "x")
	if strings.SplitN(sfA, ",", 2)[1] != strings.SplitN(sfB, ",", 2)[1] {
		t.Fatalf("fake salt not deterministic: %q vs %q", sfA, sfB)
	}
	sfC, _, _ := attempt("phantom", "x")
	if strings.SplitN(sfA, ",", 2)[1] == strings.SplitN(sfC, ",", 2)[1] {
		t.Fatal("fake salt identical for different users")
	}
	if !strings.HasSuffix(sfA, ",i=4096") {
		t.Fatalf("fake iterations: %q", sfA)
	}
}

func TestUnknownUserNeverSucceeds(t *testing.T) {
	// Even a client that knows the fake derivation inputs cannot log in:
	// the fake path fails regardless of the proof.
	cfg := serverCfg(t)
	fc := fakeCredentials(SHA256, cfg.FakeSecret, "ghost", 4096)
	s, _ := NewServer(ScramSHA256, cfg)
	if _, _, err := s.Next([]byte("n,,n=ghost,r=abc")); err != nil {
		t.Fatal(err)
	}
	ss := s.(*scramServer)
	without := "c=biws,r=" + ss.fullNonce
	am := []byte(ss.clientFirstBare + "," + ss.serverFirst + "," + without)
	// Forge a proof against the fake StoredKey as if ClientKey were known:
	// impossible in practice, but the server must still refuse.
	proof := SHA256.hmac(fc.StoredKey, am)
	_, _, err := s.Next([]byte(without + ",p=" + encodeB64(proof)))
	wantFailure(t, err, NotAuthorized)
}

func TestLookupErrorIsTemporary(t *testing.T) {
	dbErr := errors.New("database down")
	cfg := serverCfg(t)
	cfg.Lookup = func(string, Hash) (Credentials, error) { return Credentials{}, dbErr }
	s, _ := NewServer(ScramSHA1, cfg)
	_, _, err := s.Next([]byte("n,,n=user,r=abc"))
	wantFailure(t, err, TemporaryAuthFailure)
	if !errors.Is(err, dbErr) {
		t.Fatal("cause not wrapped")
	}
}

func TestGS2Header(t *testing.T) {
	cb := map[string][]byte{TLSExporter: []byte("exporter-data")}
	tests := []struct {
		name      string
		mech      string
		plusAdv   bool // server advertised -PLUS (via Mechanisms)
		cbs       map[string][]byte
		first     string
		wantCond  string // "" means the client-first is accepted
		finalCond string // condition expected for a correct-looking final
	}{
		{"n accepted", ScramSHA1, true, cb, "n,,n=user,r=abc", "", ""},
		{"y without plus advertised", ScramSHA1, false, nil, "y,,n=user,r=abc", "", ""},
		{"y with plus advertised is a downgrade", ScramSHA1, true, cb, "y,,n=user,r=abc", NotAuthorized, ""},
		{"y with cb but no mechanism list", ScramSHA1, false, cb, "y,,n=user,r=abc", NotAuthorized, ""},
		{"plus requires p", ScramSHA1Plus, true, cb, "n,,n=user,r=abc", NotAuthorized, ""},
		{"plus rejects y", ScramSHA1Plus, true, cb, "y,,n=user,r=abc", NotAuthorized, ""},
		// RFC 6120 §6.5.4: the mechanism is unusable with that binding.
		{"unknown cb type", ScramSHA1Plus, true, cb, "p=tls-unique,,n=user,r=abc", InvalidMechanism, ""},
		{"p with non-plus", ScramSHA1, true, cb, "p=tls-exporter,,n=user,r=abc", MalformedRequest, ""},
		{"bad cb name", ScramSHA1Plus, true, cb, "p=tls_exporter,,n=user,r=abc", MalformedRequest, ""},
		{"bad flag", ScramSHA1, true, cb, "x,,n=user,r=abc", MalformedRequest, ""},
		{"authzid bad escape", ScramSHA1, false, nil, "n,a=a=2Cb=,n=user,r=abc", MalformedRequest, ""},
		{"authzid wrong attr", ScramSHA1, false, nil, "n,b=x,n=user,r=abc", MalformedRequest, ""},
		{"p accepted", ScramSHA1Plus, true, cb, "p=tls-exporter,,n=user,r=abc", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := serverCfg(t)
			cfg.ChannelBindings = tc.cbs
			if tc.plusAdv {
				cfg.Mechanisms = []string{ScramSHA1, ScramSHA1Plus}
			} else if tc.cbs == nil {
				cfg.Mechanisms = []string{ScramSHA1}
			}
			s, err := NewServer(tc.mech, cfg)
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = s.Next([]byte(tc.first))
			if tc.wantCond == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			wantFailure(t, err, tc.wantCond)
			if errors.Is(err, ErrInvalidProof) {
				t.Fatalf("%v counts as a password guess", err)
			}
		})
	}
}

// A refused client-first message says why, naming what the server offers,
// so that the client (and its user) can tell a binding problem from a
// wrong password.
func TestGS2FailureTexts(t *testing.T) {
	cbs := map[string][]byte{TLSServerEndPoint: []byte("ep"), TLSExporter: []byte("ex")}
	mechs := []string{ScramSHA256Plus, ScramSHA1Plus, ScramSHA256, ScramSHA1, Plain}
	for _, tc := range []struct{ mech, first, cond, text string }{
		{ScramSHA256Plus, "p=tls-unique,,n=user,r=abc", InvalidMechanism,
			"channel binding type tls-unique is not supported; offered: tls-exporter, tls-server-end-point"},
		{ScramSHA256, "y,,n=user,r=abc", NotAuthorized,
			"channel binding downgrade detected: the client supports channel binding (gs2 flag y) and the server offers it with SCRAM-SHA-256-PLUS, SCRAM-SHA-1-PLUS (types: tls-exporter, tls-server-end-point)"},
	} {
		cfg := serverCfg(t)
		cfg.ChannelBindings, cfg.Mechanisms = cbs, mechs
		s, err := NewServer(tc.mech, cfg)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = s.Next([]byte(tc.first))
		var f *Failure
		if !errors.As(err, &f) || f.Condition != tc.cond || f.Text != tc.text {
			t.Errorf("%s %q: %v, want %s with text %q", tc.mech, tc.first, err, tc.cond, tc.text)
		}
	}
}

func TestClientGS2Flag(t *testing.T) {
	cb := map[string][]byte{TLSServerEndPoint: []byte("h")}
	for _, tc := range []struct {
		name  string
		mech  string
		cfg   ClientConfig
		start string
	}{
		{"no cb", ScramSHA256, ClientConfig{}, "n,,"},
		{"cb, server offers plus", ScramSHA256, ClientConfig{ChannelBindings: cb, ServerMechanisms: []string{ScramSHA256, ScramSHA256Plus}}, "n,,"},
		{"cb, server without plus", ScramSHA256, ClientConfig{ChannelBindings: cb, ServerMechanisms: []string{ScramSHA256}}, "y,,"},
		{"plus", ScramSHA256Plus, ClientConfig{ChannelBindings: cb}, "p=tls-server-end-point,,"},
		{"authzid", ScramSHA256, ClientConfig{Authzid: "a,b=c"}, "n,a=a=2Cb=3Dc,"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Username, tc.cfg.Password = "user", "pencil"
			c, err := NewClient(tc.mech, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			first, _ := c.Start()
			if !strings.HasPrefix(string(first), tc.start+"n=user,r=") {
				t.Fatalf("client-first = %q, want prefix %q", first, tc.start)
			}
		})
	}
	if _, err := NewClient(ScramSHA256Plus, ClientConfig{Username: "u", Password: "p"}); err == nil {
		t.Fatal("-PLUS client without channel binding accepted")
	}
}

// TestStrippedPlusDetected simulates a MITM removing -PLUS from the
// advertised list: the client sends "y" and the server refuses.
func TestStrippedPlusDetected(t *testing.T) {
	cb := map[string][]byte{TLSExporter: []byte("x")}
	c, _ := NewClient(ScramSHA256, ClientConfig{Username: "user", Password: "pencil", ChannelBindings: cb, ServerMechanisms: []string{ScramSHA256}})
	cfg := serverCfg(t)
	cfg.ChannelBindings = cb
	cfg.Mechanisms = []string{ScramSHA256, ScramSHA256Plus}
	s, _ := NewServer(ScramSHA256, cfg)
	wantFailure(t, run(t, c, s), NotAuthorized)
}

func TestChannelBindingMismatch(t *testing.T) {
	c, _ := NewClient(ScramSHA256Plus, ClientConfig{Username: "user", Password: "pencil", ChannelBindings: map[string][]byte{TLSExporter: []byte("client view")}})
	cfg := serverCfg(t)
	cfg.ChannelBindings = map[string][]byte{TLSExporter: []byte("server view")}
	s, _ := NewServer(ScramSHA256Plus, cfg)
	f := wantFailure(t, run(t, c, s), NotAuthorized)
	if f.Text != "channel-bindings-dont-match" {
		t.Fatalf("text = %q", f.Text)
	}
}

// finalFor builds a correct client-final-message for the server's state so
// that individual parts can be tampered with.
func finalFor(t *testing.T, s *scramServer, gs2 string, cbData []byte, nonce string, ext string) string {
	t.Helper()
	salted, err := saltedPassword(s.h, "pencil", s.creds.Salt, s.creds.Iterations)
	if err != nil {
		t.Fatal(err)
	}
	without := "c=" + encodeB64(append([]byte(gs2), cbData...)) + ",r=" + nonce + ext
	am := []byte(s.clientFirstBare + "," + s.serverFirst + "," + without)
	ck := s.h.hmac(salted, []byte("Client Key"))
	sig := s.h.hmac(s.h.sum(ck), am)
	for i := range ck {
		ck[i] ^= sig[i]
	}
	return without + ",p=" + encodeB64(ck)
}

func TestClientFinalChecks(t *testing.T) {
	newS := func(t *testing.T) *scramServer {
		s, _ := NewServer(ScramSHA256, serverCfg(t))
		if _, _, err := s.Next([]byte("n,,n=user,r=cnonce")); err != nil {
			t.Fatal(err)
		}
		return s.(*scramServer)
	}
	t.Run("valid with ignored extension", func(t *testing.T) {
		s := newS(t)
		_, done, err := s.Next([]byte(finalFor(t, s, "n,,", nil, s.fullNonce, ",x=ext")))
		if err != nil || !done {
			t.Fatalf("done=%v err=%v", done, err)
		}
	})
	cases := []struct {
		name string
		msg  func(s *scramServer) string
		cond string
	}{
		{"nonce not extended", func(s *scramServer) string { return finalFor(t, s, "n,,", nil, "cnonce", "") }, NotAuthorized},
		{"nonce truncated", func(s *scramServer) string { return finalFor(t, s, "n,,", nil, s.fullNonce[:len(s.fullNonce)-1], "") }, NotAuthorized},
		{"nonce extended further", func(s *scramServer) string { return finalFor(t, s, "n,,", nil, s.fullNonce+"x", "") }, NotAuthorized},
		{"c= with other header", func(s *scramServer) string { return finalFor(t, s, "y,,", nil, s.fullNonce, "") }, NotAuthorized},
		{"c= with cb data appended", func(s *scramServer) string { return finalFor(t, s, "n,,", []byte("x"), s.fullNonce, "") }, NotAuthorized},
		{"mandatory extension", func(s *scramServer) string { return finalFor(t, s, "n,,", nil, s.fullNonce, ",m=x") }, MalformedRequest},
		{"bad proof bit", func(s *scramServer) string {
			m := []byte(finalFor(t, s, "n,,", nil, s.fullNonce, ""))
			i := bytes.LastIndex(m, []byte("p=")) + 2
			if m[i] == 'A' {
				m[i] = 'B'
			} else {
				m[i] = 'A'
			}
			return string(m)
		}, NotAuthorized},
		{"missing proof", func(s *scramServer) string { return "c=biws,r=" + s.fullNonce }, MalformedRequest},
		{"proof bad base64", func(s *scramServer) string { return "c=biws,r=" + s.fullNonce + ",p=!!!!" }, MalformedRequest},
		{"proof wrong length", func(s *scramServer) string { return "c=biws,r=" + s.fullNonce + ",p=AAAA" }, MalformedRequest},
		{"c bad base64", func(s *scramServer) string { return "c=b#ws,r=" + s.fullNonce + ",p=" + encodeB64(make([]byte, 32)) }, MalformedRequest},
		{"missing nonce", func(s *scramServer) string { return "c=biws,p=" + encodeB64(make([]byte, 32)) }, MalformedRequest},
		{"attributes swapped", func(s *scramServer) string { return "r=" + s.fullNonce + ",c=biws,p=" + encodeB64(make([]byte, 32)) }, MalformedRequest},
		{"not utf8", func(s *scramServer) string { return "c=biws,r=\xff,p=" + encodeB64(make([]byte, 32)) }, MalformedRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newS(t)
			_, _, err := s.Next([]byte(tc.msg(s)))
			wantFailure(t, err, tc.cond)
			if s.Username() != "" {
				t.Fatal("username exposed after failure")
			}
			if _, _, err := s.Next([]byte("c=biws")); err == nil {
				t.Fatal("Next after failure succeeded")
			}
		})
	}
}

func TestClientFirstMalformed(t *testing.T) {
	for _, msg := range []string{
		"n", "n,", "n,,", "n,,n=user", "n,,r=abc,n=user", "n,,n=,r=abc", "n,,n=user,r=",
		"n,,n=us=er,r=abc", "n,,n=us=2c,r=abc", "n,,n=user,r=abc,", "n,,n=user,r=abc,1=x",
		"n,,m=ext,n=user,r=abc", "n,,n=user,r=abc,m=ext", "n,,n=user,r=ab\x7fc", "n,,n=\xff,r=abc",
		"n,,n=user,r=a\x00b",
	} {
		s, _ := NewServer(ScramSHA1, serverCfg(t))
		_, _, err := s.Next([]byte(msg))
		var f *Failure
		if !errors.As(err, &f) || f.Condition != MalformedRequest {
			t.Errorf("%q: err = %v, want malformed-request", msg, err)
		}
	}
}

func TestServerEmptyInitialResponse(t *testing.T) {
	s, _ := NewServer(ScramSHA1, serverCfg(t))
	out, done, err := s.Next(nil)
	if err != nil || done || len(out) != 0 {
		t.Fatalf("out=%q done=%v err=%v", out, done, err)
	}
	if _, _, err := s.Next(nil); err == nil {
		t.Fatal("second empty response accepted")
	}
	s, _ = NewServer(ScramSHA1, serverCfg(t))
	c, _ := NewClient(ScramSHA1, ClientConfig{Username: "user", Password: "pencil"})
	if _, _, err := s.Next(nil); err != nil {
		t.Fatal(err)
	}
	if err := run(t, c, s); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Next([]byte("again")); err == nil {
		t.Fatal("Next after success accepted")
	}
}

// clientAt returns a client that has sent its client-first with nonce "cn".
func clientAt(t *testing.T, cfg ClientConfig) *scramClient {
	t.Helper()
	cfg.Username, cfg.Password = "user", "pencil"
	m, err := NewClient(ScramSHA1, cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := m.(*scramClient)
	c.nonce = fixedNonce("cn")
	if _, err := c.Start(); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClientServerFirstChecks(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   ClientConfig
		first string
		ok    bool
	}{
		{"valid", ClientConfig{}, "r=cnSRV,s=QSXCR+Q6sek8bf92,i=4096", true},
		{"unknown extension ignored", ClientConfig{}, "r=cnSRV,s=QSXCR+Q6sek8bf92,i=4096,z=1", true},
		{"low iterations", ClientConfig{}, "r=cnSRV,s=QSXCR+Q6sek8bf92,i=4095", false},
		{"low iterations allowed", ClientConfig{MinIterations: 1000}, "r=cnSRV,s=QSXCR+Q6sek8bf92,i=1000", true},
		{"too many iterations", ClientConfig{MaxIterations: 5000}, "r=cnSRV,s=QSXCR+Q6sek8bf92,i=5001", false},
		{"signed iterations", ClientConfig{}, "r=cnSRV,s=QSXCR+Q6sek8bf92,i=+4096", false},
		{"nonce not prefixed", ClientConfig{}, "r=xcnSRV,s=QSXCR+Q6sek8bf92,i=4096", false},
		{"nonce not extended", ClientConfig{}, "r=cn,s=QSXCR+Q6sek8bf92,i=4096", false},
		{"mandatory extension", ClientConfig{}, "m=x,r=cnSRV,s=QSXCR+Q6sek8bf92,i=4096", false},
		{"bad salt", ClientConfig{}, "r=cnSRV,s=%%%,i=4096", false},
		{"missing iterations", ClientConfig{}, "r=cnSRV,s=QSXCR+Q6sek8bf92", false},
		{"required ssdp missing", ClientConfig{RequireDowngradeProtection: true, ServerMechanisms: []string{ScramSHA1}}, "r=cnSRV,s=QSXCR+Q6sek8bf92,i=4096", false},
		{"ssdp ignored without lists", ClientConfig{}, "r=cnSRV,s=QSXCR+Q6sek8bf92,i=4096,h=AAAA", true},
		{"ssdp match", ClientConfig{ServerMechanisms: []string{ScramSHA1, Plain}}, "r=cnSRV,s=QSXCR+Q6sek8bf92,i=4096,h=" + DowngradeHash(SHA1, []string{Plain, ScramSHA1}, nil), true},
		{"ssdp mismatch", ClientConfig{ServerMechanisms: []string{ScramSHA1}}, "r=cnSRV,s=QSXCR+Q6sek8bf92,i=4096,h=" + DowngradeHash(SHA1, []string{Plain, ScramSHA1}, nil), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := clientAt(t, tc.cfg)
			out, err := c.Next([]byte(tc.first))
			if tc.ok != (err == nil) {
				t.Fatalf("out=%q err=%v, want ok=%v", out, err, tc.ok)
			}
			if !tc.ok && !errors.Is(err, ErrProtocol) && !errors.Is(err, ErrDowngrade) {
				t.Fatalf("err = %v lacks sentinel", err)
			}
		})
	}
}

func TestClientServerErrorSurfaced(t *testing.T) {
	c := clientAt(t, ClientConfig{})
	if _, err := c.Next([]byte("r=cnSRV,s=QSXCR+Q6sek8bf92,i=4096")); err != nil {
		t.Fatal(err)
	}
	_, err := c.Next([]byte("e=invalid-proof"))
	var se *ServerError
	if !errors.As(err, &se) || se.Value != "invalid-proof" {
		t.Fatalf("err = %v, want ServerError invalid-proof", err)
	}
	if c.Done() {
		t.Fatal("Done after server error")
	}
	c = clientAt(t, ClientConfig{})
	c.Next([]byte("r=cnSRV,s=QSXCR+Q6sek8bf92,i=4096"))
	if _, err := c.Next(nil); !errors.Is(err, ErrProtocol) {
		t.Fatalf("empty server-final: err = %v", err)
	}
	c = clientAt(t, ClientConfig{})
	c.Next([]byte("r=cnSRV,s=QSXCR+Q6sek8bf92,i=4096"))
	if _, err := c.Next([]byte("v=$$$")); !errors.Is(err, ErrProtocol) {
		t.Fatalf("bad verifier: err = %v", err)
	}
}

func TestSASLName(t *testing.T) {
	for in, want := range map[string]string{"user": "user", "a,b": "a=2Cb", "a=b": "a=3Db", "=,=": "=3D=2C=3D"} {
		if got := EscapeSASLName(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
		if got, ok := UnescapeSASLName(want); !ok || got != in {
			t.Errorf("Unescape(%q) = %q, %v", want, got, ok)
		}
	}
	for _, bad := range []string{"", "=", "=2", "=2c", "=3d", "=41", "a,b", "a=", "x=3", "\xff", "a\x00"} {
		if got, ok := UnescapeSASLName(bad); ok {
			t.Errorf("Unescape(%q) = %q, want failure", bad, got)
		}
	}
}

func TestNewServerErrors(t *testing.T) {
	_, err := NewServer("DIGEST-MD5", serverCfg(t))
	wantFailure(t, err, InvalidMechanism)
	_, err = NewServer(ScramSHA256Plus, serverCfg(t)) // no channel bindings
	wantFailure(t, err, InvalidMechanism)
	_, err = NewServer(Plain, serverCfg(t)) // no CheckPLAIN
	wantFailure(t, err, InvalidMechanism)
	cfg := serverCfg(t)
	cfg.FakeSecret = nil
	if _, err := NewServer(ScramSHA1, cfg); err == nil {
		t.Fatal("SCRAM server without fake secret accepted")
	}
}

func TestClientStateErrors(t *testing.T) {
	c, _ := NewClient(ScramSHA1, ClientConfig{Username: "user", Password: "pencil"})
	if _, err := c.Next([]byte("r=x,s=QSXCR+Q6sek8bf92,i=4096")); err == nil {
		t.Fatal("Next before Start accepted")
	}
	if _, err := NewClient(ScramSHA1, ClientConfig{Username: "user", Password: ""}); err == nil {
		t.Fatal("empty password accepted")
	}
	if _, err := NewClient("X-UNKNOWN", ClientConfig{}); err == nil {
		t.Fatal("unknown mechanism accepted")
	}
}

// An unknown user's challenge announces an iteration count drawn from the
// stored accounts' counts, in their proportions, keyed by the secret and
// the username: the same username always gets the same count, whatever
// the hash, so that neither the count nor its changes tell whether the
// account exists.
func TestFakeIterationShares(t *testing.T) {
	shares := []IterationShare{{Iterations: 4096, Weight: 75}, {Iterations: 10000, Weight: 25}}
	first := func(cfg ServerConfig, mech, user string) (salt, iters string) {
		t.Helper()
		s, err := NewServer(mech, cfg)
		if err != nil {
			t.Fatal(err)
		}
		out, _, err := s.Next([]byte("n,,n=" + user + ",r=abcdefghijklmnop"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range strings.Split(string(out), ",") {
			if v, ok := strings.CutPrefix(f, "s="); ok {
				salt = v
			}
			if v, ok := strings.CutPrefix(f, "i="); ok {
				iters = v
			}
		}
		return salt, iters
	}
	cfg := serverCfg(t)
	cfg.FakeIterations = 20000 // the configured count: never announced when shares are known
	cfg.FakeIterationShares = shares
	n4096 := 0
	const users = 400
	for i := range users {
		u := fmt.Sprintf("ghost%d", i)
		_, a := first(cfg, ScramSHA256, u)
		_, b := first(cfg, ScramSHA256, u)
		_, c := first(cfg, ScramSHA1, u)
		if a != b || a != c {
			t.Fatalf("%s: counts %s, %s (SHA-256 twice), %s (SHA-1): not stable", u, a, b, c)
		}
		switch a {
		case "4096":
			n4096++
		case "10000":
		default:
			t.Fatalf("%s: count %s is not among the stored accounts' counts", u, a)
		}
	}
	if n4096 < users*65/100 || n4096 > users*85/100 {
		t.Fatalf("%d of %d unknown users got 4096, want about 75%%", n4096, users)
	}
	// Another secret draws differently: nobody without it can predict
	// which count a given unknown name gets.
	other := cfg
	other.FakeSecret = []byte("another server's secret")
	differ := 0
	for i := range 100 {
		u := fmt.Sprintf("ghost%d", i)
		_, a := first(cfg, ScramSHA256, u)
		_, b := first(other, ScramSHA256, u)
		if a != b {
			differ++
		}
	}
	if differ == 0 {
		t.Fatal("the draw does not depend on the secret")
	}
	// Without shares the configured count is announced.
	cfg.FakeIterationShares = nil
	if _, it := first(cfg, ScramSHA256, "ghost1"); it != "20000" {
		t.Fatalf("without shares: count %s, want the configured 20000", it)
	}
}
