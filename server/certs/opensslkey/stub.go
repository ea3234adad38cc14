//go:build !openssl || !cgo

package opensslkey

import (
	"crypto"
	"crypto/rsa"
	"io"
)

// Available reports whether this build signs through OpenSSL.
const Available = false

// Signer is a crypto.Signer whose RSA key lives in OpenSSL. In this build
// (without the "openssl" tag) none can be made: New fails.
type Signer struct {
	pub *rsa.PublicKey
}

// New fails with ErrNotBuilt in this build.
func New(*rsa.PrivateKey) (*Signer, error) { return nil, ErrNotBuilt }

// Library names the library that signs: in this build, none.
func Library() string { return "none (not built with OpenSSL)" }

// Public returns the public key.
func (s *Signer) Public() crypto.PublicKey { return s.pub }

// Sign fails with ErrNotBuilt in this build.
func (s *Signer) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, ErrNotBuilt
}

// Close does nothing in this build.
func (s *Signer) Close() error { return nil }
