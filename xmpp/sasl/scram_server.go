package sasl

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// nonceLen is the number of random bytes in a generated nonce.
const nonceLen = 18

// newNonce returns a fresh printable nonce read from r (crypto/rand if nil).
func newNonce(r io.Reader) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	b := make([]byte, nonceLen)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("sasl: generating nonce: %w", err)
	}
	return base64.RawStdEncoding.EncodeToString(b), nil
}

type scramServerState int

const (
	ssStart scramServerState = iota
	ssFinal
	ssDone
	ssFailed
)

// scramServer is the server side of a SCRAM exchange (RFC 5802 §5).
type scramServer struct {
	name  string
	h     Hash
	plus  bool
	cfg   ServerConfig
	nonce func() (string, error) // server nonce source; replaced in tests

	state        scramServerState
	askedInitial bool

	gs2Header       string
	cbType          string
	cbData          []byte
	clientFirstBare string
	serverFirst     string
	fullNonce       string
	creds           Credentials
	fake            bool
	user            string
	authz           string
}

func newScramServer(name string, h Hash, plus bool, cfg ServerConfig) (*scramServer, error) {
	if cfg.Lookup == nil {
		return nil, fmt.Errorf("sasl: %s server: no credential lookup configured", name)
	}
	if len(cfg.FakeSecret) == 0 {
		return nil, fmt.Errorf("sasl: %s server: no fake-salt secret configured", name)
	}
	if plus && len(cfg.ChannelBindings) == 0 {
		return nil, &Failure{Condition: InvalidMechanism, Text: name + " requires channel binding"}
	}
	s := &scramServer{name: name, h: h, plus: plus, cfg: cfg}
	s.nonce = func() (string, error) { return newNonce(cfg.Rand) }
	return s, nil
}

// Name implements ServerMechanism.
func (s *scramServer) Name() string { return s.name }

// Username implements ServerMechanism.
func (s *scramServer) Username() string {
	if s.state != ssDone {
		return ""
	}
	return s.user
}

// Authzid implements ServerMechanism.
func (s *scramServer) Authzid() string {
	if s.state != ssDone {
		return ""
	}
	return s.authz
}

// Next implements ServerMechanism.
func (s *scramServer) Next(in []byte) ([]byte, bool, error) {
	var (
		out  []byte
		done bool
		err  error
	)
	switch s.state {
	case ssStart:
		if len(in) == 0 && !s.askedInitial {
			s.askedInitial = true
			return []byte{}, false, nil
		}
		out, err = s.clientFirst(in)
		if err == nil {
			s.state = ssFinal
		}
	case ssFinal:
		out, err = s.clientFinal(in)
		if err == nil {
			s.state, done = ssDone, true
		}
	default:
		err = fail(MalformedRequest, "unexpected message after end of exchange")
	}
	if err != nil {
		s.state = ssFailed
		return nil, false, err
	}
	return out, done, nil
}

// advertisedPlus reports whether the server offered -PLUS mechanisms.
func (s *scramServer) advertisedPlus() bool {
	if len(s.cfg.Mechanisms) == 0 {
		return len(s.cfg.ChannelBindings) > 0
	}
	for _, m := range s.cfg.Mechanisms {
		if strings.HasSuffix(m, plusSuffix) && strings.HasPrefix(m, scramPrefix) {
			return true
		}
	}
	return false
}

// offeredCB lists the channel-binding types of this connection, sorted.
func (s *scramServer) offeredCB() string {
	types := slices.Sorted(maps.Keys(s.cfg.ChannelBindings))
	if len(types) == 0 {
		return "none"
	}
	return strings.Join(types, ", ")
}

