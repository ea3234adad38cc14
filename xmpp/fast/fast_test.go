package fast

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/xmpp/sasl"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// The stored digest must give the same proof as the token itself: that
// is what lets the server keep only the digest.
func TestDigestKeysLikeToken(t *testing.T) {
	tok, digest := NewToken()
	if len(tok) <= sha256.BlockSize {
		t.Fatalf("token of %d bytes is not longer than the block", len(tok))
	}
	m := hmac.New(sha256.New, []byte(tok))
	m.Write([]byte("Initiator"))
	if !hmac.Equal(m.Sum(nil), InitiatorProof(digest, nil)) {
		t.Fatal("proof from the digest differs from HMAC keyed with the token")
	}
}

func TestHTRoundTrip(t *testing.T) {
	cb := map[string][]byte{sasl.TLSExporter: []byte("exporter-data-0123456789abcdef01"), sasl.TLSServerEndPoint: []byte("endp")}
	tok, digest := NewToken()
	other, otherDigest := NewToken()
	_ = other
	for _, mech := range []string{HTSHA256None, HTSHA256Endp, HTSHA256Expr} {
		c, err := NewClient(mech, "juliet", tok, cb)
		if err != nil {
			t.Fatal(err)
		}
		first, _ := c.Start()
		s, err := NewServer(mech, ServerConfig{ChannelBindings: cb, Lookup: func(u string) ([]Candidate, error) {
			if u != "juliet" {
				return nil, nil
			}
			return []Candidate{{Key: otherDigest, Ref: 1}, {Key: digest, Ref: 2}}, nil
		}})
		if err != nil {
			t.Fatal(err)
		}
		out, done, err := s.Next(first)
		if err != nil || !done {
			t.Fatalf("%s: server: %v done=%v", mech, err, done)
		}
		if m, ok := s.Matched(); !ok || m.Ref != 2 {
			t.Fatalf("%s: matched %v", mech, m.Ref)
		}
		if _, err := c.Next(out); err != nil || !c.Done() {
			t.Fatalf("%s: client verification: %v", mech, err)
		}
	}
}

// A proof made for one channel binding is refused under another, and a
// forged server proof is detected.
func TestHTRefusals(t *testing.T) {
	tok, digest := NewToken()
	lookup := func(string) ([]Candidate, error) { return []Candidate{{Key: digest}}, nil }
	c, _ := NewClient(HTSHA256Expr, "juliet", tok, map[string][]byte{sasl.TLSExporter: []byte("mine")})
	first, _ := c.Start()
	s, _ := NewServer(HTSHA256Expr, ServerConfig{ChannelBindings: map[string][]byte{sasl.TLSExporter: []byte("theirs")}, Lookup: lookup})
	var f *sasl.Failure
	if _, _, err := s.Next(first); !errors.As(err, &f) || f.Condition != sasl.NotAuthorized {
		t.Fatalf("channel-binding mismatch: %v", err)
	}
	rejected := &sasl.Failure{Condition: sasl.CredentialsExpired}
	c, _ = NewClient(HTSHA256None, "juliet", tok, nil)
	first, _ = c.Start()
	s, _ = NewServer(HTSHA256None, ServerConfig{Lookup: func(string) ([]Candidate, error) { return []Candidate{{Key: digest, Reject: rejected}}, nil }})
	if _, _, err := s.Next(first); !errors.Is(err, rejected) {
		t.Fatalf("rejected candidate: %v", err)
	}
	if _, err := c.Next(make([]byte, 32)); !errors.Is(err, sasl.ErrServerSignature) {
		t.Fatalf("forged server proof: %v", err)
	}
	s, _ = NewServer(HTSHA256None, ServerConfig{Lookup: lookup})
	if _, _, err := s.Next([]byte("juliet\x00short")); !errors.As(err, &f) || f.Condition != sasl.MalformedRequest {
		t.Fatalf("short proof: %v", err)
	}
	if _, err := NewServer(HTSHA256Endp, ServerConfig{Lookup: lookup}); err == nil {
		t.Fatal("ENDP without channel-binding data accepted")
	}
}

func TestElements(t *testing.T) {
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	tk, err := ParseToken(Token{Token: "abc", Expiry: exp}.Element())
	if err != nil || tk.Token != "abc" || !tk.Expiry.Equal(exp) {
		t.Fatalf("token round trip: %+v %v", tk, err)
	}
	for _, bad := range []string{"0", "-1", "x", ""} {
		if _, err := ParseAuth(stanza.New(NS, "fast", "count", bad)); !errors.Is(err, ErrInvalid) {
			t.Errorf("count %q accepted", bad)
		}
	}
	a, err := ParseAuth(stanza.New(NS, "fast", "count", "7", "invalidate", "1"))
	if err != nil || !a.HasCount || a.Count != 7 || !a.Invalidate {
		t.Fatalf("ParseAuth: %+v %v", a, err)
	}
	f := ParseFeature(Feature{Mechanisms: []string{HTSHA256None}}.Element())
	if len(f.Mechanisms) != 1 || f.TLS0RTT {
		t.Fatalf("feature: %+v", f)
	}
}
