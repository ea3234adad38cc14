//go:build openssl && cgo

package opensslkey_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/parley-xmpp/parley/internal/testca"
	"github.com/parley-xmpp/parley/server/certs/opensslkey"
)

func newKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func newSigner(t testing.TB, key *rsa.PrivateKey) *opensslkey.Signer {
	t.Helper()
	s, err := opensslkey.New(key)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func digest(t testing.TB, h crypto.Hash, msg string) []byte {
	t.Helper()
	w := h.New()
	io.WriteString(w, msg)
	return w.Sum(nil)
}

func TestSignaturesVerifyWithGo(t *testing.T) {
	key := newKey(t)
	s := newSigner(t, key)
	if pub, ok := s.Public().(*rsa.PublicKey); !ok || !pub.Equal(&key.PublicKey) {
		t.Fatalf("Public() = %T %v, want the key's public key", s.Public(), s.Public())
	}
	for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		d := digest(t, h, "message for "+h.String())
		// salt lengths as crypto/rsa takes them, and the exact length
		// the signature must then have
		for _, c := range []struct {
			name      string
			salt, got int
		}{
			{"equals-hash", rsa.PSSSaltLengthEqualsHash, h.Size()},
			{"auto", rsa.PSSSaltLengthAuto, key.Size() - h.Size() - 2},
			{"explicit-20", 20, 20},
		} {
			t.Run(fmt.Sprintf("PSS-%v-%s", h, c.name), func(t *testing.T) {
				sig, err := s.Sign(rand.Reader, d, &rsa.PSSOptions{SaltLength: c.salt, Hash: h})
				if err != nil {
					t.Fatal(err)
				}
				if err := rsa.VerifyPSS(&key.PublicKey, h, d, sig, &rsa.PSSOptions{SaltLength: c.got}); err != nil {
					t.Fatalf("signature with salt %d does not verify with salt length %d: %v", c.salt, c.got, err)
				}
				if err := rsa.VerifyPSS(&key.PublicKey, h, digest(t, h, "another message"), sig, nil); err == nil {
					t.Fatal("signature verifies for another digest")
				}
				again, err := s.Sign(rand.Reader, d, &rsa.PSSOptions{SaltLength: c.salt, Hash: h})
				if err != nil {
					t.Fatal(err)
				}
				if string(again) == string(sig) {
					t.Fatal("two PSS signatures of one digest are equal: no random salt")
				}
			})
		}
		t.Run(fmt.Sprintf("PKCS1v15-%v", h), func(t *testing.T) {
			sig, err := s.Sign(rand.Reader, d, h)
			if err != nil {
				t.Fatal(err)
			}
			if err := rsa.VerifyPKCS1v15(&key.PublicKey, h, d, sig); err != nil {
				t.Fatal(err)
			}
			want, err := rsa.SignPKCS1v15(nil, key, h, d)
			if err != nil {
				t.Fatal(err)
			}
			if string(sig) != string(want) {
				t.Fatal("PKCS #1 v1.5 signature differs from crypto/rsa's (it is deterministic)")
			}
		})
	}
}

func TestSignRejectsBadOptions(t *testing.T) {
	key := newKey(t)
	s := newSigner(t, key)
	d := digest(t, crypto.SHA256, "m")
	for name, c := range map[string]struct {
		digest []byte
		opts   crypto.SignerOpts
		want   string
	}{
		"short digest":    {d[:20], crypto.SHA256, "digest is 20 bytes"},
		"bad salt":        {d, &rsa.PSSOptions{SaltLength: -7, Hash: crypto.SHA256}, "invalid PSS salt length"},
		"salt too long":   {d, &rsa.PSSOptions{SaltLength: 300, Hash: crypto.SHA256}, "openssl:"},
		"PSS without md":  {d, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}, "needs a hash"},
		"unsupported md5": {d[:16], crypto.MD5, "unsupported hash"},
	} {
		if _, err := s.Sign(rand.Reader, c.digest, c.opts); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want one containing %q", name, err, c.want)
		}
	}
	s.Close()
	if _, err := s.Sign(rand.Reader, d, crypto.SHA256); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("after Close: err = %v, want signer closed", err)
	}
}

func TestBadKeyErrors(t *testing.T) {
	if _, err := opensslkey.New(nil); err == nil {
		t.Fatal("New(nil) succeeded")
	}
	a, b := newKey(t), newKey(t)
	// a's private half under b's public key: OpenSSL loads it, but what
	// it signs does not verify with the public key.
	mixed := &rsa.PrivateKey{PublicKey: b.PublicKey, D: a.D, Primes: a.Primes}
	if s, err := opensslkey.New(mixed); err == nil {
		s.Close()
		t.Fatal("New accepted a key whose private half does not match its public one")
	} else {
		t.Log(err)
	}
}

