package stream_test

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/server/auth"
	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/sasl"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

// challenger reads SCRAM server-first messages for arbitrary usernames,
// aborting each exchange, over as few streams as the per-stream failure
// limit allows.
type challenger struct {
	t    *testing.T
	s    *xmpptest.Server
	r    *raw
	used int
}

// first returns the salt (decoded) and the iteration count the server
// announces to user with mech.
func (c *challenger) first(mech, user string) (salt []byte, iters string) {
	c.t.Helper()
	if c.r == nil || c.used == 6 {
		c.r, c.used = dialRaw(c.t, c.s), 0
		c.r.open()
		c.r.startTLS(nil)
	}
	c.used++
	c.r.send(stanza.New(nsSASL, "auth", "mechanism", mech).AppendText(b64([]byte("n,,n=" + user + ",r=abcdefghijklmnop"))))
	ch := c.r.mustNext()
	if ch.Name.Local != "challenge" {
		c.t.Fatalf("%s for %s: %s", mech, user, ch)
	}
	data, _ := base64.StdEncoding.DecodeString(ch.Text())
	for _, f := range strings.Split(string(data), ",") {
		if v, ok := strings.CutPrefix(f, "s="); ok {
			salt, _ = base64.StdEncoding.DecodeString(v)
		}
		if v, ok := strings.CutPrefix(f, "i="); ok {
			iters = v
		}
	}
	c.r.send(stanza.New(nsSASL, "abort"))
	expectFailure(c.t, c.r.mustNext(), sasl.Aborted)
	return salt, iters
}

// An unknown user's SCRAM challenge cannot be told from a stored
// account's: after the configured count was raised, stored accounts carry
// 4096 (most) or 10000 (the newest), and unknown users are announced the
// one or the other in the same proportions, the same for a username every
// time and whatever the hash, with a salt of the same length. (Announcing
// the configured 10000 to every unknown user, as before, told every 4096
// account apart.)
func TestUnknownUserSCRAMIndistinguishable(t *testing.T) {
	s, alice, bob := newServer(t, func(c *config.Config) { c.Auth.ScramIterations = 10000 })
	// Nine accounts from before the change (alice, bob and carol have the
	// new count); then a restart reads the figures.
	old := auth.New(s.App.Stores().Accounts, auth.Options{Iterations: 4096})
	for i := range 9 {
		if err := old.Create(t.Context(), s.JID(t, fmt.Sprintf("old%d", i)), "pw"); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.App.Auth().LoadIterationCounts(t.Context()); err != nil {
		t.Fatal(err)
	}
	c := &challenger{t: t, s: s}
	realSalt, it := c.first(sasl.ScramSHA256, "old0")
	if it != "4096" {
		t.Fatalf("stored account old0: count %s", it)
	}
	if _, it := c.first(sasl.ScramSHA256, "carol"); it != "10000" {
		t.Fatalf("stored account carol: count %s", it)
	}
	counts := map[string]int{}
	const n = 60
	for i := range n {
		u := fmt.Sprintf("nobody%d", i)
		salt, a := c.first(sasl.ScramSHA256, u)
		salt2, b := c.first(sasl.ScramSHA256, u)
		_, sha1 := c.first(sasl.ScramSHA1, u)
		if a != b || a != sha1 || string(salt) != string(salt2) {
			t.Fatalf("%s: count %s then %s (and %s with SHA-1), salts equal: %v; a stored account's never change", u, a, b, sha1, string(salt) == string(salt2))
		}
		if len(salt) != len(realSalt) {
			t.Fatalf("%s: %d-byte salt, stored accounts have %d", u, len(salt), len(realSalt))
		}
		counts[a]++
	}
	if len(counts) != 2 || counts["4096"] < n/2 || counts["10000"] == 0 {
		t.Fatalf("unknown users were announced %v; stored accounts have 4096 (75%%) and 10000 (25%%)", counts)
	}
	alive(t, alice, bob)
}
