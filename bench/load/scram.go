package load

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"sync"

	"github.com/parley-xmpp/parley/xmpp/sasl"
)

// Keys are the client-side SCRAM keys derived from one password, salt and
// iteration count (RFC 5802 §3).
type Keys struct {
	ClientKey []byte
	StoredKey []byte
	ServerKey []byte
}

type keyID struct {
	mech     string
	password string // passwordID of the password
	salt     string
	iter     int
}

// KeyCache memoises SCRAM key derivation so that PBKDF2, by far the most
// expensive step of a SCRAM login, runs once per (mechanism, password, salt,
// iterations) instead of once per login. It is safe for concurrent use.
type KeyCache struct {
	mu sync.Mutex
	m  map[keyID]Keys
}

// NewKeyCache returns an empty cache.
func NewKeyCache() *KeyCache { return &KeyCache{m: map[keyID]Keys{}} }

// Len returns how many key sets are cached.
func (c *KeyCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// hashFor returns the hash constructor of a SCRAM mechanism.
func hashFor(mech string) (func() hash.Hash, error) {
	switch mech {
	case sasl.ScramSHA1:
		return sha1.New, nil
	case sasl.ScramSHA256:
		return sha256.New, nil
	}
	return nil, fmt.Errorf("load: unsupported SCRAM mechanism %q", mech)
}

// Get returns the keys for a prepared password, deriving them on first use.
func (c *KeyCache) Get(mech, password string, salt []byte, iterations int) (Keys, error) {
	id := keyID{mech, passwordID(password), string(salt), iterations}
	c.mu.Lock()
	k, ok := c.m[id]
	c.mu.Unlock()
	if ok {
		return k, nil
	}
	h, err := hashFor(mech)
	if err != nil {
		return Keys{}, err
	}
	salted, err := pbkdf2.Key(h, password, salt, iterations, h().Size())
	if err != nil {
		return Keys{}, fmt.Errorf("load: deriving SCRAM keys: %w", err)
	}
	k.ClientKey = mac(h, salted, "Client Key")
	sum := h()
	sum.Write(k.ClientKey)
	k.StoredKey = sum.Sum(nil)
	k.ServerKey = mac(h, salted, "Server Key")
	c.mu.Lock()
	c.m[id] = k
	c.mu.Unlock()
	return k, nil
}

func mac(h func() hash.Hash, key []byte, msg string) []byte {
	m := hmac.New(h, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// scramClient is one client-side SCRAM exchange without channel binding
// (GS2 flag "n": the generator measures servers, it does not defend against
// downgrades).
type scramClient struct {
	mech, user, password string // password is OpaqueString-prepared
	cache                *KeyCache
	cnonce, firstBare    string
	serverSig            []byte
}

const gs2Header = "n,,"

func newScramClient(cache *KeyCache, mech, user, password string) (*scramClient, error) {
	if _, err := hashFor(mech); err != nil {
		return nil, err
	}
	pw, err := sasl.PreparePassword(password)
	if err != nil {
		return nil, fmt.Errorf("load: preparing password: %w", err)
	}
	var nb [18]byte
	if _, err := rand.Read(nb[:]); err != nil {
		return nil, fmt.Errorf("load: nonce: %w", err)
	}
	return &scramClient{mech: mech, user: user, password: pw, cache: cache,
		cnonce: base64.RawStdEncoding.EncodeToString(nb[:])}, nil
}

// first returns the client-first-message.
func (c *scramClient) first() []byte {
	c.firstBare = "n=" + sasl.EscapeSASLName(c.user) + ",r=" + c.cnonce
	return []byte(gs2Header + c.firstBare)
}

// final answers the server-first-message with the client-final-message.
func (c *scramClient) final(serverFirst []byte) ([]byte, error) {
	msg := string(serverFirst)
	var nonce, salt64, iters string
	for _, f := range strings.Split(msg, ",") {
		if len(f) < 2 || f[1] != '=' {
			continue
		}
		switch f[0] {
		case 'r':
			nonce = f[2:]
		case 's':
			salt64 = f[2:]
		case 'i':
			iters = f[2:]
		case 'm':
			return nil, errors.New("load: SCRAM: unsupported mandatory extension")
		}
	}
	if !strings.HasPrefix(nonce, c.cnonce) || len(nonce) == len(c.cnonce) {
		return nil, errors.New("load: SCRAM: server nonce does not extend ours")
	}
	salt, err := base64.StdEncoding.DecodeString(salt64)
	if err != nil || len(salt) == 0 {
		return nil, errors.New("load: SCRAM: invalid salt")
	}
	n, err := strconv.Atoi(iters)
	if err != nil || n < 1 || n > 10_000_000 {
		return nil, fmt.Errorf("load: SCRAM: invalid iteration count %q", iters)
	}
	k, err := c.cache.Get(c.mech, c.password, salt, n)
	if err != nil {
		return nil, err
	}
	h, _ := hashFor(c.mech)
	withoutProof := "c=" + base64.StdEncoding.EncodeToString([]byte(gs2Header)) + ",r=" + nonce
	authMsg := c.firstBare + "," + msg + "," + withoutProof
	sig := mac(h, k.StoredKey, authMsg)
	proof := make([]byte, len(sig))
	subtle.XORBytes(proof, k.ClientKey, sig)
	c.serverSig = mac(h, k.ServerKey, authMsg)
	return []byte(withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof)), nil
}

// verify checks the server-final-message.
func (c *scramClient) verify(serverFinal []byte) error {
	s := string(serverFinal)
	if e, ok := strings.CutPrefix(s, "e="); ok {
		return fmt.Errorf("load: SCRAM: server error %q", e)
	}
	v, ok := strings.CutPrefix(s, "v=")
	if !ok {
		return errors.New("load: SCRAM: server-final-message without verifier")
	}
	if i := strings.IndexByte(v, ','); i >= 0 {
		v = v[:i]
	}
	sig, err := base64.StdEncoding.DecodeString(v)
	if err != nil || subtle.ConstantTimeCompare(sig, c.serverSig) != 1 {
		return errors.New("load: SCRAM: server signature mismatch")
	}
	return nil
}
