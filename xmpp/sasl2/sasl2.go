package sasl2

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// Namespaces.
const (
	// NS is the SASL2 namespace (XEP-0388).
	NS = "urn:xmpp:sasl:2"
	// NSSASL is RFC 6120's SASL namespace, which qualifies the condition
	// of a <failure/>.
	NSSASL = "urn:ietf:params:xml:ns:xmpp-sasl"
)

// ErrInvalid is wrapped by every decoding error of this package.
var ErrInvalid = errors.New("sasl2: invalid element")

// ErrEncoding is also wrapped by the errors of SASL data that is not
// valid base64 (RFC 6120's <incorrect-encoding/>).
var ErrEncoding = errors.New("sasl2: incorrect base64 encoding")

// maxUserAgentField bounds the software and device descriptions.
const maxUserAgentField = 256

// UserAgent describes the connecting client installation (XEP-0388 §2.3).
type UserAgent struct {
	// ID is a stable identifier of the installation: a UUID.
	ID string
	// Software and Device are free-text descriptions.
	Software string
	Device   string
}

// Element encodes the user agent.
func (u UserAgent) Element() *stanza.Element {
	el := stanza.New(NS, "user-agent")
	if u.ID != "" {
		el.Set("id", u.ID)
	}
	if u.Software != "" {
		el.Append(stanza.New(NS, "software").AppendText(u.Software))
	}
	if u.Device != "" {
		el.Append(stanza.New(NS, "device").AppendText(u.Device))
	}
	return el
}

// ParseUserAgent decodes a <user-agent/>. The id, when present, must be a
// UUID (the XEP asks for a version 4 one; any version is accepted).
func ParseUserAgent(el *stanza.Element) (UserAgent, error) {
	u := UserAgent{
		ID:       el.Get("id"),
		Software: strings.TrimSpace(el.ChildText(NS, "software")),
		Device:   strings.TrimSpace(el.ChildText(NS, "device")),
	}
	if el.Has("id") && !ValidUUID(u.ID) {
		return UserAgent{}, fmt.Errorf("%w: user-agent id %q is not a UUID", ErrInvalid, u.ID)
	}
	if len(u.Software) > maxUserAgentField || len(u.Device) > maxUserAgentField {
		return UserAgent{}, fmt.Errorf("%w: user-agent description too long", ErrInvalid)
	}
	return u, nil
}

// ValidUUID reports whether s has the textual form of a UUID
// (8-4-4-4-12 hexadecimal digits).
func ValidUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// Feature is the <authentication/> stream feature.
type Feature struct {
	Mechanisms []string
	// Inline are the features that can be negotiated inline (children of
	// <inline/>), such as Bind 2 (XEP-0386) and FAST (XEP-0484).
	Inline []*stanza.Element
}

// Element encodes the feature.
func (f Feature) Element() *stanza.Element {
	el := stanza.New(NS, "authentication")
	for _, m := range f.Mechanisms {
		el.Append(stanza.New(NS, "mechanism").AppendText(m))
	}
	if len(f.Inline) > 0 {
		el.Append(stanza.New(NS, "inline").Append(f.Inline...))
	}
	return el
}

// ParseFeature decodes an <authentication/> feature.
func ParseFeature(el *stanza.Element) Feature {
	var f Feature
	for _, m := range el.ChildrenNamed(NS, "mechanism") {
		if name := strings.TrimSpace(m.Text()); name != "" {
			f.Mechanisms = append(f.Mechanisms, name)
		}
	}
	if in := el.Child(NS, "inline"); in != nil {
		f.Inline = in.Elements()
	}
	return f
}

// InlineFeature returns the inline feature with the given name, or nil.
func (f Feature) InlineFeature(space, local string) *stanza.Element {
	for _, el := range f.Inline {
		if el.Name.Space == space && el.Name.Local == local {
			return el
		}
	}
	return nil
}

// Authenticate is the client's <authenticate/> request.
type Authenticate struct {
	Mechanism string
	// Initial is the initial response; HasInitial says whether one was
	// sent (an empty <initial-response/> is an empty response).
	Initial    []byte
	HasInitial bool
	UserAgent  *UserAgent
	// Extensions are the other children: inline feature requests such as
	// Bind 2's <bind/> or FAST's <request-token/> and <fast/>.
	Extensions []*stanza.Element
}

// Element encodes the request.
func (a Authenticate) Element() *stanza.Element {
	el := stanza.New(NS, "authenticate", "mechanism", a.Mechanism)
	if a.HasInitial {
		el.Append(stanza.New(NS, "initial-response").AppendText(EncodeData(a.Initial)))
	}
	if a.UserAgent != nil {
		el.Append(a.UserAgent.Element())
	}
	return el.Append(a.Extensions...)
}

