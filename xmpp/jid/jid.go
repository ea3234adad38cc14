package jid

import (
	"errors"
	"fmt"
	"strings"
)

// ErrMalformed is wrapped by every error returned when an address cannot be
// parsed or enforced, so callers can map it to the <jid-malformed/> error
// condition with errors.Is.
var ErrMalformed = errors.New("malformed JID")

// MaxPartLen is the maximum length in bytes of each of the localpart,
// domainpart and resourcepart after enforcement (RFC 7622 §3.1).
const MaxPartLen = 1023

// maxRawPartLen bounds the length of a part before enforcement, so that
// pathological inputs are rejected before any Unicode processing is done.
// Enforcement can shrink a part (width mapping, IDNA removal of ignorable
// code points), so the bound is generous.
const maxRawPartLen = 4 * MaxPartLen

// JID is an XMPP address. The zero value is the empty (invalid) address.
//
// All parts are stored already enforced, so JID is a comparable value type
// and == reports whether two JIDs denote the same address.
type JID struct {
	local    string
	domain   string
	resource string
}

// Parse parses and enforces s as an XMPP address according to RFC 7622.
// Errors wrap [ErrMalformed].
func Parse(s string) (JID, error) {
	rest, resource, hasResource := strings.Cut(s, "/")
	var local, domain string
	hasLocal := false
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		local, domain, hasLocal = rest[:at], rest[at+1:], true
	} else {
		domain = rest
	}
	if hasLocal && local == "" {
		return JID{}, malformed("localpart", "empty", nil)
	}
	if hasResource && resource == "" {
		return JID{}, malformed("resourcepart", "empty", nil)
	}
	return build(local, domain, resource)
}

// MustParse is like [Parse] but panics if s is not a valid address. It is
// intended for tests and for initialising constants.
func MustParse(s string) JID {
	j, err := Parse(s)
	if err != nil {
		panic(fmt.Sprintf("jid: MustParse(%q): %v", s, err))
	}
	return j
}

// New builds a JID from its separate parts, enforcing each of them. An empty
// local or resource means that part is absent; the domain is required.
// Errors wrap [ErrMalformed].
func New(local, domain, resource string) (JID, error) {
	return build(local, domain, resource)
}

// build enforces the already split parts; empty local and resource mean
// "absent".
func build(local, domain, resource string) (JID, error) {
	var (
		j   JID
		err error
	)
	if j.domain, err = enforceDomain(domain); err != nil {
		return JID{}, err
	}
	if local != "" {
		if j.local, err = enforceLocal(local); err != nil {
			return JID{}, err
		}
	}
	if resource != "" {
		if j.resource, err = enforceResource(resource); err != nil {
			return JID{}, err
		}
	}
	return j, nil
}

// Local returns the enforced localpart, or "" if there is none.
func (j JID) Local() string { return j.local }

// Domain returns the enforced domainpart.
func (j JID) Domain() string { return j.domain }

// Resource returns the enforced resourcepart, or "" if there is none.
func (j JID) Resource() string { return j.resource }

// Bare returns the JID without its resourcepart.
func (j JID) Bare() JID { return JID{local: j.local, domain: j.domain} }

// DomainJID returns a JID consisting only of the domainpart of j.
func (j JID) DomainJID() JID { return JID{domain: j.domain} }

// WithResource returns a copy of j with its resourcepart replaced by the
// enforced form of r. An empty r yields the bare JID. Errors wrap
// [ErrMalformed].
func (j JID) WithResource(r string) (JID, error) {
	if j.IsZero() {
		return JID{}, malformed("domainpart", "empty", nil)
	}
	out := j.Bare()
	if r == "" {
		return out, nil
	}
	res, err := enforceResource(r)
	if err != nil {
		return JID{}, err
	}
	out.resource = res
	return out, nil
}

// IsBare reports whether j has no resourcepart.
func (j JID) IsBare() bool { return j.resource == "" }

// IsZero reports whether j is the zero value (no domainpart).
func (j JID) IsZero() bool { return j.domain == "" }

// Equal reports whether j and o are the same address. It is equivalent to
// j == o.
func (j JID) Equal(o JID) bool { return j == o }

// String returns the canonical textual form localpart@domainpart/resourcepart
// (absent parts and their separators omitted). The zero JID yields "".
func (j JID) String() string {
	n := len(j.domain)
	if j.local != "" {
		n += len(j.local) + 1
	}
	if j.resource != "" {
		n += len(j.resource) + 1
	}
	if n == len(j.domain) {
		return j.domain
	}
	var b strings.Builder
	b.Grow(n)
	if j.local != "" {
		b.WriteString(j.local)
		b.WriteByte('@')
	}
	b.WriteString(j.domain)
	if j.resource != "" {
		b.WriteByte('/')
		b.WriteString(j.resource)
	}
	return b.String()
}

// MarshalText implements encoding.TextMarshaler; it returns [JID.String].
func (j JID) MarshalText() ([]byte, error) { return []byte(j.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler using [Parse].
func (j *JID) UnmarshalText(text []byte) error {
	parsed, err := Parse(string(text))
	if err != nil {
		return err
	}
	*j = parsed
	return nil
}

// malformed builds an error wrapping ErrMalformed (and cause, if any).
func malformed(part, reason string, cause error) error {
	if cause != nil {
		return fmt.Errorf("jid: %s %s: %w: %w", part, reason, ErrMalformed, cause)
	}
	return fmt.Errorf("jid: %s %s: %w", part, reason, ErrMalformed)
}
