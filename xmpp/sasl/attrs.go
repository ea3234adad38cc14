package sasl

import (
	"encoding/base64"
	"strings"
	"unicode/utf8"
)

// EscapeSASLName encodes a username or authzid as an RFC 5802 saslname:
// "=" becomes "=3D" and "," becomes "=2C".
func EscapeSASLName(s string) string {
	if !strings.ContainsAny(s, "=,") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '=':
			b.WriteString("=3D")
		case ',':
			b.WriteString("=2C")
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// UnescapeSASLName decodes an RFC 5802 saslname. It fails on an empty name,
// invalid UTF-8, NUL or "," characters and on any "=" not starting "=2C" or
// "=3D".
func UnescapeSASLName(s string) (string, bool) {
	if s == "" || !utf8.ValidString(s) || strings.ContainsAny(s, ",\x00") {
		return "", false
	}
	if !strings.Contains(s, "=") {
		return s, true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			b.WriteByte(s[i])
			continue
		}
		if i+3 > len(s) {
			return "", false
		}
		switch s[i+1 : i+3] {
		case "2C":
			b.WriteByte(',')
		case "3D":
			b.WriteByte('=')
		default:
			return "", false
		}
		i += 2
	}
	return b.String(), true
}

// attr splits an RFC 5802 attribute "k=value" into its key and value.
// The key must be a single ASCII letter and the value a non-empty string of
// valid UTF-8 without NUL (commas were already split off).
func attr(field string) (key byte, value string, ok bool) {
	if len(field) < 3 || field[1] != '=' {
		return 0, "", false
	}
	k := field[0]
	if !('a' <= k && k <= 'z' || 'A' <= k && k <= 'Z') {
		return 0, "", false
	}
	v := field[2:]
	if !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 {
		return 0, "", false
	}
	return k, v, true
}

// expect parses field as attribute key and returns its value.
func expect(field string, key byte) (string, bool) {
	k, v, ok := attr(field)
	if !ok || k != key {
		return "", false
	}
	return v, true
}

// validNonce reports whether s is a non-empty sequence of RFC 5802
// "printable" characters (%x21-2B / %x2D-7E).
func validNonce(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == ',' {
			return false
		}
	}
	return true
}

// validCBName reports whether s matches RFC 5802 cb-name:
// 1*(ALPHA / DIGIT / "." / "-").
func validCBName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// decodeB64 decodes strict, padded standard base64.
func decodeB64(s string) ([]byte, bool) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, false
	}
	return b, true
}

func encodeB64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
