package fast

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/parley-xmpp/parley/xmpp/sasl"
)

// The Hashed Token mechanisms implemented here: HT-<hash>-<channel
// binding>, with NONE (no channel binding), ENDP (tls-server-end-point,
// RFC 5929) and EXPR (tls-exporter, RFC 9266).
const (
	HTSHA256None = "HT-SHA-256-NONE"
	HTSHA256Endp = "HT-SHA-256-ENDP"
	HTSHA256Expr = "HT-SHA-256-EXPR"
)

// tokenBytes is the entropy of a token; its base64url form (72 bytes) is
// longer than SHA-256's 64-byte block.
const tokenBytes = 54

// ChannelBinding returns the channel-binding type an HT mechanism binds
// to ("" for -NONE), and whether name is an HT mechanism implemented here.
func ChannelBinding(name string) (string, bool) {
	switch name {
	case HTSHA256None:
		return "", true
	case HTSHA256Endp:
		return sasl.TLSServerEndPoint, true
	case HTSHA256Expr:
		return sasl.TLSExporter, true
	}
	return "", false
}

// Mechanisms returns the HT mechanisms usable with the channel-binding
// types in cb: the channel-binding ones first, -NONE last.
func Mechanisms(cb map[string][]byte) []string {
	var out []string
	if _, ok := cb[sasl.TLSExporter]; ok {
		out = append(out, HTSHA256Expr)
	}
	if _, ok := cb[sasl.TLSServerEndPoint]; ok {
		out = append(out, HTSHA256Endp)
	}
	return append(out, HTSHA256None)
}

// NewToken returns a fresh random token and its key digest.
func NewToken() (token string, digest []byte) {
	b := make([]byte, tokenBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, KeyDigest(token)
}

// KeyDigest returns the HMAC key an HT-SHA-256 mechanism effectively uses
// for token: its SHA-256 digest when the token is longer than the hash's
// block (always for tokens of [NewToken]), the token itself otherwise.
func KeyDigest(token string) []byte {
	if len(token) > sha256.BlockSize {
		d := sha256.Sum256([]byte(token))
		return d[:]
	}
	return []byte(token)
}

// InitiatorProof is HMAC(key, "Initiator" || cb), the client's proof.
func InitiatorProof(key, cb []byte) []byte { return proof(key, "Initiator", cb) }

// ResponderProof is HMAC(key, "Responder" || cb), the server's proof.
func ResponderProof(key, cb []byte) []byte { return proof(key, "Responder", cb) }

func proof(key []byte, label string, cb []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(label))
	m.Write(cb)
	return m.Sum(nil)
}

// ParseInitialResponse splits the client's message "authcid NUL proof".
func ParseInitialResponse(b []byte) (username string, proof []byte, err error) {
	i := bytes.IndexByte(b, 0)
	if i <= 0 {
		return "", nil, &sasl.Failure{Condition: sasl.MalformedRequest, Text: "expected authcid NUL hashed-token"}
	}
	if len(b)-i-1 != sha256.Size {
		return "", nil, &sasl.Failure{Condition: sasl.MalformedRequest, Text: "hashed token of the wrong length"}
	}
	return string(b[:i]), b[i+1:], nil
}

// Candidate is a token the server may accept for a user.
type Candidate struct {
	// Key is the token's key digest ([KeyDigest]).
	Key []byte
	// Reject, when not nil, is the failure reported if the client proves
	// this token (expired, bound to another mechanism, replayed).
	Reject error
	// Ref identifies the token to the caller.
	Ref any
}

// ServerConfig configures the server side of an HT mechanism.
type ServerConfig struct {
	// ChannelBindings maps channel-binding types to this connection's
	// data.
	ChannelBindings map[string][]byte
	// Lookup returns the tokens of username. An unknown user has none.
	Lookup func(username string) ([]Candidate, error)
}

// Server is the server side of an HT mechanism; it implements
// sasl.ServerMechanism. The exchange is a single round trip.
type Server struct {
	name    string
	cb      []byte
	lookup  func(string) ([]Candidate, error)
	user    string
	matched *Candidate
	done    bool
}

var _ sasl.ServerMechanism = (*Server)(nil)