// recorder records the options of the signatures it makes.
type recorder struct {
	crypto.Signer
	mu   sync.Mutex
	opts []crypto.SignerOpts
}

func (r *recorder) Sign(rand io.Reader, d []byte, opts crypto.SignerOpts) ([]byte, error) {
	r.mu.Lock()
	r.opts = append(r.opts, opts)
	r.mu.Unlock()
	return r.Signer.Sign(rand, d, opts)
}

// handshake does a full handshake between a tls.Server with cert and a
// client verifying it against pool, up to version max.
func handshake(t *testing.T, cert tls.Certificate, leaf *testca.RSALeaf, max uint16) tls.ConnectionState {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	errc := make(chan error, 1)
	go func() {
		srv := tls.Server(b, &tls.Config{Certificates: []tls.Certificate{cert}})
		errc <- srv.Handshake()
		b.Close()
	}()
	c := tls.Client(a, &tls.Config{RootCAs: leaf.Pool(), ServerName: leaf.Cert.DNSNames[0], MaxVersion: max,
		CurvePreferences: []tls.CurveID{tls.X25519}})
	if err := c.Handshake(); err != nil {
		t.Fatalf("client handshake: %v (server: %v)", err, <-errc)
	}
	if err := <-errc; err != nil {
		t.Fatalf("server handshake: %v", err)
	}
	return c.ConnectionState()
}

func TestTLSHandshakes(t *testing.T) {
	leaf := testca.NewRSALeaf(t, "rsa.example", 2048)
	s := newSigner(t, leaf.Key)
	for _, c := range []struct {
		name    string
		max     uint16
		algs    []tls.SignatureScheme
		wantPSS bool
		hash    crypto.Hash
	}{
		{"TLS1.3-PSS-SHA256", tls.VersionTLS13, nil, true, crypto.SHA256},
		{"TLS1.3-PSS-SHA512", tls.VersionTLS13, []tls.SignatureScheme{tls.PSSWithSHA512}, true, crypto.SHA512},
		{"TLS1.2-PSS-SHA256", tls.VersionTLS12, []tls.SignatureScheme{tls.PSSWithSHA256}, true, crypto.SHA256},
		{"TLS1.2-PKCS1-SHA256", tls.VersionTLS12, []tls.SignatureScheme{tls.PKCS1WithSHA256}, false, crypto.SHA256},
		{"TLS1.2-PKCS1-SHA384", tls.VersionTLS12, []tls.SignatureScheme{tls.PKCS1WithSHA384}, false, crypto.SHA384},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := &recorder{Signer: s}
			cert := leaf.TLS()
			cert.PrivateKey, cert.SupportedSignatureAlgorithms = rec, c.algs
			st := handshake(t, cert, leaf, c.max)
			if st.Version != c.max {
				t.Fatalf("negotiated version %x, want %x", st.Version, c.max)
			}
			if len(rec.opts) != 1 {
				t.Fatalf("the server signed %d times, want once", len(rec.opts))
			}
			_, pss := rec.opts[0].(*rsa.PSSOptions)
			if pss != c.wantPSS || rec.opts[0].HashFunc() != c.hash {
				t.Fatalf("signed with %T %v, want PSS=%v %v", rec.opts[0], rec.opts[0].HashFunc(), c.wantPSS, c.hash)
			}
		})
	}
}

func TestConcurrentSignatures(t *testing.T) {
	key := newKey(t)
	s := newSigner(t, key)
	d := digest(t, crypto.SHA256, "m")
	opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
	var wg sync.WaitGroup
	errs := make(chan error, 8*20)
	for range 8 {
		wg.Go(func() {
			for range 20 {
				sig, err := s.Sign(rand.Reader, d, opts)
				if err == nil {
					err = rsa.VerifyPSS(&key.PublicKey, crypto.SHA256, d, sig, opts)
				}
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// BenchmarkSignPSS compares an RSA-2048 PSS signature (SHA-256, salt of
// the hash's length, as TLS 1.3 makes) by crypto/rsa and by OpenSSL.
func BenchmarkSignPSS(b *testing.B) {
	key := newKey(b)
	d := digest(b, crypto.SHA256, "m")
	opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
	for _, c := range []struct {
		name   string
		signer crypto.Signer
	}{{"go", key}, {"openssl", newSigner(b, key)}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := c.signer.Sign(rand.Reader, d, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
