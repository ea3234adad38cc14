// Package certid decides whether an X.509 certificate vouches for an XMPP
// domain: the identity checks of RFC 6120 §13.7.2 with the rules of
// RFC 6125, used by server-to-server streams (SASL EXTERNAL, XEP-0178)
// to authenticate a peer domain.
//
// A certificate names the domains it is for in its subjectAltName
// extension, as DNS-IDs (dNSName, with a wildcard allowed as the whole
// left-most label), SRV-IDs (otherName id-on-dnsSRV, RFC 4985, such as
// "_xmpp-server.example.org") and XmppAddr identifiers (otherName
// id-on-xmppAddr, RFC 6120 §13.7.1.4). The subject's common name is never
// used (RFC 9525 retired the CN-ID; public CAs always fill
// subjectAltName).
package certid

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/net/idna"
)

// Object identifiers of the subjectAltName extension and of the two
// otherName forms XMPP uses.
var (
	oidSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}
	// OIDXmppAddr is id-on-xmppAddr (RFC 6120 §13.7.1.4).
	OIDXmppAddr = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 8, 5}
	// OIDSRVName is id-on-dnsSRV (RFC 4985).
	OIDSRVName = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 8, 7}
)

// Services named by SRV-IDs: server-to-server, and client-to-server.
const (
	ServiceServer = "xmpp-server"
	ServiceClient = "xmpp-client"
)

// Method says which identifier of a certificate matched a domain.
type Method string

// The identifier types of RFC 6125 that XMPP uses.
const (
	DNSID    Method = "DNS-ID"
	SRVID    Method = "SRV-ID"
	XmppAddr Method = "XmppAddr"
)

// ErrNoMatch is returned (wrapped) by Verify when the chain is valid but
// names no identity of the domain.
var ErrNoMatch = errors.New("certificate does not name the domain")

// Identities are the names a certificate's subjectAltName extension
// holds, as written there.
type Identities struct {
	// DNS are the dNSName entries.
	DNS []string
	// SRV are the SRVName entries, such as "_xmpp-server.example.org".
	SRV []string
	// XmppAddr are the id-on-xmppAddr entries.
	XmppAddr []string
}

// Parse reads the identities of cert's subjectAltName extension. A
// certificate without one has none; a malformed one is an error.
func Parse(cert *x509.Certificate) (Identities, error) {
	ids := Identities{DNS: cert.DNSNames}
	for _, ext := range cert.Extensions {
		if !ext.Id.Equal(oidSubjectAltName) {
			continue
		}
		other, err := parseOtherNames(ext.Value)
		if err != nil {
			return Identities{}, fmt.Errorf("certid: subjectAltName: %w", err)
		}
		ids.SRV = append(ids.SRV, other.SRV...)
		ids.XmppAddr = append(ids.XmppAddr, other.XmppAddr...)
	}
	return ids, nil
}

// otherName is the otherName choice of GeneralName (RFC 5280 §4.2.1.6).
type otherName struct {
	TypeID asn1.ObjectIdentifier
	Value  asn1.RawValue `asn1:"explicit,tag:0"`
}

// parseOtherNames reads the SRVName and xmppAddr entries of a DER
// subjectAltName extension value; other entries are skipped.
func parseOtherNames(der []byte) (Identities, error) {
	var seq asn1.RawValue
	rest, err := asn1.Unmarshal(der, &seq)
	if err != nil {
		return Identities{}, err
	}
	if len(rest) != 0 || seq.Class != asn1.ClassUniversal || seq.Tag != asn1.TagSequence || !seq.IsCompound {
		return Identities{}, errors.New("not a sequence of general names")
	}
	var ids Identities
	for body := seq.Bytes; len(body) > 0; {
		var gn asn1.RawValue
		if body, err = asn1.Unmarshal(body, &gn); err != nil {
			return Identities{}, err
		}
		if gn.Class != asn1.ClassContextSpecific || gn.Tag != 0 {
			continue // not an otherName
		}
		var on otherName
		// The otherName is implicitly tagged [0]: re-tag it as the
		// SEQUENCE it is to decode it.
		full := append([]byte{0x30}, gn.FullBytes[1:]...)
		if r, err := asn1.Unmarshal(full, &on); err != nil || len(r) != 0 {
			return Identities{}, fmt.Errorf("malformed otherName")
		}
		switch {
		case on.TypeID.Equal(OIDXmppAddr):
			var s string
			if r, err := asn1.UnmarshalWithParams(on.Value.Bytes, &s, "utf8"); err != nil || len(r) != 0 {
				return Identities{}, fmt.Errorf("xmppAddr is not a UTF8String")
			}
			ids.XmppAddr = append(ids.XmppAddr, s)
		case on.TypeID.Equal(OIDSRVName):
			var s string
			if r, err := asn1.UnmarshalWithParams(on.Value.Bytes, &s, "ia5"); err != nil || len(r) != 0 {
				return Identities{}, fmt.Errorf("SRVName is not an IA5String")
			}
			ids.SRV = append(ids.SRV, s)
		}
	}
	return ids, nil
}