// ParseAuthenticate decodes an <authenticate/> request.
func ParseAuthenticate(el *stanza.Element) (Authenticate, error) {
	a := Authenticate{Mechanism: el.Get("mechanism")}
	if a.Mechanism == "" {
		return Authenticate{}, fmt.Errorf("%w: <authenticate/> without a mechanism", ErrInvalid)
	}
	for _, c := range el.Elements() {
		switch {
		case c.Name.Space == NS && c.Name.Local == "initial-response":
			if a.HasInitial {
				return Authenticate{}, fmt.Errorf("%w: two initial responses", ErrInvalid)
			}
			data, err := DecodeData(c.Text())
			if err != nil {
				return Authenticate{}, err
			}
			a.Initial, a.HasInitial = data, true
		case c.Name.Space == NS && c.Name.Local == "user-agent":
			if a.UserAgent != nil {
				return Authenticate{}, fmt.Errorf("%w: two user agents", ErrInvalid)
			}
			u, err := ParseUserAgent(c)
			if err != nil {
				return Authenticate{}, err
			}
			a.UserAgent = &u
		case c.Name.Space == NS:
			return Authenticate{}, fmt.Errorf("%w: unexpected <%s/> in <authenticate/>", ErrInvalid, c.Name.Local)
		default:
			a.Extensions = append(a.Extensions, c)
		}
	}
	return a, nil
}

// Extension returns the first extension with the given name, or nil.
func (a Authenticate) Extension(space, local string) *stanza.Element {
	for _, el := range a.Extensions {
		if el.Name.Space == space && el.Name.Local == local {
			return el
		}
	}
	return nil
}

// Success is the server's <success/>.
type Success struct {
	// AdditionalData is the mechanism's final data (nil: none).
	AdditionalData []byte
	// AuthorizationIdentifier is the bare JID, or the full JID once a
	// resource was bound.
	AuthorizationIdentifier string
	// Extensions are the results of inline features (<bound/>, <token/>).
	Extensions []*stanza.Element
}

// Element encodes the success.
func (s Success) Element() *stanza.Element {
	el := stanza.New(NS, "success")
	if s.AdditionalData != nil {
		el.Append(stanza.New(NS, "additional-data").AppendText(EncodeData(s.AdditionalData)))
	}
	el.Append(stanza.New(NS, "authorization-identifier").AppendText(s.AuthorizationIdentifier))
	return el.Append(s.Extensions...)
}

// ParseSuccess decodes a <success/>.
func ParseSuccess(el *stanza.Element) (Success, error) {
	var s Success
	for _, c := range el.Elements() {
		switch {
		case c.Name.Space == NS && c.Name.Local == "additional-data":
			data, err := DecodeData(c.Text())
			if err != nil {
				return Success{}, err
			}
			s.AdditionalData = data
		case c.Name.Space == NS && c.Name.Local == "authorization-identifier":
			s.AuthorizationIdentifier = strings.TrimSpace(c.Text())
		case c.Name.Space == NS:
		default:
			s.Extensions = append(s.Extensions, c)
		}
	}
	if s.AuthorizationIdentifier == "" {
		return Success{}, fmt.Errorf("%w: <success/> without an authorization identifier", ErrInvalid)
	}
	return s, nil
}

// Failure is the server's <failure/>.
type Failure struct {
	// Condition is an RFC 6120 §6.5 condition ("not-authorized", ...).
	Condition string
	Text      string
}

// Element encodes the failure.
func (f Failure) Element() *stanza.Element {
	el := stanza.New(NS, "failure").Append(stanza.New(NSSASL, f.Condition))
	if f.Text != "" {
		t := stanza.New(NS, "text")
		t.SetNS(stanza.NSXML, "lang", "en")
		el.Append(t.AppendText(f.Text))
	}
	return el
}

// ParseFailure decodes a <failure/>; a missing condition reads as
// not-authorized.
func ParseFailure(el *stanza.Element) Failure {
	var f Failure
	for _, c := range el.Elements() {
		switch {
		case c.Name.Space == NSSASL && f.Condition == "":
			f.Condition = c.Name.Local
		case c.Name.Local == "text" && (c.Name.Space == NS || c.Name.Space == NSSASL):
			f.Text = c.Text()
		}
	}
	if f.Condition == "" {
		f.Condition = "not-authorized"
	}
	return f
}

// Error implements error.
func (f Failure) Error() string {
	if f.Text != "" {
		return "sasl2: " + f.Condition + ": " + f.Text
	}
	return "sasl2: " + f.Condition
}

// Challenge returns a <challenge/> carrying data.
func Challenge(data []byte) *stanza.Element {
	return stanza.New(NS, "challenge").AppendText(EncodeData(data))
}

// Response returns a <response/> carrying data.
func Response(data []byte) *stanza.Element {
	return stanza.New(NS, "response").AppendText(EncodeData(data))
}

// Abort returns an <abort/>.
func Abort() *stanza.Element { return stanza.New(NS, "abort") }

// EncodeData encodes SASL data: base64 without line breaks; empty data is
// an empty element (XEP-0388 §2.2).
func EncodeData(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// DecodeData decodes SASL data, ignoring whitespace around and inside the
// base64 text (the XEP's own examples wrap it in whitespace).
func DecodeData(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\r', '\n':
			return -1
		}
		return r
	}, s)
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %w: %w", ErrInvalid, ErrEncoding, err)
	}
	return b, nil
}
