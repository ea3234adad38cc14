// Package tickets keeps the keys that encrypt TLS session tickets, so
// that a client resumes its TLS session (RFC 8446 §2.2) across a server
// restart instead of paying for a full handshake and its certificate
// signature.
//
// The keys live in a file of the data folder, encrypted (AES-256-GCM)
// with a wrapping key kept in a second file; both are written with mode
// 0600. A new key is made every rotation period and issues every new
// ticket; older keys stay, for decryption only, until the last ticket
// they could have issued has outlived the ticket lifetime, and are then
// dropped (from memory and from the file). A ticket older than the
// lifetime, or sealed with a key no longer kept, is ignored: the client
// gets a full handshake.
//
// A ticket is version (1 byte) | key ID (8) | issue time (8, Unix
// seconds, big-endian) | nonce (12) | AES-256-GCM(session state) with
// the first 17 bytes as additional data.
package tickets

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Defaults of Options.
const (
	// DefaultRotate is how often a new key is made.
	DefaultRotate = 24 * time.Hour
	// DefaultLifetime is how long a ticket is accepted; it is also the
	// most crypto/tls accepts (seven days, RFC 8446 §4.6.1).
	DefaultLifetime = 7 * 24 * time.Hour
)

// Options configures the keys.
type Options struct {
	// File is the encrypted key file (in the data folder).
	File string
	// WrapKeyFile holds the key that encrypts File; it is created (32
	// random bytes, mode 0600) when missing.
	WrapKeyFile string
	// Rotate is how often a new key starts issuing tickets (0:
	// DefaultRotate).
	Rotate time.Duration
	// Lifetime is how long a ticket is accepted after it was issued (0:
	// DefaultLifetime).
	Lifetime time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Log receives rotations and failures to save the keys (nil: none).
	Log *slog.Logger
}

const (
	keyLen    = 32
	idLen     = 8
	nonceLen  = 12
	version   = 1
	headerLen = 1 + idLen + 8
	// fileMagic starts the key file; the rest is nonce | sealed keys.
	fileMagic = "PARLEY-TICKET-KEYS-1\n"
	// recordLen is one key in the file: id | created (Unix nanoseconds) | key.
	recordLen = idLen + 8 + keyLen
	// maxKeys bounds the keys kept (and read from the file), whatever
	// the rotation and lifetime.
	maxKeys = 1024
)

type key struct {
	id      [idLen]byte
	created time.Time
	raw     [keyLen]byte
	aead    cipher.AEAD
}

// Keys holds the ticket keys. It is safe for concurrent use.
type Keys struct {
	opts Options
	wrap cipher.AEAD

	mu sync.RWMutex
	// keys are newest first.
	keys []*key
}

