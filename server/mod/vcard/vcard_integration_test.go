package vcard_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/mod/vcard"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

func condition(err error) stanza.Condition {
	var se *stanza.Error
	if errors.As(err, &se) {
		return se.Condition
	}
	return ""
}

func card(fn string) *stanza.Element {
	return stanza.New(vcard.NS, "vCard").Append(
		stanza.New(vcard.NS, "FN").AppendText(fn),
		stanza.New(vcard.NS, "N").Append(stanza.New(vcard.NS, "GIVEN").AppendText(fn)),
	)
}

func TestVCardIntegration(t *testing.T) {
	s := xmpptest.NewServer(t)
	alice := s.AddUser(t, "alice", "pw")
	s.AddUser(t, "bob", "pw")
	ca := s.Client(t, "alice", "pw", "desk")
	cb := s.Client(t, "bob", "pw", "desk")
	ctx := xmpptest.Context(t, 10*time.Second)
	get := func(to string) *stanza.Element {
		return stanza.NewIQ(stanza.TypeGet, "", to, stanza.New(vcard.NS, "vCard"))
	}

	// §3.1: no vCard yet: empty element for oneself, service-unavailable
	// for others (§3.3), as for a missing account.
	res, err := ca.SendIQ(ctx, get(""))
	if err != nil {
		t.Fatalf("own empty vCard: %v", err)
	}
	if v := res.Child(vcard.NS, "vCard"); v == nil || len(v.Elements()) != 0 {
		t.Errorf("own empty vCard = %s", res)
	}
	if _, err := cb.SendIQ(ctx, get(alice.String())); condition(err) != stanza.ServiceUnavailable {
		t.Errorf("other's missing vCard: err = %v", err)
	}
	if _, err := cb.SendIQ(ctx, get("nobody@"+s.Domain())); condition(err) != stanza.ServiceUnavailable {
		t.Errorf("missing account: err = %v", err)
	}

	if _, err := ca.SendIQ(ctx, stanza.NewIQ(stanza.TypeSet, "", "", card("Alice"))); err != nil {
		t.Fatalf("set: %v", err)
	}
	for _, c := range []struct {
		name string
		to   string
	}{{"self", ""}, {"other", alice.String()}} {
		cl := ca
		if c.name == "other" {
			cl = cb
		}
		res, err := cl.SendIQ(ctx, get(c.to))
		if err != nil {
			t.Fatalf("%s get: %v", c.name, err)
		}
		v := res.Child(vcard.NS, "vCard")
		if v == nil || v.ChildText(vcard.NS, "FN") != "Alice" || v.Child(vcard.NS, "N").ChildText(vcard.NS, "GIVEN") != "Alice" {
			t.Errorf("%s get = %s", c.name, res)
		}
	}

	// §3.2: nobody else may set it.
	if _, err := cb.SendIQ(ctx, stanza.NewIQ(stanza.TypeSet, "", alice.String(), card("Mallory"))); condition(err) != stanza.Forbidden {
		t.Errorf("set on other: err = %v, want forbidden", err)
	}

	big := stanza.New(vcard.NS, "vCard").Append(stanza.New(vcard.NS, "DESC").AppendText(strings.Repeat("x", vcard.DefaultMaxBytes)))
	if _, err := ca.SendIQ(ctx, stanza.NewIQ(stanza.TypeSet, "", "", big)); condition(err) != stanza.NotAcceptable {
		t.Errorf("oversized: err = %v, want not-acceptable", err)
	}
	res, _ = cb.SendIQ(ctx, get(alice.String()))
	if res.Child(vcard.NS, "vCard").ChildText(vcard.NS, "FN") != "Alice" {
		t.Errorf("oversized set changed the vCard: %s", res)
	}

	// An empty vCard deletes it.
	if _, err := ca.SendIQ(ctx, stanza.NewIQ(stanza.TypeSet, "", "", stanza.New(vcard.NS, "vCard"))); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := cb.SendIQ(ctx, get(alice.String())); condition(err) != stanza.ServiceUnavailable {
		t.Errorf("after delete: err = %v", err)
	}
}

// TestVCardQuotaIntegration (the name is in FN and GIVEN: twice): quotas.vcard_bytes bounds the vCard an
// account may store; a larger one gets <not-acceptable/> and the stored
// one stays.
func TestVCardQuotaIntegration(t *testing.T) {
	s := xmpptest.NewServer(t, func(c *config.Config) { c.Quotas.VCardBytes = 2048 })
	s.AddUser(t, "alice", "pw")
	ca := s.Client(t, "alice", "pw", "desk")
	ctx := xmpptest.Context(t, 10*time.Second)
	set := func(fn string) error {
		_, err := ca.SendIQ(ctx, stanza.NewIQ(stanza.TypeSet, "", "", card(fn)))
		return err
	}
	if err := set(strings.Repeat("a", 800)); err != nil {
		t.Fatalf("vCard within the quota: %v", err)
	}
	if err := set(strings.Repeat("b", 1100)); condition(err) != stanza.NotAcceptable {
		t.Fatalf("vCard over vcard_bytes: %v, want <not-acceptable/>", err)
	}
	res, err := ca.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", "", stanza.New(vcard.NS, "vCard")))
	if err != nil {
		t.Fatal(err)
	}
	if fn := res.Child(vcard.NS, "vCard").ChildText(vcard.NS, "FN"); fn != strings.Repeat("a", 800) {
		t.Fatalf("stored vCard changed by a refused set: FN of %d bytes", len(fn))
	}
}
