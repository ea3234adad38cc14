package sasl

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// SASL mechanism names implemented by this package.
const (
	ScramSHA1        = "SCRAM-SHA-1"
	ScramSHA1Plus    = "SCRAM-SHA-1-PLUS"
	ScramSHA256      = "SCRAM-SHA-256"
	ScramSHA256Plus  = "SCRAM-SHA-256-PLUS"
	ScramSHA512      = "SCRAM-SHA-512"
	ScramSHA512Plus  = "SCRAM-SHA-512-PLUS"
	Plain            = "PLAIN"
	External         = "EXTERNAL"
	Anonymous        = "ANONYMOUS"
	plusSuffix       = "-PLUS"
	scramPrefix      = "SCRAM-"
	defaultMinIter   = 4096
	defaultMaxIter   = 10_000_000
	defaultFakeIters = 4096
)

// scramHash maps a SCRAM mechanism name to its hash and -PLUS flag.
func scramHash(name string) (h Hash, plus bool, ok bool) {
	base, plus := strings.CutSuffix(name, plusSuffix)
	switch base {
	case ScramSHA1:
		return SHA1, plus, true
	case ScramSHA256:
		return SHA256, plus, true
	case ScramSHA512:
		return SHA512, plus, true
	}
	return 0, false, false
}

// IsSCRAM reports whether name is a SCRAM mechanism implemented here.
func IsSCRAM(name string) bool {
	_, _, ok := scramHash(name)
	return ok
}

// HashOf returns the hash used by the named SCRAM mechanism.
func HashOf(name string) (Hash, bool) {
	h, _, ok := scramHash(name)
	return h, ok
}

// Preferred returns the best mechanism among those offered by the server:
// SCRAM-SHA-512-PLUS, SCRAM-SHA-256-PLUS, SCRAM-SHA-1-PLUS (only when
// haveCB, i.e. the client has channel-binding data), then SCRAM-SHA-512,
// SCRAM-SHA-256, SCRAM-SHA-1 and finally PLAIN. It returns "" if none is
// offered.
func Preferred(serverMechs []string, haveCB bool) string {
	order := []string{ScramSHA512, ScramSHA256, ScramSHA1, Plain}
	if haveCB {
		order = append([]string{ScramSHA512Plus, ScramSHA256Plus, ScramSHA1Plus}, order...)
	}
	for _, m := range order {
		if slices.Contains(serverMechs, m) {
			return m
		}
	}
	return ""
}

// ServerConfig configures server-side mechanisms.
type ServerConfig struct {
	// Lookup returns the stored SCRAM credentials of username for hash h.
	// For an unknown user (or one without credentials for h) it returns an
	// error wrapping ErrUnknownUser; any other error is a temporary failure.
	Lookup func(username string, h Hash) (Credentials, error)
	// FakeSecret is a per-server secret used to derive deterministic fake
	// salts for unknown users. Required for SCRAM mechanisms.
	FakeSecret []byte
	// FakeIterations is the iteration count announced for unknown users
	// when FakeIterationShares is empty; it should equal the count used
	// for real accounts. Zero means 4096.
	FakeIterations int
	// FakeIterationShares are the iteration counts of the stored
	// accounts with their weights: unknown users are announced counts
	// drawn from them (per username, keyed by FakeSecret), so that a
	// count does not tell whether the account exists even when stored
	// accounts carry several (after a change of the configured count).
	FakeIterationShares []IterationShare
	// ChannelBindings maps each channel-binding type the server supports
	// (and advertises with XEP-0440) on this connection to its data. Empty
	// when the connection is not TLS.
	ChannelBindings map[string][]byte
	// Mechanisms is the list of mechanism names advertised to the client.
	// When non-empty it enables the XEP-0474 "h" attribute and decides
	// whether -PLUS variants were advertised (for the "y" downgrade check).
	// When empty, -PLUS is assumed advertised iff ChannelBindings is
	// non-empty.
	Mechanisms []string
	// CheckPLAIN verifies a PLAIN username and password. It returns nil on
	// success, a *Failure to report a specific condition, or any other error
	// (reported as not-authorized).
	CheckPLAIN func(username, password string) error
	// CheckEXTERNAL authorizes an EXTERNAL authentication: it receives the
	// requested authzid (possibly empty) and returns the authenticated
	// username established by the lower layer (e.g. the TLS client
	// certificate). Nil disables EXTERNAL.
	CheckEXTERNAL func(authzid string) (username string, err error)
	// AllowAnonymous enables the ANONYMOUS mechanism.
	AllowAnonymous bool
	// Rand is the source of nonce randomness; nil means crypto/rand.
	Rand io.Reader
}

