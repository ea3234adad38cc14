package auth

import (
	"bytes"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/server/storage/sqlite"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/sasl"
)

func openStore(t *testing.T) storage.Stores {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "auth.db"), nil)
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db.Stores()
}

// clock is an injectable, manually advanced clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newClock() *clock { return &clock{t: time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)} }

var (
	alice = jid.MustParse("alice@example.org")
	bob   = jid.MustParse("bob@example.org")
)

func TestCreateAndCheckPassword(t *testing.T) {
	ctx := t.Context()
	s := openStore(t)
	a := New(s.Accounts, Options{})
	const pw = "correct horse battery staple"
	if err := a.Create(ctx, alice, pw); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if err := a.CheckPassword(ctx, alice, pw); err != nil {
		t.Fatalf("CheckPassword(right): %v", err)
	}
	// A full JID means its account.
	if err := a.CheckPassword(ctx, jid.MustParse("alice@example.org/res"), pw); err != nil {
		t.Fatalf("CheckPassword(full JID): %v", err)
	}
	for _, wrong := range []string{"", "Correct horse battery staple", pw + " ", "x"} {
		if err := a.CheckPassword(ctx, alice, wrong); !errors.Is(err, ErrNotAuthorized) {
			t.Fatalf("CheckPassword(%q) = %v, want ErrNotAuthorized", wrong, err)
		}
	}
	if err := a.CheckPassword(ctx, bob, pw); !errors.Is(err, ErrNotAuthorized) {
		t.Fatalf("CheckPassword(unknown user) = %v, want ErrNotAuthorized", err)
	}
	if err := a.Create(ctx, alice, "other"); !errors.Is(err, storage.ErrExists) {
		t.Fatalf("Create twice = %v, want ErrExists", err)
	}
	if err := a.CheckPassword(ctx, alice, pw); err != nil {
		t.Fatalf("failed duplicate Create changed the password: %v", err)
	}
	if err := a.Create(ctx, jid.MustParse("example.org"), pw); err == nil {
		t.Fatal("Create of a domain JID succeeded")
	}
}

func TestKeysAreNotThePassword(t *testing.T) {
	ctx := t.Context()
	s := openStore(t)
	a := New(s.Accounts, Options{Hashes: []string{"SHA-1", "SHA-256", "SHA-512"}})
	const pw = "hunter2hunter2"
	if err := a.Create(ctx, alice, pw); err != nil {
		t.Fatal(err)
	}
	if err := a.Create(ctx, bob, pw); err != nil {
		t.Fatal(err)
	}
	ka, err := s.Accounts.Keys(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := s.Accounts.Keys(ctx, bob)
	if err != nil {
		t.Fatal(err)
	}
	if len(ka) != 3 || len(kb) != 3 {
		t.Fatalf("got %d and %d keys, want 3 each", len(ka), len(kb))
	}
	for i, k := range ka {
		for _, field := range [][]byte{k.Salt, k.StoredKey, k.ServerKey} {
			if bytes.Contains(field, []byte(pw)) {
				t.Fatalf("%s key contains the password", k.Hash)
			}
		}
		if k.Iterations != DefaultIterations {
			t.Fatalf("%s iterations = %d, want %d", k.Hash, k.Iterations, DefaultIterations)
		}
		h, _ := hashByName(k.Hash)
		if len(k.StoredKey) != h.Size() || len(k.ServerKey) != h.Size() || len(k.Salt) < 16 {
			t.Fatalf("%s key has wrong sizes: %+v", k.Hash, k)
		}
		// Same password, different salt, different keys.
		if bytes.Equal(k.Salt, kb[i].Salt) || bytes.Equal(k.StoredKey, kb[i].StoredKey) || bytes.Equal(k.ServerKey, kb[i].ServerKey) {
			t.Fatalf("%s: alice and bob share salt or keys for the same password", k.Hash)
		}
		// The verifier matches an independent SCRAM derivation.
		c, err := sasl.DeriveCredentials(h, pw, k.Salt, k.Iterations)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(c.StoredKey, k.StoredKey) || !bytes.Equal(c.ServerKey, k.ServerKey) {
			t.Fatalf("%s: stored verifier does not match RFC 5802 derivation", k.Hash)
		}
	}
	// Different hashes of one user use different salts.
	if bytes.Equal(ka[0].Salt, ka[1].Salt) {
		t.Fatal("one salt reused across hashes")
	}
}

func TestSCRAMKey(t *testing.T) {
	ctx := t.Context()
	s := openStore(t)
	a := New(s.Accounts, Options{Iterations: 5000})
	if err := a.Create(ctx, alice, "pässwörd"); err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"SHA-1", "SHA-256"} {
		k, err := a.SCRAMKey(ctx, alice, h)
		if err != nil {
			t.Fatalf("SCRAMKey(%s): %v", h, err)
		}
		if k.Hash != h || k.Iterations != 5000 {
			t.Fatalf("SCRAMKey(%s) = %+v", h, k)
		}
		hh, _ := hashByName(h)
		// NFC/NFD: PRECIS OpaqueString normalizes, so the decomposed
		// spelling verifies too.
		ok, err := sasl.VerifyPassword(sasl.Credentials{Hash: hh, Salt: k.Salt, Iterations: k.Iterations,
			StoredKey: k.StoredKey, ServerKey: k.ServerKey}, "pa\u0308sswo\u0308rd")
		if err != nil || !ok {
			t.Fatalf("SCRAMKey(%s) does not verify the password: %v, %v", h, ok, err)
		}
	}
	if _, err := a.SCRAMKey(ctx, alice, "SHA-512"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("SCRAMKey(SHA-512) = %v, want ErrNotFound", err)
	}
	if _, err := a.SCRAMKey(ctx, bob, "SHA-256"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("SCRAMKey(unknown) = %v, want ErrNotFound", err)
	}
	if _, err := a.SCRAMKey(ctx, jid.JID{}, "SHA-256"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("SCRAMKey(zero JID) = %v, want ErrNotFound", err)
	}
}

