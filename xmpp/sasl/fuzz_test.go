package sasl

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"strings"
	"testing"
)

const fuzzServerNonce = "SRVNONCE"

// fuzzMechs are the mechanisms FuzzSCRAMServer selects from.
var fuzzMechs = []string{ScramSHA256, ScramSHA256Plus, ScramSHA1}

// FuzzSCRAMServer feeds arbitrary client-first and client-final messages to
// a SCRAM server. It must never panic, must only fail with *Failure and must
// only succeed when the proof is the one derived from the real password.
func FuzzSCRAMServer(f *testing.F) {
	creds := map[Hash]Credentials{}
	for _, h := range []Hash{SHA1, SHA256} {
		c, err := DeriveCredentials(h, "pencil", testSalt, 16)
		if err != nil {
			f.Fatal(err)
		}
		creds[h] = c
	}
	cbData := []byte("fuzz channel binding")
	f.Fuzz(func(t *testing.T, mech uint8, first, final []byte) {
		name := fuzzMechs[int(mech)%len(fuzzMechs)]
		cfg := ServerConfig{
			Lookup: func(u string, h Hash) (Credentials, error) {
				if u != "user" {
					return Credentials{}, ErrUnknownUser
				}
				return creds[h], nil
			},
			FakeSecret:      []byte("fuzz"),
			FakeIterations:  16,
			ChannelBindings: map[string][]byte{TLSExporter: cbData},
			Mechanisms:      fuzzMechs,
		}
		m, err := NewServer(name, cfg)
		if err != nil {
			t.Fatal(err)
		}
		s := m.(*scramServer)
		s.nonce = fixedNonce(fuzzServerNonce)
		var fl *Failure
		if _, _, err := s.Next(first); err != nil {
			if !errors.As(err, &fl) {
				t.Fatalf("client-first: non-Failure error %v", err)
			}
			return
		}
		out, done, err := s.Next(final)
		if err != nil {
			if !errors.As(err, &fl) {
				t.Fatalf("client-final: non-Failure error %v", err)
			}
			if s.Username() != "" {
				t.Fatal("username exposed after failure")
			}
			return
		}
		if !done || s.state != ssDone || len(s.gs2Header) == 0 {
			// An empty first message only asks for the initial response.
			if len(first) == 0 {
				return
			}
			t.Fatalf("unexpected state: done=%v", done)
		}
		// Success: check independently of the server's verification.
		if s.Username() != "user" {
			t.Fatalf("authenticated as %q", s.Username())
		}
		msg := string(final)
		i := strings.LastIndex(msg, ",p=")
		proof, _ := decodeB64(msg[i+3:])
		salted, err := saltedPassword(s.h, "pencil", testSalt, 16)
		if err != nil {
			t.Fatal(err)
		}
		clientKey := s.h.hmac(salted, []byte("Client Key"))
		am := []byte(s.clientFirstBare + "," + s.serverFirst + "," + msg[:i])
		want := make([]byte, len(clientKey))
		subtle.XORBytes(want, clientKey, s.h.hmac(s.h.sum(clientKey), am))
		if !bytes.Equal(proof, want) {
			t.Fatalf("accepted wrong proof %x, want %x", proof, want)
		}
		wantCB := []byte(s.gs2Header)
		if strings.HasSuffix(name, plusSuffix) {
			wantCB = append(wantCB, cbData...)
		}
		if !strings.HasPrefix(msg, "c="+encodeB64(wantCB)+",r="+s.fullNonce) {
			t.Fatalf("accepted wrong channel binding or nonce: %q", msg)
		}
		if !strings.HasPrefix(string(out), "v=") {
			t.Fatalf("server-final %q", out)
		}
	})
}

// FuzzPLAIN feeds arbitrary PLAIN messages to the server: it must never
// panic, and must succeed only for the exact credentials juliet/secret.
func FuzzPLAIN(f *testing.F) {
	f.Fuzz(func(t *testing.T, msg []byte) {
		called := false
		s, err := NewServer(Plain, ServerConfig{CheckPLAIN: func(u, p string) error {
			called = true
			if u == "juliet" && p == "secret" {
				return nil
			}
			return errors.New("wrong")
		}})
		if err != nil {
			t.Fatal(err)
		}
		_, done, err := s.Next(msg)
		if len(msg) == 0 {
			if err != nil || done {
				t.Fatalf("empty message: done=%v err=%v", done, err)
			}
			return
		}
		if err != nil {
			var fl *Failure
			if !errors.As(err, &fl) {
				t.Fatalf("non-Failure error %v", err)
			}
			if fl.Condition == MalformedRequest && called {
				t.Fatal("CheckPLAIN called for a malformed message")
			}
			return
		}
		if !done || s.Username() != "juliet" {
			t.Fatalf("done=%v user=%q", done, s.Username())
		}
		if string(msg) != s.Authzid()+"\x00juliet\x00secret" {
			t.Fatalf("accepted %q", msg)
		}
	})
}
