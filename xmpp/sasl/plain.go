package sasl

import (
	"bytes"
	"errors"
	"fmt"
	"unicode/utf8"
)

// maxPlainField is the maximum length of each PLAIN field (RFC 4616 §2).
const maxPlainField = 255

// plainServer is the server side of PLAIN (RFC 4616).
type plainServer struct {
	check        func(username, password string) error
	askedInitial bool
	finished     bool
	user, authz  string
}

// Name implements ServerMechanism.
func (p *plainServer) Name() string { return Plain }

// Username implements ServerMechanism.
func (p *plainServer) Username() string { return p.user }

// Authzid implements ServerMechanism.
func (p *plainServer) Authzid() string { return p.authz }

// ParsePLAIN splits a PLAIN message "authzid NUL authcid NUL passwd"
// (RFC 4616 §2). It fails unless there are exactly three fields, authcid and
// passwd are non-empty, each field is at most 255 octets and all are UTF-8.
func ParsePLAIN(msg []byte) (authzid, authcid, passwd string, err error) {
	parts := bytes.Split(msg, []byte{0})
	if len(parts) != 3 {
		return "", "", "", fail(MalformedRequest, "PLAIN message must have three NUL-separated fields")
	}
	for _, f := range parts {
		if len(f) > maxPlainField || !utf8.Valid(f) {
			return "", "", "", fail(MalformedRequest, "invalid PLAIN field")
		}
	}
	if len(parts[1]) == 0 || len(parts[2]) == 0 {
		return "", "", "", fail(MalformedRequest, "empty PLAIN authcid or password")
	}
	return string(parts[0]), string(parts[1]), string(parts[2]), nil
}

// Next implements ServerMechanism.
func (p *plainServer) Next(in []byte) ([]byte, bool, error) {
	if p.finished {
		return nil, false, fail(MalformedRequest, "unexpected message after end of exchange")
	}
	if len(in) == 0 && !p.askedInitial {
		p.askedInitial = true
		return []byte{}, false, nil
	}
	p.finished = true
	authz, user, pass, err := ParsePLAIN(in)
	if err != nil {
		return nil, false, err
	}
	if err := p.check(user, pass); err != nil {
		var f *Failure
		if errors.As(err, &f) {
			return nil, false, f
		}
		return nil, false, &Failure{Condition: NotAuthorized, Err: err}
	}
	p.user, p.authz = user, authz
	return nil, true, nil
}

// externalServer is a minimal server side of EXTERNAL (RFC 4422 App. A):
// the identity comes from the lower layer via the configured callback.
type externalServer struct {
	check       func(authzid string) (string, error)
	finished    bool
	user, authz string
}

// Name implements ServerMechanism.
func (e *externalServer) Name() string { return External }

// Username implements ServerMechanism.
func (e *externalServer) Username() string { return e.user }

// Authzid implements ServerMechanism.
func (e *externalServer) Authzid() string { return e.authz }

// Next implements ServerMechanism. The message is the requested authzid;
// an empty message requests none. (The RFC 6120 §6.4.2 "=" encoding of an
// empty response is decoded by the transport.)
func (e *externalServer) Next(in []byte) ([]byte, bool, error) {
	if e.finished {
		return nil, false, fail(MalformedRequest, "unexpected message after end of exchange")
	}
	e.finished = true
	if !utf8.Valid(in) || bytes.IndexByte(in, 0) >= 0 {
		return nil, false, fail(MalformedRequest, "invalid EXTERNAL authzid")
	}
	authz := string(in)
	user, err := e.check(authz)
	if err != nil {
		var f *Failure
		if errors.As(err, &f) {
			return nil, false, f
		}
		return nil, false, &Failure{Condition: NotAuthorized, Err: err}
	}
	if user == "" {
		return nil, false, fail(NotAuthorized, "no external identity")
	}
	e.user, e.authz = user, authz
	return nil, true, nil
}

// anonymousServer is a minimal server side of ANONYMOUS (RFC 4505). The
// optional trace information is ignored; Username stays empty and the
// caller assigns a temporary identity.
type anonymousServer struct{ finished bool }

// Name implements ServerMechanism.
func (a *anonymousServer) Name() string { return Anonymous }

// Username implements ServerMechanism.
func (a *anonymousServer) Username() string { return "" }

// Authzid implements ServerMechanism.
func (a *anonymousServer) Authzid() string { return "" }

// Next implements ServerMechanism.
func (a *anonymousServer) Next(in []byte) ([]byte, bool, error) {
	if a.finished {
		return nil, false, fail(MalformedRequest, "unexpected message after end of exchange")
	}
	a.finished = true
	if len(in) > maxPlainField || !utf8.Valid(in) {
		return nil, false, fail(MalformedRequest, "invalid ANONYMOUS trace")
	}
	return nil, true, nil
}

// newPlainClient validates the configuration for a PLAIN client.
func newPlainClient(cfg ClientConfig) (*simpleClient, error) {
	pw, err := PreparePassword(cfg.Password)
	if err != nil {
		return nil, fmt.Errorf("sasl: PLAIN client: %w", err)
	}
	for _, f := range []string{cfg.Authzid, cfg.Username, pw} {
		if len(f) > maxPlainField || bytes.IndexByte([]byte(f), 0) >= 0 {
			return nil, errors.New("sasl: PLAIN client: field too long or contains NUL")
		}
	}
	if cfg.Username == "" {
		return nil, errors.New("sasl: PLAIN client: empty username")
	}
	msg := []byte(cfg.Authzid + "\x00" + cfg.Username + "\x00" + pw)
	return &simpleClient{name: Plain, initial: msg}, nil
}

// simpleClient is the client side of single-message mechanisms (PLAIN,
// EXTERNAL, ANONYMOUS): it sends its initial response and then only
// accepts an empty success.
type simpleClient struct {
	name    string
	initial []byte
	started bool
	done    bool
	failed  bool
}

// Name implements ClientMechanism.
func (s *simpleClient) Name() string { return s.name }

// Start implements ClientMechanism.
func (s *simpleClient) Start() ([]byte, error) {
	if s.started {
		return nil, fmt.Errorf("sasl: %s client: already started", s.name)
	}
	s.started = true
	return s.initial, nil
}

// Next implements ClientMechanism. Only the (empty) success data is
// expected; anything else is a protocol violation.
func (s *simpleClient) Next(challenge []byte) ([]byte, error) {
	if !s.started || s.done || s.failed || len(challenge) != 0 {
		s.failed = true
		return nil, fmt.Errorf("sasl: %s client: %w: unexpected server data", s.name, ErrProtocol)
	}
	s.done = true
	return nil, nil
}

// Done implements ClientMechanism.
func (s *simpleClient) Done() bool { return s.done }
