package jid

import (
	"net/netip"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/secure/precis"
)

// enforceLocal enforces a non-empty localpart (RFC 7622 §3.3), using the
// ASCII fast path when possible.
func enforceLocal(s string) (string, error) {
	if len(s) > maxRawPartLen {
		return "", malformed("localpart", "too long", nil)
	}
	if fastLocal(s) {
		return s, checkLen("localpart", s)
	}
	return slowLocal(s)
}

// fastLocal reports whether s is made only of printable ASCII that the
// UsernameCaseMapped profile leaves unchanged and that RFC 7622 allows: no
// space, no upper case letter and none of the §3.3.1 forbidden characters.
func fastLocal(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || ('A' <= c && c <= 'Z') || isForbiddenLocal(rune(c)) {
			return false
		}
	}
	return true
}

// slowLocal enforces s with the PRECIS UsernameCaseMapped profile and then
// applies the additional RFC 7622 §3.3.1 restrictions.
func slowLocal(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", malformed("localpart", "is not valid UTF-8", nil)
	}
	out, err := precis.UsernameCaseMapped.String(s)
	if err != nil {
		return "", malformed("localpart", "fails PRECIS UsernameCaseMapped", err)
	}
	if out == "" {
		return "", malformed("localpart", "empty", nil)
	}
	// The check runs on the enforced string: width mapping can turn, for
	// example, U+FF20 FULLWIDTH COMMERCIAL AT into '@'.
	if strings.ContainsFunc(out, isForbiddenLocal) {
		return "", malformed("localpart", "contains a forbidden character", nil)
	}
	return out, checkLen("localpart", out)
}

// isForbiddenLocal reports whether r is one of the characters that RFC 7622
// §3.3.1 excludes from localparts although PRECIS allows them.
func isForbiddenLocal(r rune) bool {
	switch r {
	case '"', '&', '\'', '/', ':', '<', '>', '@':
		return true
	}
	return false
}

// enforceResource enforces a non-empty resourcepart (RFC 7622 §3.4), using
// the ASCII fast path when possible.
func enforceResource(s string) (string, error) {
	if len(s) > maxRawPartLen {
		return "", malformed("resourcepart", "too long", nil)
	}
	if fastResource(s) {
		return s, checkLen("resourcepart", s)
	}
	return slowResource(s)
}

// fastResource reports whether s is made only of printable ASCII (including
// space), which the OpaqueString profile leaves unchanged.
func fastResource(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// slowResource enforces s with the PRECIS OpaqueString profile.
func slowResource(s string) (string, error) {
	// x/text/secure/precis replaces invalid UTF-8 with U+FFFD instead of
	// failing, so check explicitly.
	if !utf8.ValidString(s) {
		return "", malformed("resourcepart", "is not valid UTF-8", nil)
	}
	out, err := precis.OpaqueString.String(s)
	if err != nil {
		return "", malformed("resourcepart", "fails PRECIS OpaqueString", err)
	}
	if out == "" {
		return "", malformed("resourcepart", "empty", nil)
	}
	return out, checkLen("resourcepart", out)
}

// enforceDomain enforces a domainpart (RFC 7622 §3.2): an IPv6 literal in
// brackets, or an IPv4 address or domain name which is normalised with
// IDNA2008 to its Unicode form after removing one trailing dot.
func enforceDomain(s string) (string, error) {
	if s == "" {
		return "", malformed("domainpart", "empty", nil)
	}
	if len(s) > maxRawPartLen {
		return "", malformed("domainpart", "too long", nil)
	}
	if s[0] == '[' {
		return enforceIPv6(s)
	}
	d := stripTrailingDot(s)
	if fastDomain(d) {
		return d, checkLen("domainpart", d)
	}
	return slowDomain(d)
}

// stripTrailingDot removes one trailing label separator: '.', or one of the
// separators that IDNA maps to it (U+3002, U+FF0E, U+FF61).
func stripTrailingDot(s string) string {
	if strings.HasSuffix(s, ".") {
		return s[:len(s)-1]
	}
	for _, sep := range [...]string{"\u3002", "\uff0e", "\uff61"} {
		if strings.HasSuffix(s, sep) {
			return s[:len(s)-len(sep)]
		}
	}
	return s
}

// fastDomain reports whether d is a plain lower-case LDH domain name that
// IDNA processing would return unchanged: labels of [a-z0-9-], none empty,
// none starting or ending with '-', and no "--" anywhere (so no A-labels).
func fastDomain(d string) bool {
	if d == "" {
		return false
	}
	prev := byte('.')
	for i := 0; i < len(d); i++ {
		c := d[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case c == '-':
			if prev == '.' || prev == '-' {
				return false
			}
		case c == '.':
			if prev == '.' || prev == '-' {
				return false
			}
		default:
			return false
		}
		prev = c
	}
	return prev != '-' && prev != '.'
}

// slowDomain normalises d (already stripped of one trailing dot) with the
// IDNA2008 display profile (UTS #46 mapping, STD3 rules, hyphen, joiner and
// Bidi checks) and rejects empty labels.
func slowDomain(d string) (string, error) {
	if d == "" {
		return "", malformed("domainpart", "empty", nil)
	}
	if !utf8.ValidString(d) {
		return "", malformed("domainpart", "is not valid UTF-8", nil)
	}
	out, err := idna.Display.ToUnicode(d)
	if err != nil {
		return "", malformed("domainpart", "is not a valid IDNA2008 domain name", err)
	}
	if out == "" || out[0] == '.' || out[len(out)-1] == '.' || strings.Contains(out, "..") {
		return "", malformed("domainpart", "has an empty label", nil)
	}
	// STD3 rules already exclude these; keep the split invariant explicit.
	if strings.ContainsAny(out, "@/[]") {
		return "", malformed("domainpart", "contains a forbidden character", nil)
	}
	return out, checkLen("domainpart", out)
}

// enforceIPv6 validates a bracketed IPv6 literal and returns it in canonical
// (RFC 5952) form. Zones are not allowed.
func enforceIPv6(s string) (string, error) {
	if len(s) < 2 || s[len(s)-1] != ']' {
		return "", malformed("domainpart", "has an unterminated IPv6 literal", nil)
	}
	addr, err := netip.ParseAddr(s[1 : len(s)-1])
	if err != nil {
		return "", malformed("domainpart", "has an invalid IPv6 literal", err)
	}
	if !addr.Is6() || addr.Zone() != "" {
		return "", malformed("domainpart", "has an invalid IPv6 literal", nil)
	}
	return "[" + addr.String() + "]", nil
}

// checkLen enforces the RFC 7622 §3.1 maximum part length.
func checkLen(part, s string) error {
	if len(s) > MaxPartLen {
		return malformed(part, "longer than 1023 bytes", nil)
	}
	return nil
}