func TestSetPasswordAndDelete(t *testing.T) {
	ctx := t.Context()
	s := openStore(t)
	a := New(s.Accounts, Options{})
	if err := a.SetPassword(ctx, alice, "new"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("SetPassword(unknown) = %v, want ErrNotFound", err)
	}
	if err := a.Create(ctx, alice, "old-password"); err != nil {
		t.Fatal(err)
	}
	before, _ := a.SCRAMKey(ctx, alice, "SHA-256")
	if err := a.SetPassword(ctx, alice, "new-password"); err != nil {
		t.Fatal(err)
	}
	if err := a.CheckPassword(ctx, alice, "old-password"); !errors.Is(err, ErrNotAuthorized) {
		t.Fatalf("old password still accepted: %v", err)
	}
	if err := a.CheckPassword(ctx, alice, "new-password"); err != nil {
		t.Fatalf("new password refused: %v", err)
	}
	after, _ := a.SCRAMKey(ctx, alice, "SHA-256")
	if bytes.Equal(before.Salt, after.Salt) {
		t.Fatal("SetPassword reused the salt")
	}
	if err := a.Delete(ctx, alice); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.Accounts.AccountExists(ctx, alice); ok {
		t.Fatal("account exists after Delete")
	}
	if err := a.CheckPassword(ctx, alice, "new-password"); !errors.Is(err, ErrNotAuthorized) {
		t.Fatalf("deleted account authenticates: %v", err)
	}
	if err := a.Delete(ctx, alice); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Delete twice = %v, want ErrNotFound", err)
	}
}

func TestInvalidPasswordAndConfig(t *testing.T) {
	ctx := t.Context()
	s := openStore(t)
	a := New(s.Accounts, Options{})
	// PRECIS OpaqueString rejects empty passwords and control characters.
	for _, pw := range []string{"", "bad\x00pw"} {
		if err := a.Create(ctx, alice, pw); err == nil {
			t.Fatalf("Create with password %q succeeded", pw)
		}
	}
	if ok, _ := s.Accounts.AccountExists(ctx, alice); ok {
		t.Fatal("failed Create left an account")
	}
	bad := New(s.Accounts, Options{Hashes: []string{"SHA-256", "MD5"}})
	if err := bad.Create(ctx, alice, "pw"); err == nil || !strings.Contains(err.Error(), "MD5") {
		t.Fatalf("Create with unknown hash configured = %v, want an error naming MD5", err)
	}
}

// accountsOnly hides the backend's storage.LoginReader, so that LoginKey
// takes its two-query path.
type accountsOnly struct{ storage.Accounts }

