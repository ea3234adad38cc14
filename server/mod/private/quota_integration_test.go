package private_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

// TestPrivateQuotaIntegration fills one account's private storage to its
// quotas: one element more, or one that makes the total too large, gets
// <resource-constraint/>, and what was stored stays readable.
func TestPrivateQuotaIntegration(t *testing.T) {
	s := xmpptest.NewServer(t, func(c *config.Config) {
		c.Quotas.PrivateEntries = 3
		c.Quotas.PrivateBytes = 2048
	})
	s.AddUser(t, "alice", "pw")
	s.AddUser(t, "bob", "pw")
	ca := s.Client(t, "alice", "pw", "desk")
	ctx := xmpptest.Context(t, 10*time.Second)
	el := func(ns string, size int) *stanza.Element {
		return stanza.New(ns, "data").AppendText(strings.Repeat("x", size))
	}
	for i := range 3 {
		if _, err := ca.SendIQ(ctx, stanza.NewIQ(stanza.TypeSet, "", "", query(el(fmt.Sprintf("urn:example:%d", i), 100)))); err != nil {
			t.Fatalf("set element %d: %v", i, err)
		}
	}
	// A fourth namespace is one element too many.
	_, err := ca.SendIQ(ctx, stanza.NewIQ(stanza.TypeSet, "", "", query(el("urn:example:3", 10))))
	if condition(err) != stanza.ResourceConstraint {
		t.Fatalf("fourth element: %v, want <resource-constraint/>", err)
	}
	// Replacing one is allowed, up to the byte quota.
	if _, err := ca.SendIQ(ctx, stanza.NewIQ(stanza.TypeSet, "", "", query(el("urn:example:2", 1000)))); err != nil {
		t.Fatalf("replace within the quota: %v", err)
	}
	_, err = ca.SendIQ(ctx, stanza.NewIQ(stanza.TypeSet, "", "", query(el("urn:example:1", 1500))))
	if condition(err) != stanza.ResourceConstraint {
		t.Fatalf("replacement past 2048 bytes: %v, want <resource-constraint/>", err)
	}
	res, err := ca.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", "", query(stanza.New("urn:example:1", "data"))))
	if err != nil {
		t.Fatal(err)
	}
	if got := len(res.Child("jabber:iq:private", "query").Child("urn:example:1", "data").Text()); got != 100 {
		t.Fatalf("refused replacement changed the element: %d bytes of text, want 100", got)
	}
	// Another account's quota is its own.
	cb := s.Client(t, "bob", "pw", "desk")
	if _, err := cb.SendIQ(ctx, stanza.NewIQ(stanza.TypeSet, "", "", query(el("urn:example:3", 10)))); err != nil {
		t.Fatalf("bob's first element: %v", err)
	}
	// A set of several elements is stored whole or not at all.
	_, err = cb.SendIQ(ctx, stanza.NewIQ(stanza.TypeSet, "", "", query(el("urn:example:a", 10), el("urn:example:b", 10), el("urn:example:c", 10))))
	if condition(err) != stanza.ResourceConstraint {
		t.Fatalf("three more elements for bob: %v, want <resource-constraint/>", err)
	}
	res, err = cb.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", "", query(stanza.New("urn:example:a", "data"))))
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Child("jabber:iq:private", "query").Child("urn:example:a", "data"); got == nil || got.Text() != "" {
		t.Fatalf("element of a refused set stored: %s", res)
	}
}