// ServerMechanism is the receiving side of one SASL exchange.
type ServerMechanism interface {
	// Name returns the mechanism name.
	Name() string
	// Next processes the client's next message (the initial response or a
	// response; empty when none was sent) and returns the data to send:
	// a challenge when done is false, or the additional data of <success/>
	// when done is true. A non-nil error is a *Failure ending the exchange.
	Next(in []byte) (out []byte, done bool, err error)
	// Username returns the authenticated identity after success, else "".
	Username() string
	// Authzid returns the requested authorization identity after success
	// (possibly ""). The caller decides whether Username may act as it and
	// otherwise fails with invalid-authzid.
	Authzid() string
}

// NewServer returns the server side of the named mechanism. An unknown or
// disabled mechanism yields a *Failure with condition invalid-mechanism.
func NewServer(name string, cfg ServerConfig) (ServerMechanism, error) {
	if h, plus, ok := scramHash(name); ok {
		return newScramServer(name, h, plus, cfg)
	}
	switch name {
	case Plain:
		if cfg.CheckPLAIN != nil {
			return &plainServer{check: cfg.CheckPLAIN}, nil
		}
	case External:
		if cfg.CheckEXTERNAL != nil {
			return &externalServer{check: cfg.CheckEXTERNAL}, nil
		}
	case Anonymous:
		if cfg.AllowAnonymous {
			return &anonymousServer{}, nil
		}
	}
	return nil, &Failure{Condition: InvalidMechanism, Text: fmt.Sprintf("mechanism %q not supported", name)}
}

// ClientConfig configures client-side mechanisms.
type ClientConfig struct {
	// Username is the authentication identity (the account's localpart),
	// already normalized by the caller.
	Username string
	// Password is the account password (prepared with OpaqueString here).
	Password string
	// Authzid is the optional authorization identity.
	Authzid string
	// ChannelBindings maps each channel-binding type the client can compute
	// on this connection to its data. Empty when not using TLS.
	ChannelBindings map[string][]byte
	// PreferredCB is the channel-binding type to use if possible; otherwise
	// tls-exporter, tls-unique, tls-server-end-point are tried in order.
	PreferredCB string
	// ServerMechanisms is the mechanism list the server advertised. It
	// decides between the "y" and "n" GS2 flags and, with ServerCBTypes,
	// feeds the XEP-0474 check. Nil means unknown (XEP-0474 not checked).
	ServerMechanisms []string
	// ServerCBTypes are the channel-binding types the server advertised with
	// XEP-0440 (nil if it did not).
	ServerCBTypes []string
	// RequireDowngradeProtection makes a SCRAM exchange fail if the server
	// omits the XEP-0474 "h" attribute.
	RequireDowngradeProtection bool
	// MinIterations is the lowest acceptable SCRAM iteration count; zero
	// means 4096.
	MinIterations int
	// MaxIterations is the highest acceptable SCRAM iteration count (to
	// bound work); zero means 10,000,000.
	MaxIterations int
	// Rand is the source of nonce randomness; nil means crypto/rand.
	Rand io.Reader
}

// ClientMechanism is the initiating side of one SASL exchange.
type ClientMechanism interface {
	// Name returns the mechanism name.
	Name() string
	// Start returns the initial response to send with <auth/>.
	Start() ([]byte, error)
	// Next processes a server challenge, or the additional data of
	// <success/> (possibly empty), and returns the response to send.
	Next(challenge []byte) ([]byte, error)
	// Done reports whether the exchange completed and the server was
	// verified (for SCRAM: the server signature matched). A client must
	// treat <success/> as authentication only if Done reports true after
	// passing the success data to Next.
	Done() bool
}

// NewClient returns the client side of the named mechanism.
func NewClient(name string, cfg ClientConfig) (ClientMechanism, error) {
	if h, plus, ok := scramHash(name); ok {
		return newScramClient(name, h, plus, cfg)
	}
	switch name {
	case Plain:
		return newPlainClient(cfg)
	case External:
		return &simpleClient{name: External, initial: []byte(cfg.Authzid)}, nil
	case Anonymous:
		return &simpleClient{name: Anonymous, initial: []byte(cfg.Username)}, nil
	}
	return nil, fmt.Errorf("sasl: unsupported mechanism %q", name)
}