// plusMechanisms lists the -PLUS mechanisms advertised.
func (s *scramServer) plusMechanisms() []string {
	var out []string
	for _, m := range s.cfg.Mechanisms {
		if strings.HasSuffix(m, plusSuffix) && strings.HasPrefix(m, scramPrefix) {
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		out = append(out, "-PLUS mechanisms")
	}
	return out
}

// parseGS2 validates the GS2 header fields (RFC 5802 §7) and the channel
// binding policy, recording the expected channel-binding input.
func (s *scramServer) parseGS2(flag, authzField string) error {
	switch {
	case flag == "n" || flag == "y":
		if s.plus {
			return fail(NotAuthorized, s.name+" needs channel binding (gs2 flag p=<type>); offered: "+s.offeredCB())
		}
		if flag == "y" && s.advertisedPlus() {
			// RFC 5802 §6: the client supports channel binding but did
			// not see it offered although we did: a downgrade, or a
			// client whose binding types we do not support, which must
			// say "n" rather than "y" for this mechanism to work.
			return fail(NotAuthorized, "channel binding downgrade detected: the client supports channel binding (gs2 flag y) and the server offers it with "+
				strings.Join(s.plusMechanisms(), ", ")+" (types: "+s.offeredCB()+")")
		}
	case strings.HasPrefix(flag, "p="):
		cb := flag[2:]
		if !validCBName(cb) {
			return fail(MalformedRequest, "invalid channel-binding name")
		}
		if !s.plus {
			return fail(MalformedRequest, "channel binding requested with "+s.name+", which has none; use "+s.name+plusSuffix)
		}
		data, ok := s.cfg.ChannelBindings[cb]
		if !ok {
			// Not a malformed request: the mechanism is unusable with
			// this binding type (RFC 6120 §6.5.4; XEP-0440 lists ours).
			return fail(InvalidMechanism, "channel binding type "+cb+" is not supported; offered: "+s.offeredCB())
		}
		s.cbType, s.cbData = cb, data
	default:
		return fail(MalformedRequest, "invalid gs2-cbind-flag")
	}
	if authzField != "" {
		v, ok := expect(authzField, 'a')
		if !ok {
			return fail(MalformedRequest, "invalid authzid attribute")
		}
		a, ok := UnescapeSASLName(v)
		if !ok {
			return fail(MalformedRequest, "invalid authzid encoding")
		}
		s.authz = a
	}
	return nil
}

// checkExtensions validates optional trailing attributes, which are ignored
// unless they are mandatory extensions ("m"), which are not supported.
func checkExtensions(fields []string) error {
	for _, f := range fields {
		k, _, ok := attr(f)
		if !ok {
			return fail(MalformedRequest, "invalid attribute")
		}
		if k == 'm' {
			return fail(MalformedRequest, "extensions-not-supported")
		}
	}
	return nil
}

func (s *scramServer) clientFirst(in []byte) ([]byte, error) {
	if !utf8.Valid(in) {
		return nil, fail(MalformedRequest, "client-first-message is not UTF-8")
	}
	parts := strings.SplitN(string(in), ",", 3)
	if len(parts) != 3 {
		return nil, fail(MalformedRequest, "missing gs2 header")
	}
	if err := s.parseGS2(parts[0], parts[1]); err != nil {
		return nil, err
	}
	s.gs2Header = parts[0] + "," + parts[1] + ","
	s.clientFirstBare = parts[2]

	fields := strings.Split(parts[2], ",")
	if strings.HasPrefix(fields[0], "m=") {
		return nil, fail(MalformedRequest, "extensions-not-supported")
	}
	if len(fields) < 2 {
		return nil, fail(MalformedRequest, "client-first-message too short")
	}
	v, ok := expect(fields[0], 'n')
	if !ok {
		return nil, fail(MalformedRequest, "missing username")
	}
	user, ok := UnescapeSASLName(v)
	if !ok {
		return nil, fail(MalformedRequest, "invalid username encoding")
	}
	cnonce, ok := expect(fields[1], 'r')
	if !ok || !validNonce(cnonce) {
		return nil, fail(MalformedRequest, "invalid client nonce")
	}
	if err := checkExtensions(fields[2:]); err != nil {
		return nil, err
	}
	// A copy: the name is a substring of the whole client-first message,
	// and the server keeps it (in the account's JID) for the session's
	// life, which would keep the message (nonce and all) with it.
	user = strings.Clone(user)
	s.user = user

	creds, err := s.cfg.Lookup(user, s.h)
	switch {
	case errors.Is(err, ErrUnknownUser):
		iters := s.cfg.FakeIterations
		if iters <= 0 {
			iters = defaultFakeIters
		}
		iters = fakeIterations(s.cfg.FakeSecret, user, s.cfg.FakeIterationShares, iters)
		creds, s.fake = fakeCredentials(s.h, s.cfg.FakeSecret, user, iters), true
	case err != nil:
		return nil, &Failure{Condition: TemporaryAuthFailure, Err: fmt.Errorf("looking up credentials: %w", err)}
	case !creds.Valid() || creds.Hash != s.h:
		return nil, &Failure{Condition: TemporaryAuthFailure, Err: fmt.Errorf("stored credentials unusable for %s", s.name)}
	}
	s.creds = creds

	snonce, err := s.nonce()
	if err != nil {
		return nil, &Failure{Condition: TemporaryAuthFailure, Err: err}
	}
	s.fullNonce = cnonce + snonce
	var b strings.Builder
	b.WriteString("r=")
	b.WriteString(s.fullNonce)
	b.WriteString(",s=")
	b.WriteString(encodeB64(creds.Salt))
	b.WriteString(",i=")
	b.WriteString(strconv.Itoa(creds.Iterations))
	if len(s.cfg.Mechanisms) > 0 {
		b.WriteString(",h=")
		b.WriteString(DowngradeHash(s.h, s.cfg.Mechanisms, slices.Collect(maps.Keys(s.cfg.ChannelBindings))))
	}
	s.serverFirst = b.String()
	return []byte(s.serverFirst), nil
}

func (s *scramServer) clientFinal(in []byte) ([]byte, error) {
	if !utf8.Valid(in) {
		return nil, fail(MalformedRequest, "client-final-message is not UTF-8")
	}
	msg := string(in)
	i := strings.LastIndex(msg, ",p=")
	if i < 0 {
		return nil, fail(MalformedRequest, "missing proof")
	}
	withoutProof, proofB64 := msg[:i], msg[i+3:]
	proof, ok := decodeB64(proofB64)
	if !ok || len(proof) != s.h.Size() {
		return nil, fail(MalformedRequest, "invalid proof encoding")
	}
	fields := strings.Split(withoutProof, ",")
	if len(fields) < 2 {
		return nil, fail(MalformedRequest, "client-final-message too short")
	}
	cb64, ok := expect(fields[0], 'c')
	if !ok {
		return nil, fail(MalformedRequest, "missing channel binding attribute")
	}
	cb, ok := decodeB64(cb64)
	if !ok {
		return nil, fail(MalformedRequest, "invalid channel binding encoding")
	}
	want := append([]byte(s.gs2Header), s.cbData...)
	if subtle.ConstantTimeCompare(cb, want) != 1 {
		return nil, fail(NotAuthorized, "channel-bindings-dont-match")
	}
	nonce, ok := expect(fields[1], 'r')
	if !ok {
		return nil, fail(MalformedRequest, "missing nonce")
	}
	if nonce != s.fullNonce {
		return nil, fail(NotAuthorized, "nonce mismatch")
	}
	if err := checkExtensions(fields[2:]); err != nil {
		return nil, err
	}

	authMessage := []byte(s.clientFirstBare + "," + s.serverFirst + "," + withoutProof)
	clientSig := s.h.hmac(s.creds.StoredKey, authMessage)
	clientKey := make([]byte, len(proof))
	subtle.XORBytes(clientKey, proof, clientSig)
	match := subtle.ConstantTimeCompare(s.h.sum(clientKey), s.creds.StoredKey) == 1
	if !match || s.fake {
		return nil, &Failure{Condition: NotAuthorized, Text: "wrong username or password", Err: ErrInvalidProof}
	}
	serverSig := s.h.hmac(s.creds.ServerKey, authMessage)
	return []byte("v=" + encodeB64(serverSig)), nil
}