// NewServer returns the server side of the HT mechanism name.
func NewServer(name string, cfg ServerConfig) (*Server, error) {
	cbType, ok := ChannelBinding(name)
	if !ok {
		return nil, fmt.Errorf("fast: unsupported mechanism %q", name)
	}
	s := &Server{name: name, lookup: cfg.Lookup}
	if cbType != "" {
		data, ok := cfg.ChannelBindings[cbType]
		if !ok {
			return nil, fmt.Errorf("fast: %s: no %s channel binding on this connection", name, cbType)
		}
		s.cb = data
	}
	return s, nil
}

// Name implements sasl.ServerMechanism.
func (s *Server) Name() string { return s.name }

// Username implements sasl.ServerMechanism.
func (s *Server) Username() string { return s.user }

// Authzid implements sasl.ServerMechanism: HT carries none.
func (s *Server) Authzid() string { return "" }

// Matched returns the token the client proved, once Next succeeded.
func (s *Server) Matched() (Candidate, bool) {
	if s.matched == nil {
		return Candidate{}, false
	}
	return *s.matched, true
}

// Next implements sasl.ServerMechanism: it verifies the client's proof
// against every candidate in constant time and answers with the server's
// proof.
func (s *Server) Next(in []byte) ([]byte, bool, error) {
	if s.done {
		return nil, false, &sasl.Failure{Condition: sasl.MalformedRequest, Text: "exchange already complete"}
	}
	s.done = true
	if len(in) == 0 {
		return nil, false, &sasl.Failure{Condition: sasl.MalformedRequest, Text: "an initial response is required"}
	}
	user, got, err := ParseInitialResponse(in)
	if err != nil {
		return nil, false, err
	}
	s.user = user
	cands, err := s.lookup(user)
	if err != nil {
		return nil, false, err
	}
	var match *Candidate
	for i := range cands {
		want := InitiatorProof(cands[i].Key, s.cb)
		if subtle.ConstantTimeCompare(want, got) == 1 && match == nil {
			match = &cands[i]
		}
	}
	if match == nil {
		return nil, false, &sasl.Failure{Condition: sasl.NotAuthorized, Err: errors.New("fast: no token matches")}
	}
	if match.Reject != nil {
		return nil, false, match.Reject
	}
	s.matched = match
	return ResponderProof(match.Key, s.cb), true, nil
}

// Client is the client side of an HT mechanism; it implements
// sasl.ClientMechanism.
type Client struct {
	name     string
	username string
	key      []byte
	cb       []byte
	done     bool
}

var _ sasl.ClientMechanism = (*Client)(nil)

// NewClient returns the client side of the HT mechanism name for a token;
// cb holds the connection's channel-binding data by type.
func NewClient(name, username, token string, cb map[string][]byte) (*Client, error) {
	cbType, ok := ChannelBinding(name)
	if !ok {
		return nil, fmt.Errorf("fast: unsupported mechanism %q", name)
	}
	if username == "" || strings.IndexByte(username, 0) >= 0 || token == "" {
		return nil, errors.New("fast: a username and a token are required")
	}
	c := &Client{name: name, username: username, key: KeyDigest(token)}
	if cbType != "" {
		data, ok := cb[cbType]
		if !ok {
			return nil, fmt.Errorf("fast: %s: no %s channel binding on this connection", name, cbType)
		}
		c.cb = data
	}
	return c, nil
}

// Name implements sasl.ClientMechanism.
func (c *Client) Name() string { return c.name }

// Start implements sasl.ClientMechanism: "authcid NUL proof".
func (c *Client) Start() ([]byte, error) {
	out := append([]byte(c.username), 0)
	return append(out, InitiatorProof(c.key, c.cb)...), nil
}

// Next implements sasl.ClientMechanism: it verifies the server's proof
// (the success data).
func (c *Client) Next(data []byte) ([]byte, error) {
	if c.done {
		return nil, fmt.Errorf("%w: data after completion", sasl.ErrProtocol)
	}
	if !hmac.Equal(data, ResponderProof(c.key, c.cb)) {
		return nil, sasl.ErrServerSignature
	}
	c.done = true
	return nil, nil
}

// Done implements sasl.ClientMechanism.
func (c *Client) Done() bool { return c.done }
