package sasl

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"
)

func TestEndPointBinding(t *testing.T) {
	raw := []byte("DER certificate bytes")
	s256 := sha256.Sum256(raw)
	s384 := sha512.Sum384(raw)
	s512 := sha512.Sum512(raw)
	for _, tc := range []struct {
		alg  x509.SignatureAlgorithm
		want []byte
	}{
		{x509.MD5WithRSA, s256[:]},
		{x509.SHA1WithRSA, s256[:]},
		{x509.ECDSAWithSHA1, s256[:]},
		{x509.SHA256WithRSA, s256[:]},
		{x509.ECDSAWithSHA256, s256[:]},
		{x509.SHA384WithRSA, s384[:]},
		{x509.ECDSAWithSHA384, s384[:]},
		{x509.SHA384WithRSAPSS, s384[:]},
		{x509.SHA512WithRSA, s512[:]},
		{x509.ECDSAWithSHA512, s512[:]},
		{x509.PureEd25519, s256[:]},
	} {
		got := EndPointBinding(&x509.Certificate{Raw: raw, SignatureAlgorithm: tc.alg})
		if !bytes.Equal(got, tc.want) {
			t.Errorf("%v: got %x, want %x", tc.alg, got, tc.want)
		}
	}
	if EndPointBinding(nil) != nil {
		t.Error("nil certificate")
	}
}

func TestEndPointBindingRealCert(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:       big.NewInt(1),
		Subject:            pkix.Name{CommonName: "example.org"},
		NotBefore:          time.Now(),
		NotAfter:           time.Now().Add(time.Hour),
		SignatureAlgorithm: x509.ECDSAWithSHA384,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	want := sha512.Sum384(der)
	if got := EndPointBinding(cert); !bytes.Equal(got, want[:]) {
		t.Fatalf("got %x, want %x", got, want)
	}
}

func TestDowngradeHash(t *testing.T) {
	// Without XEP-0440 no %x1F separator is appended.
	m := []string{ScramSHA256, ScramSHA1}
	want := SHA256.sum([]byte("SCRAM-SHA-1\x1eSCRAM-SHA-256"))
	if got := DowngradeHash(SHA256, m, nil); got != encodeB64(want) {
		t.Fatalf("got %s", got)
	}
	if m[0] != ScramSHA256 {
		t.Fatal("input modified")
	}
	// i;octet: uppercase sorts before lowercase and "-PLUS" after its base.
	want = SHA512.sum([]byte("PLAIN\x1eSCRAM-SHA-1\x1eSCRAM-SHA-1-PLUS\x1fa\x1etls-exporter"))
	if got := DowngradeHash(SHA512, []string{ScramSHA1Plus, Plain, ScramSHA1}, []string{"tls-exporter", "a"}); got != encodeB64(want) {
		t.Fatalf("got %s", got)
	}
}

func TestServerSendsDowngradeHash(t *testing.T) {
	cfg := serverCfg(t)
	cfg.Mechanisms = []string{ScramSHA256, ScramSHA256Plus, Plain}
	cfg.ChannelBindings = map[string][]byte{TLSServerEndPoint: {1}, TLSExporter: {2}}
	s, _ := NewServer(ScramSHA256, cfg)
	out, _, err := s.Next([]byte("n,,n=user,r=abc"))
	if err != nil {
		t.Fatal(err)
	}
	want := ",h=" + DowngradeHash(SHA256, cfg.Mechanisms, []string{TLSExporter, TLSServerEndPoint})
	if !bytes.HasSuffix(out, []byte(want)) {
		t.Fatalf("server-first %q lacks %q", out, want)
	}
	// Without a mechanism list the attribute is omitted.
	s, _ = NewServer(ScramSHA256, serverCfg(t))
	out, _, _ = s.Next([]byte("n,,n=user,r=abc"))
	if bytes.Contains(out, []byte(",h=")) {
		t.Fatalf("unexpected h in %q", out)
	}
}

