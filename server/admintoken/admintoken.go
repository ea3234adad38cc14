// Package admintoken keeps the bearer tokens of the admin HTTP API in
// the data folder: only their SHA-256 hashes are stored, in
// admin-tokens.json (mode 0600); a token is shown once, when created.
//
// A token is "parley_" followed by 43 characters of base64url: 256 random
// bits, so an unsalted fast hash is enough to make the stored hash
// useless to whoever reads the file. The file is read again for each
// check, so tokens created or revoked by `parley admin token` apply to a
// running server at once.
package admintoken

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// FileName is the file of the tokens in the data folder.
const FileName = "admin-tokens.json"

// Prefix starts every token, so that one found in a log or a repository
// is recognisable.
const Prefix = "parley_"

// MaxTokens bounds how many tokens may exist at once.
const MaxTokens = 100

// maxName bounds a token's name, in bytes.
const maxName = 64

// maxFile bounds what is read of the file.
const maxFile = 1 << 20

// Errors of Store.
var (
	// ErrNotFound is returned by Revoke for a name no token has.
	ErrNotFound = errors.New("admintoken: no token of that name")
	// ErrExists is returned by Create for a name a token already has.
	ErrExists = errors.New("admintoken: a token of that name exists")
)

// Info describes a stored token; the token itself is never stored.
type Info struct {
	// Name is the token's name, unique among the tokens.
	Name string `json:"name"`
	// Hash is the hex SHA-256 of the token.
	Hash string `json:"sha256"`
	// Created is when the token was created.
	Created time.Time `json:"created"`
}

type file struct {
	Tokens []Info `json:"tokens"`
}

// Store is the tokens of one data folder.
type Store struct {
	path string
}

// New returns the store of the data folder dir.
func New(dir string) *Store { return &Store{path: filepath.Join(dir, FileName)} }

// Path returns the file the tokens are kept in.
func (s *Store) Path() string { return s.path }

func (s *Store) load() (file, error) {
	var f file
	fh, err := os.Open(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return f, fmt.Errorf("admintoken: reading the tokens: %w", err)
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, maxFile+1))
	if err != nil {
		return f, fmt.Errorf("admintoken: reading %s: %w", s.path, err)
	}
	if len(b) > maxFile {
		return f, fmt.Errorf("admintoken: %s is larger than %d bytes", s.path, maxFile)
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return f, fmt.Errorf("admintoken: %s: %w", s.path, err)
	}
	return f, nil
}

func (s *Store) save(f file) error {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("admintoken: encoding the tokens: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.path), FileName+".*")
	if err != nil {
		return fmt.Errorf("admintoken: writing the tokens: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the rename: nothing
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("admintoken: writing %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("admintoken: writing %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), s.path); err != nil {
		return fmt.Errorf("admintoken: replacing %s: %w", s.path, err)
	}
	return nil
}

// hash is the stored form of a token.
func hash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// CheckName reports whether name may name a token: 1 to 64 letters,
// digits, '.', '_' or '-'.
func CheckName(name string) error {
	if name == "" || len(name) > maxName {
		return fmt.Errorf("admintoken: a token name has 1 to %d characters", maxName)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("admintoken: token name %q: only letters, digits, '.', '_' and '-' are allowed", name)
		}
	}
	return nil
}

// Create makes a token named name, stores its hash and returns the
// token, which is not kept anywhere: the caller shows it once.
func (s *Store) Create(name string, now time.Time) (string, error) {
	if err := CheckName(name); err != nil {
		return "", err
	}
	f, err := s.load()
	if err != nil {
		return "", err
	}
	for _, t := range f.Tokens {
		if t.Name == name {
			return "", fmt.Errorf("%w: %q", ErrExists, name)
		}
	}
	if len(f.Tokens) >= MaxTokens {
		return "", fmt.Errorf("admintoken: already %d tokens; revoke one first", MaxTokens)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("admintoken: generating a token: %w", err)
	}
	token := Prefix + base64.RawURLEncoding.EncodeToString(b)
	f.Tokens = append(f.Tokens, Info{Name: name, Hash: hash(token), Created: now.UTC().Truncate(time.Second)})
	if err := s.save(f); err != nil {
		return "", err
	}
	return token, nil
}

// List returns the stored tokens, oldest first.
func (s *Store) List() ([]Info, error) {
	f, err := s.load()
	return f.Tokens, err
}

// Revoke deletes the token named name.
func (s *Store) Revoke(name string) error {
	f, err := s.load()
	if err != nil {
		return err
	}
	for i, t := range f.Tokens {
		if t.Name == name {
			f.Tokens = append(f.Tokens[:i], f.Tokens[i+1:]...)
			return s.save(f)
		}
	}
	return fmt.Errorf("%w: %q", ErrNotFound, name)
}

// Check returns the name of the stored token token is, and false if it
// is none (or is not of a token's form). An error means the tokens could
// not be read.
func (s *Store) Check(token string) (string, bool, error) {
	if !strings.HasPrefix(token, Prefix) || len(token) > 256 {
		return "", false, nil
	}
	f, err := s.load()
	if err != nil {
		return "", false, err
	}
	h := []byte(hash(token))
	name, ok := "", false
	for _, t := range f.Tokens {
		// Every stored hash is compared, in constant time.
		if subtle.ConstantTimeCompare(h, []byte(t.Hash)) == 1 {
			name, ok = t.Name, true
		}
	}
	return name, ok, nil
}