// Open loads the keys from opts.File (making the wrapping key and the
// file when missing), drops expired ones and rotates when the newest is
// due. A key file that cannot be decrypted (a wrapping key replaced, a
// damaged file) is logged and replaced: returning clients then get a full
// handshake, nothing worse.
func Open(opts Options) (*Keys, error) {
	if opts.Rotate <= 0 {
		opts.Rotate = DefaultRotate
	}
	if opts.Lifetime <= 0 {
		opts.Lifetime = DefaultLifetime
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	wk, err := loadWrapKey(opts.WrapKeyFile)
	if err != nil {
		return nil, err
	}
	wrap, err := newAEAD(wk)
	if err != nil {
		return nil, err
	}
	k := &Keys{opts: opts, wrap: wrap}
	keys, err := k.read()
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		opts.Log.Warn("TLS session ticket keys unreadable; starting with new ones (returning clients get a full handshake once)", "file", opts.File, "err", err)
	default:
		k.keys = keys
	}
	k.mu.Lock()
	changed := k.maintainLocked(opts.Now())
	k.mu.Unlock()
	if changed || err != nil {
		if err := k.save(); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// Install makes cfg seal and open session tickets with these keys.
// Configurations cloned from cfg afterwards share them, rotations
// included.
func (k *Keys) Install(cfg *tls.Config) {
	cfg.WrapSession = k.Wrap
	cfg.UnwrapSession = k.Unwrap
}

// Wrap is tls.Config.WrapSession: it seals the session state with the
// newest key, rotating first when it is due.
func (k *Keys) Wrap(_ tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
	state, err := ss.Bytes()
	if err != nil {
		return nil, fmt.Errorf("tickets: encoding session: %w", err)
	}
	now := k.opts.Now()
	newest := k.current(now)
	out := make([]byte, headerLen+nonceLen, headerLen+nonceLen+len(state)+16)
	out[0] = version
	copy(out[1:], newest.id[:])
	binary.BigEndian.PutUint64(out[1+idLen:], uint64(now.Unix()))
	_, _ = rand.Read(out[headerLen:]) // crypto/rand.Read never fails
	return newest.aead.Seal(out, out[headerLen:], state, out[:headerLen]), nil
}

// Unwrap is tls.Config.UnwrapSession: the session state of a ticket
// sealed with a key still kept and issued within the lifetime; nil (a
// full handshake) for any other.
func (k *Keys) Unwrap(identity []byte, _ tls.ConnectionState) (*tls.SessionState, error) {
	if len(identity) < headerLen+nonceLen+16 || identity[0] != version {
		return nil, nil
	}
	issued := time.Unix(int64(binary.BigEndian.Uint64(identity[1+idLen:])), 0)
	now := k.opts.Now()
	if age := now.Sub(issued); age > k.opts.Lifetime || age < -time.Minute {
		return nil, nil
	}
	var id [idLen]byte
	copy(id[:], identity[1:])
	k.mu.RLock()
	var aead cipher.AEAD
	for _, c := range k.keys {
		if c.id == id {
			aead = c.aead
			break
		}
	}
	k.mu.RUnlock()
	if aead == nil {
		return nil, nil
	}
	state, err := aead.Open(nil, identity[headerLen:headerLen+nonceLen], identity[headerLen+nonceLen:], identity[:headerLen])
	if err != nil {
		return nil, nil
	}
	ss, err := tls.ParseSessionState(state)
	if err != nil {
		return nil, nil
	}
	return ss, nil
}

// current returns the newest key, rotating (and saving) when it is due.
func (k *Keys) current(now time.Time) *key {
	k.mu.RLock()
	newest := k.keys[0]
	k.mu.RUnlock()
	if now.Sub(newest.created) < k.opts.Rotate {
		return newest
	}
	k.mu.Lock()
	changed := k.maintainLocked(now)
	newest = k.keys[0]
	k.mu.Unlock()
	if changed {
		if err := k.save(); err != nil {
			// The new key works from memory; after a restart its
			// tickets are refused (full handshakes), nothing worse.
			k.opts.Log.Error("saving rotated TLS session ticket keys", "file", k.opts.File, "err", err)
		} else {
			k.opts.Log.Info("rotated the TLS session ticket key", "keys", k.count())
		}
	}
	return newest
}

// Rotate makes a new key issue tickets from now on, whatever the
// schedule, and saves the keys. Older keys stay for the ticket lifetime.
func (k *Keys) Rotate() error {
	k.mu.Lock()
	k.keys = append([]*key{newKey(k.opts.Now())}, k.keys...)
	k.maintainLocked(k.opts.Now())
	k.mu.Unlock()
	return k.save()
}

func (k *Keys) count() int {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return len(k.keys)
}

// maintainLocked adds a key when there is none or the newest is due, and
// drops the keys whose last ticket has expired: key i issued tickets
// until key i-1 was made. It reports whether the set changed. Call with
// mu held for writing.
func (k *Keys) maintainLocked(now time.Time) bool {
	changed := false
	if len(k.keys) == 0 || now.Sub(k.keys[0].created) >= k.opts.Rotate || k.keys[0].created.After(now.Add(time.Minute)) {
		k.keys = append([]*key{newKey(now)}, k.keys...)
		changed = true
	}
	kept := k.keys[:1]
	for i := 1; i < len(k.keys) && len(kept) < maxKeys; i++ {
		if now.Sub(k.keys[i-1].created) <= k.opts.Lifetime {
			kept = append(kept, k.keys[i])
		}
	}
	changed = changed || len(kept) != len(k.keys)
	clear(k.keys[len(kept):])
	k.keys = kept
	return changed
}

func newKey(now time.Time) *key {
	c := &key{created: now}
	_, _ = rand.Read(c.id[:])
	_, _ = rand.Read(c.raw[:])
	c.aead, _ = newAEAD(c.raw[:]) // a 32-byte key always makes one
	return c
}

func newAEAD(raw []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(raw)
	if err != nil {
		return nil, fmt.Errorf("tickets: %w", err)
	}
	a, err := cipher.NewGCM(b)
	if err != nil {
		return nil, fmt.Errorf("tickets: %w", err)
	}
	return a, nil
}

// loadWrapKey reads the wrapping key, creating it when missing.
func loadWrapKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if len(b) != keyLen {
			return nil, fmt.Errorf("tickets: wrapping key %s holds %d bytes, not %d", path, len(b), keyLen)
		}
		return b, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("tickets: reading wrapping key: %w", err)
	}
	b = make([]byte, keyLen)
	_, _ = rand.Read(b)
	if err := writeFile(path, b); err != nil {
		return nil, fmt.Errorf("tickets: writing wrapping key: %w", err)
	}
	return b, nil
}

