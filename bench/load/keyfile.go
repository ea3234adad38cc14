package load

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// storedKeys is one KeyCache entry in a key file. The password is not
// written: entries are matched by its SHA-256.
type storedKeys struct {
	Mech           string `json:"mech"`
	PasswordSHA256 []byte `json:"password_sha256"`
	Salt           []byte `json:"salt"`
	Iterations     int    `json:"iterations"`
	ClientKey      []byte `json:"client_key"`
	StoredKey      []byte `json:"stored_key"`
	ServerKey      []byte `json:"server_key"`
}

// passwordID is how a password identifies cache entries: its SHA-256, so
// that a key file holds no password.
func passwordID(password string) string {
	sum := sha256.Sum256([]byte(password))
	return string(sum[:])
}

// LoadKeyCache returns a cache holding the keys saved in file by
// [KeyCache.Save]; an empty one if the file does not exist. A client
// that stores its SCRAM keys (RFC 5802 §5.1 allows it) logs in without
// PBKDF2; with a key file a login storm's generator does the same, instead
// of spending more CPU per login than the server it measures.
func LoadKeyCache(file string) (*KeyCache, error) {
	c := NewKeyCache()
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load: key file: %w", err)
	}
	var entries []storedKeys
	if err := json.Unmarshal(data, &entries); err != nil {
		return nil, fmt.Errorf("load: key file %s: %w", file, err)
	}
	for _, e := range entries {
		if _, err := hashFor(e.Mech); err != nil || len(e.PasswordSHA256) != sha256.Size {
			return nil, fmt.Errorf("load: key file %s: invalid entry (mechanism %q)", file, e.Mech)
		}
		id := keyID{e.Mech, string(e.PasswordSHA256), string(e.Salt), e.Iterations}
		c.m[id] = Keys{ClientKey: e.ClientKey, StoredKey: e.StoredKey, ServerKey: e.ServerKey}
	}
	return c, nil
}

// Save writes the cached keys to file (mode 0600: a client key lets
// anyone log in as the account), replacing it atomically.
func (c *KeyCache) Save(file string) error {
	c.mu.Lock()
	entries := make([]storedKeys, 0, len(c.m))
	for id, k := range c.m {
		entries = append(entries, storedKeys{Mech: id.mech, PasswordSHA256: []byte(id.password), Salt: []byte(id.salt),
			Iterations: id.iter, ClientKey: k.ClientKey, StoredKey: k.StoredKey, ServerKey: k.ServerKey})
	}
	c.mu.Unlock()
	data, err := json.Marshal(entries)
	if err != nil {
		return fmt.Errorf("load: key file: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), ".keys-*")
	if err != nil {
		return fmt.Errorf("load: key file: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename: nothing left
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), file)
	}
	if err != nil {
		return fmt.Errorf("load: key file: %w", err)
	}
	return nil
}
