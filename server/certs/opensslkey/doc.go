// Package opensslkey signs with an RSA private key through OpenSSL's
// libcrypto (cgo), for TLS servers whose certificate has an RSA key: an
// RSA-2048 signature costs OpenSSL about a third of what crypto/rsa
// spends, and a full TLS handshake with an RSA certificate is mostly that
// signature.
//
// It is compiled only with the build tag "openssl" (and cgo, linking
// libcrypto); without them the package has the same API, Available is
// false and New fails with ErrNotBuilt, so that the default build stays
// pure Go and static. Only RSA keys go through it: ECDSA and Ed25519
// signatures are cheap in Go.
package opensslkey

import "errors"

// ErrNotBuilt is New's error in a build without the "openssl" tag (or
// without cgo).
var ErrNotBuilt = errors.New("opensslkey: not built with OpenSSL (build with -tags openssl and cgo)")