func TestChooseCB(t *testing.T) {
	have := map[string][]byte{TLSExporter: nil, TLSServerEndPoint: nil, "x-custom": nil}
	for _, tc := range []struct {
		server    []string
		preferred string
		want      string
	}{
		{nil, "", TLSExporter},
		{[]string{TLSServerEndPoint}, "", TLSServerEndPoint},
		{nil, TLSServerEndPoint, TLSServerEndPoint},
		{[]string{TLSExporter}, TLSServerEndPoint, TLSExporter},
		{[]string{"x-custom"}, "", "x-custom"},
		{[]string{TLSUnique}, "", ""},
	} {
		if got := chooseCB(have, tc.server, tc.preferred); got != tc.want {
			t.Errorf("chooseCB(%v, %q) = %q, want %q", tc.server, tc.preferred, got, tc.want)
		}
	}
}

func TestPreferred(t *testing.T) {
	all := []string{Plain, ScramSHA1, ScramSHA1Plus, ScramSHA256, ScramSHA256Plus, ScramSHA512, ScramSHA512Plus}
	for _, tc := range []struct {
		offer  []string
		haveCB bool
		want   string
	}{
		{all, true, ScramSHA512Plus},
		{all, false, ScramSHA512},
		{[]string{Plain, ScramSHA1, ScramSHA256Plus, ScramSHA1Plus}, true, ScramSHA256Plus},
		{[]string{Plain, ScramSHA1, ScramSHA256Plus}, false, ScramSHA1},
		{[]string{ScramSHA1Plus, ScramSHA256}, true, ScramSHA1Plus},
		{[]string{Plain, "DIGEST-MD5"}, true, Plain},
		{[]string{"X-OAUTH2"}, true, ""},
		{nil, false, ""},
	} {
		if got := Preferred(tc.offer, tc.haveCB); got != tc.want {
			t.Errorf("Preferred(%v, %v) = %q, want %q", tc.offer, tc.haveCB, got, tc.want)
		}
	}
}

func TestCredentials(t *testing.T) {
	a, err := NewCredentials(SHA256, "pencil", 4096)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewCredentials(SHA256, "pencil", 4096)
	if !a.Valid() || len(a.Salt) != SaltLen || bytes.Equal(a.Salt, b.Salt) {
		t.Fatalf("salts: %x %x", a.Salt, b.Salt)
	}
	if ok, err := VerifyPassword(a, "pencil"); !ok || err != nil {
		t.Fatalf("VerifyPassword(correct) = %v, %v", ok, err)
	}
	if ok, _ := VerifyPassword(a, "pencil2"); ok {
		t.Fatal("VerifyPassword(wrong) = true")
	}
	// OpaqueString maps non-ASCII spaces to U+0020 and applies NFC.
	c1, _ := DeriveCredentials(SHA1, "pen cil", testSalt, 16)
	c2, _ := DeriveCredentials(SHA1, "pen\u00a0cil", testSalt, 16)
	if !bytes.Equal(c1.StoredKey, c2.StoredKey) {
		t.Fatal("password not prepared with OpaqueString")
	}
	c3, _ := DeriveCredentials(SHA1, "e\u0301", testSalt, 16)
	c4, _ := DeriveCredentials(SHA1, "\u00e9", testSalt, 16)
	if !bytes.Equal(c3.StoredKey, c4.StoredKey) {
		t.Fatal("password not NFC-normalized")
	}
	for _, bad := range []func() error{
		func() error { _, err := DeriveCredentials(SHA1, "", testSalt, 16); return err },
		func() error { _, err := DeriveCredentials(SHA1, "x", nil, 16); return err },
		func() error { _, err := DeriveCredentials(SHA1, "x", testSalt, 0); return err },
		func() error { _, err := DeriveCredentials(Hash(42), "x", testSalt, 16); return err },
	} {
		if bad() == nil {
			t.Error("invalid input accepted")
		}
	}
	if SHA1.Name() != "SHA-1" || SHA256.Name() != "SHA-256" || SHA512.Name() != "SHA-512" || Hash(9).Valid() {
		t.Fatal("hash names")
	}
}
