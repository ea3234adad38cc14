package pubsub

import (
	"testing"

	"github.com/parley-xmpp/parley/xmpp/jid"
)

// The tracker tells initial presence from updates for a resource seen by
// its own account and for a contact's resource seen by another account
// alike, and a session's end forgets it everywhere.
func TestPresenceTracker(t *testing.T) {
	owner, other := jid.MustParse("alice@example.org"), jid.MustParse("bob@example.org")
	res, contact := jid.MustParse("alice@example.org/phone"), jid.MustParse("carol@example.net/pc")
	tr := newPresenceTracker()
	for _, c := range []struct {
		owner, full jid.JID
		remote      bool
	}{{owner, res, false}, {other, res, false}, {owner, contact, true}} {
		if tr.known(c.owner, c.full) {
			t.Fatalf("%v known to %v before any presence", c.full, c.owner)
		}
		if !tr.available(c.owner, c.full, c.remote) {
			t.Errorf("first presence of %v to %v not initial", c.full, c.owner)
		}
		if tr.available(c.owner, c.full, c.remote) {
			t.Errorf("second presence of %v to %v initial", c.full, c.owner)
		}
		if !tr.known(c.owner, c.full) {
			t.Errorf("%v not known to %v", c.full, c.owner)
		}
	}
	if len(tr.self) != 1 || len(tr.seen) != 2 {
		t.Errorf("%d records of own resources and %d of others, want 1 and 2", len(tr.self), len(tr.seen))
	}
	if got := tr.remoteResources(contact.Bare()); len(got) != 1 || got[0] != contact {
		t.Errorf("remote resources of carol: %v", got)
	}
	tr.unavailable(owner, contact)
	if tr.known(owner, contact) || len(tr.remoteResources(contact.Bare())) != 0 {
		t.Error("carol's resource still known after unavailable")
	}
	tr.forget(res)
	if tr.known(owner, res) || tr.known(other, res) {
		t.Error("alice's resource still known after its session ended")
	}
	if !tr.available(owner, res, false) {
		t.Error("presence after the session's end not initial")
	}
}
