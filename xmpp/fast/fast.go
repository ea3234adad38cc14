package fast

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// NS is the FAST namespace (XEP-0484).
const NS = "urn:xmpp:fast:0"

// ErrInvalid is wrapped by every decoding error of this package.
var ErrInvalid = errors.New("fast: invalid element")

// Feature is the SASL2 inline <fast/> feature.
type Feature struct {
	// Mechanisms are the token mechanisms the server accepts.
	Mechanisms []string
	// TLS0RTT says the server accepts authentication in TLS 0-RTT data.
	TLS0RTT bool
}

// Element encodes the feature.
func (f Feature) Element() *stanza.Element {
	el := stanza.New(NS, "fast")
	if f.TLS0RTT {
		el.Set("tls-0rtt", "true")
	}
	for _, m := range f.Mechanisms {
		el.Append(stanza.New(NS, "mechanism").AppendText(m))
	}
	return el
}

// ParseFeature decodes a <fast/> feature.
func ParseFeature(el *stanza.Element) Feature {
	f := Feature{TLS0RTT: parseBool(el.Get("tls-0rtt"))}
	for _, m := range el.ChildrenNamed(NS, "mechanism") {
		if name := strings.TrimSpace(m.Text()); name != "" {
			f.Mechanisms = append(f.Mechanisms, name)
		}
	}
	return f
}

// RequestToken returns the <request-token/> a client adds to its SASL2
// <authenticate/> to obtain a token for mechanism.
func RequestToken(mechanism string) *stanza.Element {
	return stanza.New(NS, "request-token", "mechanism", mechanism)
}

// ParseRequestToken returns the mechanism of a <request-token/>.
func ParseRequestToken(el *stanza.Element) (string, error) {
	m := el.Get("mechanism")
	if m == "" {
		return "", fmt.Errorf("%w: <request-token/> without a mechanism", ErrInvalid)
	}
	return m, nil
}

// Auth is the <fast/> element of a token authentication.
type Auth struct {
	// Count is the client's per-token counter; HasCount says it was sent
	// (it is required with TLS 0-RTT).
	Count    uint64
	HasCount bool
	// Invalidate asks the server to revoke the token once it is used.
	Invalidate bool
}

// Element encodes the element.
func (a Auth) Element() *stanza.Element {
	el := stanza.New(NS, "fast")
	if a.HasCount {
		el.Set("count", strconv.FormatUint(a.Count, 10))
	}
	if a.Invalidate {
		el.Set("invalidate", "true")
	}
	return el
}

// ParseAuth decodes a <fast/> element of an <authenticate/>: count must
// be a positive integer.
func ParseAuth(el *stanza.Element) (Auth, error) {
	var a Auth
	if c := el.Get("count"); el.Has("count") {
		n, err := strconv.ParseUint(c, 10, 63)
		if err != nil || n == 0 {
			return Auth{}, fmt.Errorf("%w: count %q is not a positive integer", ErrInvalid, c)
		}
		a.Count, a.HasCount = n, true
	}
	if v := el.Get("invalidate"); el.Has("invalidate") {
		switch v {
		case "1", "true":
			a.Invalidate = true
		case "0", "false":
		default:
			return Auth{}, fmt.Errorf("%w: invalidate %q is not a boolean", ErrInvalid, v)
		}
	}
	return a, nil
}

// Token is a token the server issues in its SASL2 <success/>.
type Token struct {
	Token  string
	Expiry time.Time
}

// Element encodes the token; the expiry is an XEP-0082 DateTime in UTC.
func (t Token) Element() *stanza.Element {
	return stanza.New(NS, "token", "expiry", t.Expiry.UTC().Format(time.RFC3339), "token", t.Token)
}

// ParseToken decodes a <token/>.
func ParseToken(el *stanza.Element) (Token, error) {
	tok := el.Get("token")
	if tok == "" {
		return Token{}, fmt.Errorf("%w: <token/> without a token", ErrInvalid)
	}
	exp, err := time.Parse(time.RFC3339, el.Get("expiry"))
	if err != nil {
		return Token{}, fmt.Errorf("%w: token expiry: %w", ErrInvalid, err)
	}
	return Token{Token: tok, Expiry: exp}, nil
}

func parseBool(s string) bool { return s == "1" || s == "true" }