// read decrypts the key file.
func (k *Keys) read() ([]*key, error) {
	b, err := os.ReadFile(k.opts.File)
	if err != nil {
		return nil, err
	}
	rest, ok := bytes.CutPrefix(b, []byte(fileMagic))
	if !ok || len(rest) < nonceLen {
		return nil, errors.New("not a ticket key file")
	}
	plain, err := k.wrap.Open(nil, rest[:nonceLen], rest[nonceLen:], []byte(fileMagic))
	if err != nil {
		return nil, errors.New("cannot decrypt: another wrapping key, or a damaged file")
	}
	if len(plain)%recordLen != 0 || len(plain)/recordLen > maxKeys {
		return nil, errors.New("malformed key list")
	}
	var keys []*key
	for r := plain; len(r) > 0; r = r[recordLen:] {
		c := &key{created: time.Unix(0, int64(binary.BigEndian.Uint64(r[idLen:])))}
		copy(c.id[:], r)
		copy(c.raw[:], r[idLen+8:])
		c.aead, _ = newAEAD(c.raw[:])
		keys = append(keys, c)
	}
	clear(plain)
	return keys, nil
}

// save writes the keys, encrypted, replacing the file atomically.
func (k *Keys) save() error {
	k.mu.RLock()
	plain := make([]byte, 0, len(k.keys)*recordLen)
	for _, c := range k.keys {
		plain = append(plain, c.id[:]...)
		plain = binary.BigEndian.AppendUint64(plain, uint64(c.created.UnixNano()))
		plain = append(plain, c.raw[:]...)
	}
	k.mu.RUnlock()
	out := make([]byte, len(fileMagic)+nonceLen, len(fileMagic)+nonceLen+len(plain)+16)
	copy(out, fileMagic)
	_, _ = rand.Read(out[len(fileMagic):])
	out = k.wrap.Seal(out, out[len(fileMagic):], plain, []byte(fileMagic))
	clear(plain)
	if err := writeFile(k.opts.File, out); err != nil {
		return fmt.Errorf("tickets: saving keys: %w", err)
	}
	return nil
}

// writeFile writes b to path with mode 0600 through a temporary file
// renamed over it, so that a crash leaves the old file or the new one.
func writeFile(path string, b []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op once renamed
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