// Match reports whether the identities name domain for service
// (ServiceServer or ServiceClient), and by which identifier. Domains are
// compared in their A-label (ASCII) form, case-insensitively; a DNS-ID
// "*.example.org" matches exactly one label in place of the "*"; SRV-IDs
// and XmppAddr identifiers match only exactly. For ServiceServer an
// SRV-ID of "_xmpps-server" (direct TLS, XEP-0368) counts too, and
// likewise "_xmpps-client" for ServiceClient.
func (ids Identities) Match(domain, service string) (Method, bool) {
	ref, ok := aLabel(domain)
	if !ok {
		return "", false
	}
	for _, d := range ids.DNS {
		if matchDNS(d, ref) {
			return DNSID, true
		}
	}
	for _, s := range ids.SRV {
		name, host, ok := strings.Cut(s, ".")
		if !ok || (name != "_"+service && name != "_"+strings.Replace(service, "xmpp-", "xmpps-", 1)) {
			continue
		}
		if h, ok := aLabel(host); ok && h == ref {
			return SRVID, true
		}
	}
	for _, x := range ids.XmppAddr {
		if h, ok := aLabel(x); ok && h == ref {
			return XmppAddr, true
		}
	}
	return "", false
}

// matchDNS matches a dNSName pattern against a reference domain in A-label
// form (RFC 6125 §6.4.3): a "*" is allowed only as the complete left-most
// label of a pattern with at least two more labels, and stands for one
// label.
func matchDNS(pattern, ref string) bool {
	pattern = strings.TrimSuffix(strings.ToLower(pattern), ".")
	if rest, ok := strings.CutPrefix(pattern, "*."); ok {
		if !strings.Contains(rest, ".") || strings.Contains(rest, "*") {
			return false
		}
		label, parent, ok := strings.Cut(ref, ".")
		return ok && label != "" && parent == rest
	}
	if strings.Contains(pattern, "*") {
		return false // partial wildcards are not accepted
	}
	return pattern == ref
}

// aLabel returns domain in lower-case A-label form, or false when it is
// not a valid domain name.
func aLabel(domain string) (string, bool) {
	a, err := idna.Lookup.ToASCII(strings.TrimSuffix(domain, "."))
	if err != nil || a == "" {
		return "", false
	}
	return strings.ToLower(a), true
}

// Options configure Verify.
type Options struct {
	// Roots are the trusted CAs; nil means the system's.
	Roots *x509.CertPool
	// Service is ServiceServer (the default when empty) or
	// ServiceClient.
	Service string
	// Now is the time to check validity at; zero means now.
	Now time.Time
}

// Verify checks that chain (the peer's certificate first, then the
// intermediates it sent) leads to a trusted root and names domain. A
// certificate whose extended key usage allows TLS server authentication
// or client authentication is accepted for either direction: public CAs
// issue server certificates only, and a server presents its one
// certificate both when it accepts and when it initiates a stream. It
// returns the identifier that matched.
func Verify(chain []*x509.Certificate, domain string, o Options) (Method, error) {
	if len(chain) == 0 {
		return "", errors.New("certid: no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	if _, err := chain[0].Verify(x509.VerifyOptions{
		Roots:         o.Roots,
		Intermediates: inter,
		CurrentTime:   o.Now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}); err != nil {
		return "", fmt.Errorf("certid: %w", err)
	}
	ids, err := Parse(chain[0])
	if err != nil {
		return "", err
	}
	service := o.Service
	if service == "" {
		service = ServiceServer
	}
	m, ok := ids.Match(domain, service)
	if !ok {
		return "", fmt.Errorf("certid: %s: %w", domain, ErrNoMatch)
	}
	return m, nil
}

// Extension returns a subjectAltName extension holding ids, for issuing
// certificates (x509.Certificate.ExtraExtensions): test CAs, and tools
// that make a certificate for an XMPP service.
func Extension(ids Identities) (pkix.Extension, error) {
	var names []asn1.RawValue
	for _, d := range ids.DNS {
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2, Bytes: []byte(d)})
	}
	for _, s := range ids.SRV {
		n, err := otherNameValue(OIDSRVName, s, "ia5")
		if err != nil {
			return pkix.Extension{}, fmt.Errorf("certid: SRVName %q: %w", s, err)
		}
		names = append(names, n)
	}
	for _, x := range ids.XmppAddr {
		n, err := otherNameValue(OIDXmppAddr, x, "utf8")
		if err != nil {
			return pkix.Extension{}, fmt.Errorf("certid: xmppAddr %q: %w", x, err)
		}
		names = append(names, n)
	}
	der, err := asn1.Marshal(names)
	if err != nil {
		return pkix.Extension{}, fmt.Errorf("certid: subjectAltName: %w", err)
	}
	return pkix.Extension{Id: oidSubjectAltName, Value: der}, nil
}

// otherNameValue encodes the GeneralName otherName [0] holding v, a
// string of the ASN.1 type params, under the type oid.
func otherNameValue(oid asn1.ObjectIdentifier, v, params string) (asn1.RawValue, error) {
	inner, err := asn1.MarshalWithParams(v, params)
	if err != nil {
		return asn1.RawValue{}, err
	}
	value, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: inner})
	if err != nil {
		return asn1.RawValue{}, err
	}
	seq, err := asn1.Marshal(struct {
		TypeID asn1.ObjectIdentifier
		Value  asn1.RawValue
	}{oid, asn1.RawValue{FullBytes: value}})
	if err != nil {
		return asn1.RawValue{}, err
	}
	// Re-tag the SEQUENCE as the implicit, constructed [0] of GeneralName.
	seq[0] = 0xa0
	return asn1.RawValue{FullBytes: seq}, nil
}
