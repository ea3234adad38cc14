package sasl

import (
	"crypto/subtle"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

type scramClientState int

const (
	csInit scramClientState = iota
	csFirstSent
	csFinalSent
	csDone
	csFailed
)

// scramClient is the client side of a SCRAM exchange (RFC 5802 §5).
type scramClient struct {
	name     string
	h        Hash
	cfg      ClientConfig
	password string                 // OpaqueString-prepared
	nonce    func() (string, error) // client nonce source; replaced in tests
	minIter  int
	maxIter  int

	state           scramClientState
	gs2Header       string
	cbType          string
	cbData          []byte
	cnonce          string
	clientFirstBare string
	serverSignature []byte
}

func newScramClient(name string, h Hash, plus bool, cfg ClientConfig) (*scramClient, error) {
	if cfg.Username == "" {
		return nil, fmt.Errorf("sasl: %s client: empty username", name)
	}
	pw, err := PreparePassword(cfg.Password)
	if err != nil {
		return nil, fmt.Errorf("sasl: %s client: %w", name, err)
	}
	if cfg.RequireDowngradeProtection && cfg.ServerMechanisms == nil {
		return nil, fmt.Errorf("sasl: %s client: downgrade protection required but server mechanisms unknown", name)
	}
	c := &scramClient{name: name, h: h, cfg: cfg, password: pw, minIter: cfg.MinIterations, maxIter: cfg.MaxIterations}
	if c.minIter <= 0 {
		c.minIter = defaultMinIter
	}
	if c.maxIter <= 0 {
		c.maxIter = defaultMaxIter
	}
	c.nonce = func() (string, error) { return newNonce(cfg.Rand) }

	var flag string
	switch {
	case plus:
		cb := chooseCB(cfg.ChannelBindings, cfg.ServerCBTypes, cfg.PreferredCB)
		if cb == "" {
			return nil, fmt.Errorf("sasl: %s client: no usable channel-binding type", name)
		}
		flag, c.cbType, c.cbData = "p="+cb, cb, cfg.ChannelBindings[cb]
	case len(cfg.ChannelBindings) > 0 && cfg.ServerMechanisms != nil && !offersPlus(cfg.ServerMechanisms):
		// RFC 5802 §6: we support channel binding but the server does
		// not appear to; say so, so that a stripped -PLUS is detected.
		flag = "y"
	default:
		flag = "n"
	}
	c.gs2Header = flag + ","
	if cfg.Authzid != "" {
		c.gs2Header += "a=" + EscapeSASLName(cfg.Authzid)
	}
	c.gs2Header += ","
	return c, nil
}

// offersPlus reports whether a mechanism list contains a SCRAM -PLUS name.
func offersPlus(mechs []string) bool {
	for _, m := range mechs {
		if strings.HasPrefix(m, scramPrefix) && strings.HasSuffix(m, plusSuffix) {
			return true
		}
	}
	return false
}

// Name implements ClientMechanism.
func (c *scramClient) Name() string { return c.name }

// Done implements ClientMechanism.
func (c *scramClient) Done() bool { return c.state == csDone }

// ChannelBinding returns the channel-binding type in use, or "".
func (c *scramClient) ChannelBinding() string { return c.cbType }

// Start implements ClientMechanism.
func (c *scramClient) Start() ([]byte, error) {
	if c.state != csInit {
		return nil, fmt.Errorf("sasl: %s client: already started", c.name)
	}
	n, err := c.nonce()
	if err != nil {
		c.state = csFailed
		return nil, fmt.Errorf("sasl: %s client: %w", c.name, err)
	}
	c.cnonce = n
	c.clientFirstBare = "n=" + EscapeSASLName(c.cfg.Username) + ",r=" + n
	c.state = csFirstSent
	return []byte(c.gs2Header + c.clientFirstBare), nil
}

// Next implements ClientMechanism.
func (c *scramClient) Next(challenge []byte) ([]byte, error) {
	var (
		out []byte
		err error
	)
	switch c.state {
	case csFirstSent:
		out, err = c.serverFirst(challenge)
		if err == nil {
			c.state = csFinalSent
		}
	case csFinalSent:
		err = c.serverFinal(challenge)
		if err == nil {
			c.state = csDone
		}
	default:
		err = fmt.Errorf("%w: unexpected server message", ErrProtocol)
	}
	if err != nil {
		c.state = csFailed
		return nil, fmt.Errorf("sasl: %s client: %w", c.name, err)
	}
	return out, nil
}

func (c *scramClient) serverFirst(in []byte) ([]byte, error) {
	if !utf8.Valid(in) {
		return nil, fmt.Errorf("%w: server-first-message is not UTF-8", ErrProtocol)
	}
	msg := string(in)
	fields := strings.Split(msg, ",")
	if strings.HasPrefix(fields[0], "m=") {
		return nil, fmt.Errorf("%w: unsupported mandatory extension", ErrProtocol)
	}
	if len(fields) < 3 {
		return nil, fmt.Errorf("%w: server-first-message too short", ErrProtocol)
	}
	nonce, ok := expect(fields[0], 'r')
	if !ok || !validNonce(nonce) || len(nonce) <= len(c.cnonce) || !strings.HasPrefix(nonce, c.cnonce) {
		return nil, fmt.Errorf("%w: server nonce does not extend client nonce", ErrProtocol)
	}
	s64, ok := expect(fields[1], 's')
	salt, ok2 := decodeB64(s64)
	if !ok || !ok2 || len(salt) == 0 {
		return nil, fmt.Errorf("%w: invalid salt", ErrProtocol)
	}
	is, ok := expect(fields[2], 'i')
	iters, err := strconv.Atoi(is)
	if !ok || err != nil || is[0] < '0' || is[0] > '9' {
		return nil, fmt.Errorf("%w: invalid iteration count", ErrProtocol)
	}
	if iters < c.minIter || iters > c.maxIter {
		return nil, fmt.Errorf("%w: iteration count %d outside [%d, %d]", ErrProtocol, iters, c.minIter, c.maxIter)
	}
	var ssdp string
	for _, f := range fields[3:] {
		k, v, ok := attr(f)
		if !ok || k == 'm' {
			return nil, fmt.Errorf("%w: invalid server-first-message extension", ErrProtocol)
		}
		if k == 'h' {
			ssdp = v
		}
	}
	if err := c.checkDowngrade(ssdp); err != nil {
		return nil, err
	}

	salted, err := saltedPassword(c.h, c.password, salt, iters)
	if err != nil {
		return nil, err
	}
	clientKey := c.h.hmac(salted, []byte("Client Key"))
	storedKey := c.h.sum(clientKey)
	withoutProof := "c=" + encodeB64(append([]byte(c.gs2Header), c.cbData...)) + ",r=" + nonce
	authMessage := []byte(c.clientFirstBare + "," + msg + "," + withoutProof)
	clientSig := c.h.hmac(storedKey, authMessage)
	proof := make([]byte, len(clientKey))
	subtle.XORBytes(proof, clientKey, clientSig)
	c.serverSignature = c.h.hmac(c.h.hmac(salted, []byte("Server Key")), authMessage)
	return []byte(withoutProof + ",p=" + encodeB64(proof)), nil
}

// checkDowngrade verifies the XEP-0474 "h" value against the lists the
// client saw, if they were provided.
func (c *scramClient) checkDowngrade(ssdp string) error {
	if ssdp == "" {
		if c.cfg.RequireDowngradeProtection {
			return fmt.Errorf("%w: server sent no downgrade protection hash", ErrDowngrade)
		}
		return nil
	}
	if c.cfg.ServerMechanisms == nil {
		return nil
	}
	want := DowngradeHash(c.h, c.cfg.ServerMechanisms, c.cfg.ServerCBTypes)
	if subtle.ConstantTimeCompare([]byte(ssdp), []byte(want)) != 1 {
		return fmt.Errorf("%w: advertised mechanisms or channel-binding types were altered", ErrDowngrade)
	}
	return nil
}

func (c *scramClient) serverFinal(in []byte) error {
	if !utf8.Valid(in) {
		return fmt.Errorf("%w: server-final-message is not UTF-8", ErrProtocol)
	}
	fields := strings.Split(string(in), ",")
	for _, f := range fields[1:] {
		if _, _, ok := attr(f); !ok {
			return fmt.Errorf("%w: invalid server-final-message extension", ErrProtocol)
		}
	}
	k, v, ok := attr(fields[0])
	switch {
	case ok && k == 'e':
		return &ServerError{Value: v}
	case ok && k == 'v':
		sig, ok := decodeB64(v)
		if !ok {
			return fmt.Errorf("%w: invalid verifier encoding", ErrProtocol)
		}
		if subtle.ConstantTimeCompare(sig, c.serverSignature) != 1 {
			return ErrServerSignature
		}
		return nil
	}
	return fmt.Errorf("%w: server-final-message has neither verifier nor error", ErrProtocol)
}
