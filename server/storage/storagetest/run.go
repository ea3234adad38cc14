package storagetest

import (
	"bytes"
	"errors"
	"testing"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// Run runs the conformance suite against the backend that open creates.
// open must return fresh, empty stores each time it is called; it registers
// its own cleanup with t.
func Run(t *testing.T, open func(t *testing.T) storage.Stores) {
	t.Helper()
	groups := []struct {
		name  string
		tests []subtest
	}{
		{"Accounts", accountTests},
		{"Roster", rosterTests},
		{"Offline", offlineTests},
		{"VCards", vcardTests},
		{"Private", privateTests},
		{"Blocking", blockingTests},
		{"LastActivity", lastTests},
		{"DeleteAccount", deleteTests},
		{"Archive", archiveTests},
		{"PubSub", pubsubTests},
		{"AccountStatus", statusTests},
		{"Invites", inviteTests},
		{"FastTokens", fastTests},
		{"Push", pushTests},
		{"MUC", mucTests},
		{"Transfer", transferTests},
		{"Transactions", txTests},
		{"Quota", quotaTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, st := range g.tests {
				t.Run(st.name, func(t *testing.T) {
					t.Parallel()
					st.fn(t, open(t))
				})
			}
		})
	}
}

// subtest is one named test of the suite.
type subtest struct {
	name string
	fn   func(t *testing.T, s storage.Stores)
}

// Users and contacts shared by the tests, including non-ASCII ones.
var (
	alice   = jid.MustParse("alice@example.org")
	bob     = jid.MustParse("bob@example.org")
	carol   = jid.MustParse("carol@example.net")
	juliet  = jid.MustParse("juliet@capulet.lit")
	romeo   = jid.MustParse("romeo@montague.lit")
	unicode = jid.MustParse("ĵürgen@例え.jp")
	greek   = jid.MustParse("σωκράτης@αθήνα.gr")
)

// key returns a SCRAM key for tests whose bytes are derived from seed.
func key(hash string, seed byte) storage.SCRAMKey {
	fill := func(n int, b byte) []byte { return bytes.Repeat([]byte{b}, n) }
	return storage.SCRAMKey{
		Hash:       hash,
		Salt:       fill(16, seed),
		Iterations: 4096 + int(seed),
		StoredKey:  fill(32, seed+1),
		ServerKey:  fill(32, seed+2),
	}
}

// create creates an account with one key, failing the test on error.
func create(t *testing.T, s storage.Stores, user jid.JID) {
	t.Helper()
	if err := s.Accounts.CreateAccount(t.Context(), user, []storage.SCRAMKey{key("SHA-256", 1)}); err != nil {
		t.Fatalf("CreateAccount(%s): %v", user, err)
	}
}

// wantErr fails the test unless errors.Is(err, target).
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: error = %v, want %v", what, err, target)
	}
}

// noErr fails the test if err is not nil.
func noErr(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// jidStrings returns the string forms of js.
func jidStrings(js []jid.JID) []string {
	out := make([]string, len(js))
	for i, j := range js {
		out[i] = j.String()
	}
	return out
}
