package tlsrec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"hash"
	"slices"

	"golang.org/x/crypto/chacha20poly1305"
)

// suite is a TLS 1.3 cipher suite: an AEAD and the hash of its key
// schedule.
type suite struct {
	keyLen  int
	hashLen int
	hash    func() hash.Hash
	aead    func(key []byte) (cipher.AEAD, error)
}

func newAESGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

var (
	suiteAES128 = suite{keyLen: 16, hashLen: 32, hash: sha256.New, aead: newAESGCM}
	suiteAES256 = suite{keyLen: 32, hashLen: 48, hash: sha512.New384, aead: newAESGCM}
	suiteChaCha = suite{keyLen: 32, hashLen: 32, hash: sha256.New, aead: chacha20poly1305.New}
)

func suiteByID(id uint16) (*suite, bool) {
	switch id {
	case tls.TLS_AES_128_GCM_SHA256:
		return &suiteAES128, true
	case tls.TLS_AES_256_GCM_SHA384:
		return &suiteAES256, true
	case tls.TLS_CHACHA20_POLY1305_SHA256:
		return &suiteChaCha, true
	}
	return nil, false
}

// expandLabel is HKDF-Expand-Label of RFC 8446 §7.1 with an empty context.
func expandLabel(su *suite, secret []byte, label string, length int) []byte {
	full := "tls13 " + label
	info := make([]byte, 0, 4+len(full))
	info = binary.BigEndian.AppendUint16(info, uint16(length))
	info = append(info, byte(len(full)))
	info = append(info, full...)
	info = append(info, 0) // empty context
	out, err := hkdf.Expand(su.hash, secret, string(info), length)
	if err != nil {
		panic("tlsrec: HKDF-Expand-Label: " + err.Error()) // lengths are fixed and small
	}
	return out
}

// direction is the protection state of one direction of the connection:
// the traffic secret and sequence number always, the AEAD and IV only
// while data moves.
type direction struct {
	secret    [48]byte
	secretLen uint8
	seq       uint64
	aead      cipher.AEAD // nil while parked; rebuilt from secret
	iv        [12]byte
	nonceBuf  [12]byte // nonce's result: a slice of it goes to the AEAD without escaping anew
}

func (d *direction) setSecret(s []byte) {
	d.secretLen = uint8(copy(d.secret[:], s))
	d.seq = 0
	d.aead = nil
}

// drop forgets the AEAD; the next record rebuilds it.
func (d *direction) drop() { d.aead = nil }

// ready builds the AEAD and IV from the secret if needed.
func (d *direction) ready(su *suite) error {
	if d.aead != nil {
		return nil
	}
	secret := d.secret[:d.secretLen]
	a, err := su.aead(expandLabel(su, secret, "key", su.keyLen))
	if err != nil {
		return err
	}
	copy(d.iv[:], expandLabel(su, secret, "iv", 12))
	d.aead = a
	return nil
}

// nonce is the per-record nonce: the IV XOR the sequence number.
func (d *direction) nonce() []byte {
	d.nonceBuf = d.iv
	var s [8]byte
	binary.BigEndian.PutUint64(s[:], d.seq)
	for i := range s {
		d.nonceBuf[4+i] ^= s[i]
	}
	return d.nonceBuf[:]
}

// update moves to the next traffic secret (RFC 8446 §7.2).
func (d *direction) update(su *suite) {
	next := expandLabel(su, d.secret[:d.secretLen], "traffic upd", su.hashLen)
	d.setSecret(next)
}

var errSeqExhausted = errors.New("tlsrec: sequence number exhausted")

// open decrypts record (header and body) in place and returns the inner
// plaintext (content, type byte and padding).
func (d *direction) open(su *suite, record []byte) ([]byte, error) {
	if err := d.ready(su); err != nil {
		return nil, err
	}
	if d.seq == ^uint64(0) {
		return nil, errSeqExhausted
	}
	n := d.nonce()
	body := record[headerLen:]
	pt, err := d.aead.Open(body[:0], n, body, record[:headerLen])
	if err != nil {
		return nil, err
	}
	d.seq++
	return pt, nil
}

// seal appends one protected record holding content of type typ to dst.
func (d *direction) seal(su *suite, dst []byte, typ byte, content []byte) ([]byte, error) {
	if err := d.ready(su); err != nil {
		return dst, err
	}
	if d.seq == ^uint64(0) {
		return dst, errSeqExhausted
	}
	bodyLen := len(content) + 1 + tagLen
	start := len(dst)
	dst = append(dst, typeApplicationData, 3, 3, byte(bodyLen>>8), byte(bodyLen))
	dst = append(dst, content...)
	dst = append(dst, typ)
	dst = slices.Grow(dst, tagLen) // Seal below works in place
	n := d.nonce()
	inner := dst[start+headerLen:]
	d.aead.Seal(inner[:0], n, inner, dst[start:start+headerLen])
	d.seq++
	return dst[:start+headerLen+bodyLen], nil
}