// TestLoginKey: the key and the disabled flag, read together (the backend
// implements storage.LoginReader) or apart (it does not, or the status
// store is another one), are the same.
func TestLoginKey(t *testing.T) {
	ctx := t.Context()
	s := openStore(t)
	if _, ok := s.Accounts.(storage.LoginReader); !ok || any(s.Status) != any(s.Accounts) {
		t.Fatal("the SQLite stores are not one storage.LoginReader: the one-query path is not covered")
	}
	for _, tc := range []struct {
		name     string
		accounts storage.Accounts
	}{{"one query", s.Accounts}, {"two queries", accountsOnly{s.Accounts}}} {
		t.Run(tc.name, func(t *testing.T) {
			a := New(tc.accounts, Options{Iterations: 4096, Status: s.Status})
			user := jid.MustParse("login-" + strings.ReplaceAll(tc.name, " ", "-") + "@example.com")
			if err := a.Create(ctx, user, "secret"); err != nil {
				t.Fatal(err)
			}
			want, err := a.SCRAMKey(ctx, user, "SHA-256")
			if err != nil {
				t.Fatal(err)
			}
			for _, disabled := range []bool{false, true, false} {
				if err := a.SetDisabled(ctx, user, disabled); err != nil {
					t.Fatal(err)
				}
				k, d, err := a.LoginKey(ctx, user, "SHA-256")
				if err != nil || d != disabled || !bytes.Equal(k.StoredKey, want.StoredKey) || !bytes.Equal(k.Salt, want.Salt) {
					t.Fatalf("LoginKey = %+v, disabled %v, %v; want disabled %v", k, d, err, disabled)
				}
			}
			if _, _, err := a.LoginKey(ctx, user, "SHA-512"); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("LoginKey(SHA-512) = %v, want ErrNotFound", err)
			}
			if _, _, err := a.LoginKey(ctx, bob, "SHA-256"); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("LoginKey(unknown) = %v, want ErrNotFound", err)
			}
			if _, _, err := a.LoginKey(ctx, jid.JID{}, "SHA-256"); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("LoginKey(zero JID) = %v, want ErrNotFound", err)
			}
		})
	}
	// Without a status store no account is disabled.
	a := New(s.Accounts, Options{Iterations: 4096})
	if err := a.Create(ctx, alice, "secret"); err != nil {
		t.Fatal(err)
	}
	if err := s.Status.SetDisabled(ctx, alice, true); err != nil {
		t.Fatal(err)
	}
	if _, d, err := a.LoginKey(ctx, alice, "SHA-1"); err != nil || d {
		t.Errorf("LoginKey without a status store: disabled %v, %v", d, err)
	}
}

// The counts announced for unknown users follow the stored accounts':
// read from storage at start, then kept up to date by Create, SetPassword
// and Delete; in whole percent.
func TestFakeIterationShares(t *testing.T) {
	ctx := t.Context()
	s := openStore(t)
	old := New(s.Accounts, Options{Iterations: 4096})
	for _, u := range []string{"a", "b", "c"} {
		if err := old.Create(ctx, jid.MustParse(u+"@example.org"), "pw-"+u); err != nil {
			t.Fatal(err)
		}
	}
	// The operator raised the configured count; a restart.
	a := New(s.Accounts, Options{Iterations: 10000})
	if got := a.FakeIterationShares(); !reflect.DeepEqual(got, []sasl.IterationShare{{Iterations: 10000, Weight: 1}}) {
		t.Fatalf("before loading: %v, want the configured count", got)
	}
	if err := a.LoadIterationCounts(ctx); err != nil {
		t.Fatal(err)
	}
	if got := a.FakeIterationShares(); !reflect.DeepEqual(got, []sasl.IterationShare{{Iterations: 4096, Weight: 100}}) {
		t.Fatalf("after loading: %v, want every stored account's 4096", got)
	}
	if err := a.Create(ctx, jid.MustParse("d@example.org"), "pw-d"); err != nil {
		t.Fatal(err)
	}
	if got := a.FakeIterationShares(); !reflect.DeepEqual(got, []sasl.IterationShare{{Iterations: 4096, Weight: 75}, {Iterations: 10000, Weight: 25}}) {
		t.Fatalf("after a new account: %v", got)
	}
	if err := a.SetPassword(ctx, jid.MustParse("a@example.org"), "new-pw"); err != nil {
		t.Fatal(err)
	}
	if err := a.Delete(ctx, jid.MustParse("b@example.org")); err != nil {
		t.Fatal(err)
	}
	want := []sasl.IterationShare{{Iterations: 4096, Weight: 33}, {Iterations: 10000, Weight: 67}}
	if got := a.FakeIterationShares(); !reflect.DeepEqual(got, want) {
		t.Fatalf("after a password change and a deletion: %v, want %v", got, want)
	}
	// The same figures as a fresh start reading the storage.
	fresh := New(s.Accounts, Options{Iterations: 10000})
	if err := fresh.LoadIterationCounts(ctx); err != nil {
		t.Fatal(err)
	}
	if got := fresh.FakeIterationShares(); !reflect.DeepEqual(got, want) {
		t.Fatalf("reloaded: %v, want %v", got, want)
	}
}
