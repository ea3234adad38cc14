//go:build openssl && cgo

package opensslkey

/*
#cgo LDFLAGS: -lcrypto
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

// parley_load reads a PKCS #1 DER RSA private key. On failure it returns
// NULL and the first OpenSSL error in *err (the error queue is the
// thread's: it is read before returning to Go, which may move the
// goroutine to another thread).
static EVP_PKEY *parley_load(const unsigned char *der, long len, unsigned long *err) {
	ERR_clear_error();
	const unsigned char *p = der;
	EVP_PKEY *k = d2i_PrivateKey(EVP_PKEY_RSA, NULL, &p, len);
	if (k == NULL) {
		*err = ERR_get_error();
		ERR_clear_error();
	}
	return k;
}

// parley_sign signs the digest dgst with a context of its own (so that
// calls may run at once): RSA-PSS with MGF1 of md and a salt of saltlen
// when pss, else PKCS #1 v1.5 (with a DigestInfo of md, or none when md
// is NULL). It returns 1, or 0 with the first OpenSSL error in *err.
static int parley_sign(EVP_PKEY *pkey, int pss, const EVP_MD *md, int saltlen,
		const unsigned char *dgst, size_t dlen, unsigned char *sig, size_t *siglen,
		unsigned long *err) {
	ERR_clear_error();
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pkey, NULL);
	int ok = ctx != NULL
		&& EVP_PKEY_sign_init(ctx) > 0
		&& EVP_PKEY_CTX_set_rsa_padding(ctx, pss ? RSA_PKCS1_PSS_PADDING : RSA_PKCS1_PADDING) > 0
		&& (md == NULL || EVP_PKEY_CTX_set_signature_md(ctx, md) > 0)
		&& (!pss || (EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) > 0
			&& EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, saltlen) > 0))
		&& EVP_PKEY_sign(ctx, sig, siglen, dgst, dlen) > 0;
	if (!ok) {
		*err = ERR_get_error();
		ERR_clear_error();
	}
	EVP_PKEY_CTX_free(ctx);
	return ok;
}

static const char *parley_version(void) { return OpenSSL_version(OPENSSL_VERSION); }
*/
import "C"

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"unsafe"
)

// Available reports whether this build signs through OpenSSL.
const Available = true

// Signer is a crypto.Signer whose RSA private key lives in OpenSSL (an
// EVP_PKEY, loaded once). It is safe for concurrent use; the key is freed
// by Close or, failing that, once the Signer is garbage.
type Signer struct {
	pub  *rsa.PublicKey
	size int // of a signature, in bytes

	// mu guards pkey against Close: signatures hold it for reading.
	mu      sync.RWMutex
	pkey    *C.EVP_PKEY
	cleanup runtime.Cleanup
}

// New loads priv into OpenSSL and checks that what it signs there
// verifies with priv's public key.
func New(priv *rsa.PrivateKey) (*Signer, error) {
	if priv == nil || priv.N == nil {
		return nil, errors.New("opensslkey: no RSA key")
	}
	der := x509.MarshalPKCS1PrivateKey(priv)
	var code C.ulong
	pkey := C.parley_load((*C.uchar)(unsafe.Pointer(&der[0])), C.long(len(der)), &code)
	clear(der)
	if pkey == nil {
		return nil, fmt.Errorf("opensslkey: loading the RSA key: %w", opensslError(code))
	}
	s := &Signer{pub: &priv.PublicKey, size: int(C.EVP_PKEY_get_size(pkey)), pkey: pkey}
	s.cleanup = runtime.AddCleanup(s, func(p *C.EVP_PKEY) { C.EVP_PKEY_free(p) }, pkey)
	// A key whose private half does not match its public one would sign
	// garbage on every handshake: try it once here.
	digest := sha256.Sum256([]byte("parley opensslkey self-test"))
	opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
	sig, err := s.Sign(nil, digest[:], opts)
	if err == nil {
		err = rsa.VerifyPSS(s.pub, crypto.SHA256, digest[:], sig, opts)
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("opensslkey: the key's self-test signature failed: %w", err)
	}
	return s, nil
}

// Library names the library that signs, with its version.
func Library() string { return C.GoString(C.parley_version()) }

// Public returns the public key, an *rsa.PublicKey.
func (s *Signer) Public() crypto.PublicKey { return s.pub }

// Sign signs digest, the hash of a message by opts.HashFunc(): with
// RSA-PSS (MGF1 of the same hash) when opts is an *rsa.PSSOptions, its
// salt length as crypto/rsa takes it (PSSSaltLengthEqualsHash, as TLS 1.3
// uses, PSSSaltLengthAuto for the longest, or a length in bytes); else
// with PKCS #1 v1.5 (TLS 1.2). rand is not used: OpenSSL draws the salt
// and the blinding from its own generator.
func (s *Signer) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	h := opts.HashFunc()
	var md *C.EVP_MD
	switch h {
	case crypto.SHA256:
		md = C.EVP_sha256()
	case crypto.SHA384:
		md = C.EVP_sha384()
	case crypto.SHA512:
		md = C.EVP_sha512()
	case crypto.SHA224:
		md = C.EVP_sha224()
	case crypto.SHA1:
		md = C.EVP_sha1()
	case 0: // PKCS #1 v1.5 over the digest as it is
	default:
		return nil, fmt.Errorf("opensslkey: unsupported hash %v", h)
	}
	pss, salt := C.int(0), C.int(0)
	if p, ok := opts.(*rsa.PSSOptions); ok {
		if md == nil {
			return nil, errors.New("opensslkey: RSA-PSS needs a hash")
		}
		pss = 1
		switch n := p.SaltLength; {
		case n == rsa.PSSSaltLengthEqualsHash:
			salt = C.RSA_PSS_SALTLEN_DIGEST
		case n == rsa.PSSSaltLengthAuto:
			salt = C.RSA_PSS_SALTLEN_MAX
		case n > 0:
			salt = C.int(n)
		default:
			return nil, fmt.Errorf("opensslkey: invalid PSS salt length %d", n)
		}
	}
	if h != 0 && len(digest) != h.Size() {
		return nil, fmt.Errorf("opensslkey: digest is %d bytes, %v wants %d", len(digest), h, h.Size())
	}
	if len(digest) == 0 {
		return nil, errors.New("opensslkey: empty digest")
	}
	sig := make([]byte, s.size)
	n := C.size_t(len(sig))
	var code C.ulong
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.pkey == nil {
		return nil, errors.New("opensslkey: signer closed")
	}
	ok := C.parley_sign(s.pkey, pss, md, salt,
		(*C.uchar)(unsafe.Pointer(&digest[0])), C.size_t(len(digest)),
		(*C.uchar)(unsafe.Pointer(&sig[0])), &n, &code)
	runtime.KeepAlive(s)
	if ok != 1 {
		return nil, fmt.Errorf("opensslkey: signing (%v, pss=%v): %w", h, pss == 1, opensslError(code))
	}
	return sig[:n], nil
}

// Close frees the key in OpenSSL; signing fails after it. The garbage
// collector frees it too when a Signer is dropped without Close.
func (s *Signer) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pkey != nil {
		s.cleanup.Stop()
		C.EVP_PKEY_free(s.pkey)
		s.pkey = nil
	}
	return nil
}

// opensslError describes an OpenSSL error code.
func opensslError(code C.ulong) error {
	if code == 0 {
		return errors.New("openssl: unknown error")
	}
	var buf [256]C.char
	C.ERR_error_string_n(code, &buf[0], C.size_t(len(buf)))
	return fmt.Errorf("openssl: %s", C.GoString(&buf[0]))
}
