package certid_test

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/internal/testca"
	"github.com/parley-xmpp/parley/server/s2s/certid"
)

func TestVerify(t *testing.T) {
	ca := testca.New(t)
	other := testca.New(t)
	opts := certid.Options{Roots: ca.Pool}
	issue := func(c *testca.CA, ids certid.Identities, edit func(*x509.Certificate)) *x509.Certificate {
		return c.Issue(t, "x", ids, edit).Cert
	}
	for _, tc := range []struct {
		name   string
		cert   *x509.Certificate
		domain string
		want   certid.Method // "" means refused
		noName bool          // refused because no identity matched (chain valid)
	}{
		{"DNS-ID", issue(ca, certid.Identities{DNS: []string{"a.example"}}, nil), "a.example", certid.DNSID, false},
		{"DNS-ID case and trailing dot", issue(ca, certid.Identities{DNS: []string{"A.Example."}}, nil), "a.EXAMPLE", certid.DNSID, false},
		{"wildcard", issue(ca, certid.Identities{DNS: []string{"*.example.org"}}, nil), "chat.example.org", certid.DNSID, false},
		{"wildcard is not the parent", issue(ca, certid.Identities{DNS: []string{"*.example.org"}}, nil), "example.org", "", true},
		{"wildcard is one label", issue(ca, certid.Identities{DNS: []string{"*.example.org"}}, nil), "a.b.example.org", "", true},
		{"SRV-ID", issue(ca, certid.Identities{SRV: []string{"_xmpp-server.b.example"}}, nil), "b.example", certid.SRVID, false},
		{"SRV-ID for direct TLS", issue(ca, certid.Identities{SRV: []string{"_xmpps-server.b.example"}}, nil), "b.example", certid.SRVID, false},
		{"SRV-ID of the client service", issue(ca, certid.Identities{SRV: []string{"_xmpp-client.b.example"}}, nil), "b.example", "", true},
		{"XmppAddr", issue(ca, certid.Identities{XmppAddr: []string{"c.example"}}, nil), "c.example", certid.XmppAddr, false},
		{"IDN as U-label in XmppAddr", issue(ca, certid.Identities{XmppAddr: []string{"bücher.example"}}, nil), "xn--bcher-kva.example", certid.XmppAddr, false},
		{"IDN domain against an A-label DNS-ID", issue(ca, certid.Identities{DNS: []string{"xn--bcher-kva.example"}}, nil), "bücher.example", certid.DNSID, false},
		{"common name only", ca.Issue(t, "d.example", certid.Identities{}, nil).Cert, "d.example", "", true},
		{"another domain", issue(ca, certid.Identities{DNS: []string{"evil.example"}}, nil), "a.example", "", true},
		{"server authentication only", issue(ca, certid.Identities{DNS: []string{"a.example"}}, nil), "a.example", certid.DNSID, false},
		{"client authentication only", issue(ca, certid.Identities{DNS: []string{"a.example"}}, func(c *x509.Certificate) {
			c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		}), "a.example", certid.DNSID, false},
		{"e-mail protection only", issue(ca, certid.Identities{DNS: []string{"a.example"}}, func(c *x509.Certificate) {
			c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}
		}), "a.example", "", false},
		{"expired", issue(ca, certid.Identities{DNS: []string{"a.example"}}, func(c *x509.Certificate) {
			c.NotAfter = time.Now().Add(-time.Minute)
		}), "a.example", "", false},
		{"untrusted issuer", issue(other, certid.Identities{DNS: []string{"a.example"}}, nil), "a.example", "", false},
	} {
		got, err := certid.Verify([]*x509.Certificate{tc.cert}, tc.domain, opts)
		switch {
		case tc.want != "" && (err != nil || got != tc.want):
			t.Errorf("%s: Verify = %q, %v; want %q", tc.name, got, err, tc.want)
		case tc.want == "" && err == nil:
			t.Errorf("%s: Verify accepted it (%q)", tc.name, got)
		case tc.want == "" && errors.Is(err, certid.ErrNoMatch) != tc.noName:
			t.Errorf("%s: Verify error %v; want a name mismatch: %v", tc.name, err, tc.noName)
		}
	}
	if _, err := certid.Verify(nil, "a.example", opts); err == nil {
		t.Error("Verify accepted an empty chain")
	}
}

// TestVerifyWithIntermediate: the peer sends its intermediate after its
// own certificate.
func TestVerifyWithIntermediate(t *testing.T) {
	root := testca.New(t)
	inter := root.Sub(t)
	leaf := inter.Issue(t, "x", certid.Identities{DNS: []string{"a.example"}}, nil)
	if m, err := certid.Verify(leaf.Chain, "a.example", certid.Options{Roots: root.Pool}); err != nil || m != certid.DNSID {
		t.Fatalf("Verify with the intermediate = %q, %v", m, err)
	}
	if _, err := certid.Verify([]*x509.Certificate{leaf.Cert}, "a.example", certid.Options{Roots: root.Pool}); err == nil {
		t.Fatal("Verify accepted a chain missing its intermediate")
	}
}

// TestParseOpenSSLCertificate reads a certificate made by OpenSSL with
// otherName entries, as operators make them:
//
//	openssl req -x509 ... -addext "subjectAltName=DNS:dns.example,
//	  otherName:1.3.6.1.5.5.7.8.7;IA5:_xmpp-server.srv.example,
//	  otherName:1.3.6.1.5.5.7.8.5;UTF8:xmpp.example,
//	  otherName:1.3.6.1.5.5.7.8.5;UTF8:xn--mnchen-3ya.example"
func TestParseOpenSSLCertificate(t *testing.T) {
	b, err := os.ReadFile("testdata/openssl-othernames.pem")
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := certid.Parse(cert)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids.DNS, []string{"dns.example"}) || !slices.Equal(ids.SRV, []string{"_xmpp-server.srv.example"}) ||
		!slices.Equal(ids.XmppAddr, []string{"xmpp.example", "xn--mnchen-3ya.example"}) {
		t.Fatalf("Parse = %+v", ids)
	}
	for domain, want := range map[string]certid.Method{
		"dns.example": certid.DNSID, "srv.example": certid.SRVID, "xmpp.example": certid.XmppAddr,
		"münchen.example": certid.XmppAddr, "cn-only.example": "",
	} {
		if m, ok := ids.Match(domain, certid.ServiceServer); m != want || ok != (want != "") {
			t.Errorf("Match(%s) = %q, %v; want %q", domain, m, ok, want)
		}
	}
}

// TestExtensionRoundTrip: what Extension writes, Parse reads back.
func TestExtensionRoundTrip(t *testing.T) {
	want := certid.Identities{DNS: []string{"a.example", "*.b.example"}, SRV: []string{"_xmpp-server.c.example"}, XmppAddr: []string{"d.example", "ü.example"}}
	cert := testca.New(t).Issue(t, "x", want, nil).Cert
	got, err := certid.Parse(cert)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.DNS, want.DNS) || !slices.Equal(got.SRV, want.SRV) || !slices.Equal(got.XmppAddr, want.XmppAddr) {
		t.Fatalf("Parse = %+v, want %+v", got, want)
	}
}
