package auth

import (
	"fmt"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/xmpp/jid"
)

// The record answers for logins that began at or before a revocation,
// and stays bounded: past maxRevoked accounts the oldest are forgotten.
func TestRevocations(t *testing.T) {
	var r revocations
	t0 := time.Now()
	alice := jid.MustParse("alice@example.com/phone")
	r.record(alice, t0)
	if !r.since(alice.Bare(), t0.Add(-time.Second)) || !r.since(alice, t0) {
		t.Fatal("a login that began before the revocation is not refused")
	}
	if r.since(alice, t0.Add(time.Second)) {
		t.Fatal("a login that began after the revocation is refused")
	}
	if r.since(jid.MustParse("bob@example.com"), t0.Add(-time.Hour)) {
		t.Fatal("another account is refused")
	}
	for i := range maxRevoked + 10 {
		r.record(jid.MustParse(fmt.Sprintf("u%d@example.com", i)), t0.Add(time.Duration(i+1)*time.Millisecond))
	}
	if n := len(r.at); n > maxRevoked {
		t.Fatalf("%d accounts remembered, at most %d", n, maxRevoked)
	}
	if r.since(alice, t0) {
		t.Fatal("the oldest record was kept past the bound")
	}
}
