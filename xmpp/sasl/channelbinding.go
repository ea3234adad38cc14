package sasl

import (
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"slices"
	"strings"
)

// Channel-binding type names ("channel-binding unique prefixes") as
// advertised with XEP-0440 and sent in the SCRAM GS2 header.
const (
	// TLSExporter is the RFC 9266 binding: the 32 bytes of TLS keying
	// material exported with label "EXPORTER-Channel-Binding" and an empty
	// context.
	TLSExporter = "tls-exporter"
	// TLSServerEndPoint is the RFC 5929 binding: a hash of the server's
	// certificate, see [EndPointBinding].
	TLSServerEndPoint = "tls-server-end-point"
	// TLSUnique is the RFC 5929 tls-unique binding (TLS 1.2 only).
	TLSUnique = "tls-unique"
)

// ExporterLabel is the TLS exporter label for the tls-exporter channel
// binding (RFC 9266 §2); use it with an empty context and length 32.
const ExporterLabel = "EXPORTER-Channel-Binding"

// EndPointBinding returns the tls-server-end-point channel-binding data for
// the server certificate (RFC 5929 §4.1): the hash of the DER certificate,
// using SHA-256 when the certificate's signature algorithm uses MD5, SHA-1
// or SHA-256, and the signature's own hash when it is stronger (SHA-384,
// SHA-512). For signature algorithms without a single hash function (e.g.
// Ed25519), for which RFC 5929 leaves the binding undefined, SHA-256 is used
// as is common practice. It returns nil for a nil certificate.
func EndPointBinding(cert *x509.Certificate) []byte {
	if cert == nil {
		return nil
	}
	switch cert.SignatureAlgorithm {
	case x509.SHA384WithRSA, x509.ECDSAWithSHA384, x509.SHA384WithRSAPSS:
		s := sha512.Sum384(cert.Raw)
		return s[:]
	case x509.SHA512WithRSA, x509.ECDSAWithSHA512, x509.SHA512WithRSAPSS:
		s := sha512.Sum512(cert.Raw)
		return s[:]
	}
	s := sha256.Sum256(cert.Raw)
	return s[:]
}

// DowngradeHash computes the XEP-0474 (SSDP) downgrade protection value for
// the given SASL mechanism list and XEP-0440 channel-binding type list: the
// mechanisms sorted with "i;octet" collation and joined by %x1E, followed,
// only if channel-binding types were advertised (len(cbTypes) > 0), by %x1F
// and the sorted types joined by %x1E; hashed with h and base64-encoded.
// The inputs are not modified.
func DowngradeHash(h Hash, mechanisms, cbTypes []string) string {
	if !h.Valid() {
		return ""
	}
	var b strings.Builder
	m := slices.Clone(mechanisms)
	slices.Sort(m) // byte-wise comparison, i.e. i;octet
	b.WriteString(strings.Join(m, "\x1e"))
	if len(cbTypes) > 0 {
		c := slices.Clone(cbTypes)
		slices.Sort(c)
		b.WriteByte(0x1f)
		b.WriteString(strings.Join(c, "\x1e"))
	}
	return encodeB64(h.sum([]byte(b.String())))
}

// chooseCB picks the channel-binding type a client uses: preferred if
// usable, else the strongest usable known type, else the lexically first
// usable other type. A type is usable if the client has data for it and,
// when serverTypes is non-empty, the server advertised it. It returns "" if
// no type is usable.
func chooseCB(have map[string][]byte, serverTypes []string, preferred string) string {
	usable := func(t string) bool {
		if _, ok := have[t]; !ok {
			return false
		}
		return len(serverTypes) == 0 || slices.Contains(serverTypes, t)
	}
	if preferred != "" && usable(preferred) {
		return preferred
	}
	for _, t := range []string{TLSExporter, TLSUnique, TLSServerEndPoint} { // strongest first
		if usable(t) {
			return t
		}
	}
	var others []string
	for t := range have {
		if usable(t) && validCBName(t) {
			others = append(others, t)
		}
	}
	if len(others) == 0 {
		return ""
	}
	slices.Sort(others)
	return others[0]
}
