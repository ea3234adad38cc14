// Package dialback derives and checks Server Dialback keys (XEP-0220),
// generated as XEP-0185 recommends: an HMAC-SHA256 over the receiving
// domain, the originating domain and the stream ID, keyed with the
// hex-encoded SHA-256 of a secret only the originating server knows.
//
// The package knows nothing of streams: the s2s code sends a key in
// <db:result/>, and answers <db:verify/> requests with Check.
package dialback

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// NS is the dialback namespace (XEP-0220), bound to the "db" prefix on
// server-to-server streams.
const NS = "jabber:server:dialback"

// NSFeature is the stream feature announcing dialback with errors
// (XEP-0220 §2.4).
const NSFeature = "urn:xmpp:features:dialback"

// secretSize is the size of a generated secret, in bytes.
const secretSize = 32

// Keyer derives dialback keys from one secret. It holds no mutable state
// and is safe for concurrent use.
type Keyer struct {
	key []byte // hex of SHA-256(secret): the HMAC key
}

// New returns a Keyer for secret, which must not be empty.
func New(secret []byte) (*Keyer, error) {
	if len(secret) == 0 {
		return nil, fmt.Errorf("dialback: empty secret")
	}
	sum := sha256.Sum256(secret)
	k := make([]byte, hex.EncodedLen(len(sum)))
	hex.Encode(k, sum[:])
	return &Keyer{key: k}, nil
}

// NewRandom returns a Keyer with a fresh random secret: keys it makes are
// valid for this process's lifetime, which is all dialback needs (a key
// is checked while the stream that carries it is being set up). A
// cluster whose nodes answer each other's verify requests shares one
// configured secret instead (New).
func NewRandom() (*Keyer, error) {
	secret := make([]byte, secretSize)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("dialback: random secret: %w", err)
	}
	return New(secret)
}

// Key returns the dialback key the originating domain sends to the
// receiving domain on the stream with the ID streamID: lower-case hex,
// 64 characters.
func (k *Keyer) Key(receiving, originating, streamID string) string {
	return hex.EncodeToString(k.sum(receiving, originating, streamID))
}

// Check reports whether key is the one Key returns for the same inputs.
// It compares in constant time and accepts upper-case hex too; anything
// that is not 64 hex digits is false.
func (k *Keyer) Check(key, receiving, originating, streamID string) bool {
	if len(key) != hex.EncodedLen(sha256.Size) {
		return false
	}
	got, err := hex.DecodeString(key)
	if err != nil {
		return false
	}
	return hmac.Equal(got, k.sum(receiving, originating, streamID))
}

func (k *Keyer) sum(receiving, originating, streamID string) []byte {
	m := hmac.New(sha256.New, k.key)
	m.Write([]byte(receiving))
	m.Write([]byte{' '})
	m.Write([]byte(originating))
	m.Write([]byte{' '})
	m.Write([]byte(streamID))
	return m.Sum(nil)
}
