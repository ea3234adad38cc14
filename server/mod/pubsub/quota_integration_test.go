package pubsub_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/server/config"
	xpubsub "github.com/parley-xmpp/parley/xmpp/pubsub"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

// TestQuotasIntegration checks the pubsub quotas on the wire: nodes per
// account on PEP and on the pubsub service, items kept per node, and item
// payload size, each refused with the error XEP-0060 names.
func TestQuotasIntegration(t *testing.T) {
	s := xmpptest.NewServer(t, func(c *config.Config) {
		c.Quotas.PubSubNodes = 3
		c.Quotas.PubSubItems = 5
		c.Quotas.PubSubItemBytes = 2048
	})
	s.AddUser(t, "alice", "pw")
	s.AddUser(t, "bob", "pw")
	alice := online(t, s, "alice", "desk")
	bob := online(t, s, "bob", "desk")
	const svc = "pubsub.localhost"

	// PEP: three nodes by auto-create, then a fourth is refused, by
	// publish and by create alike.
	for i := range 3 {
		mustIQ(t, alice, stanza.TypeSet, "", publish(fmt.Sprintf("urn:example:n%d", i), "1", payload("urn:example", "x")))
	}
	_, err := iq(t, alice, stanza.TypeSet, "", publish("urn:example:n3", "1", payload("urn:example", "x")))
	wantErr(t, "PEP publish creating a fourth node", err, stanza.NotAllowed, xpubsub.CondMaxNodesExceeded)
	_, err = iq(t, alice, stanza.TypeSet, "", ps(stanza.New(xpubsub.NS, "create", "node", "urn:example:n3")))
	wantErr(t, "PEP create of a fourth node", err, stanza.NotAllowed, xpubsub.CondMaxNodesExceeded)
	// Existing nodes still take items; deleting one makes room.
	mustIQ(t, alice, stanza.TypeSet, "", publish("urn:example:n0", "2", payload("urn:example", "y")))
	mustIQ(t, alice, stanza.TypeSet, "", owner(stanza.New(xpubsub.NSOwner, "delete", "node", "urn:example:n0")))
	mustIQ(t, alice, stanza.TypeSet, "", publish("urn:example:n3", "1", payload("urn:example", "x")))

	// The pubsub service counts the nodes each account owns: alice's
	// quota does not keep bob from creating nodes.
	for i := range 3 {
		mustIQ(t, alice, stanza.TypeSet, svc, ps(stanza.New(xpubsub.NS, "create", "node", fmt.Sprintf("alice%d", i))))
	}
	_, err = iq(t, alice, stanza.TypeSet, svc, ps(stanza.New(xpubsub.NS, "create", "node", "alice3")))
	wantErr(t, "service create of a fourth node", err, stanza.NotAllowed, xpubsub.CondMaxNodesExceeded)
	mustIQ(t, bob, stanza.TypeSet, svc, ps(stanza.New(xpubsub.NS, "create", "node", "bob0")))

	// Items: max_items "max" means the quota; the oldest go.
	node := "urn:example:persistent"
	for i := range 7 {
		mustIQ(t, bob, stanza.TypeSet, "", publishWith(node, fmt.Sprintf("i%d", i), payload("urn:example", "x"),
			map[string]string{"pubsub#persist_items": "true", "pubsub#max_items": "max"}))
	}
	got := itemIDs(mustIQ(t, bob, stanza.TypeGet, "", items(node, "10")))
	slices.Sort(got)
	if want := []string{"i2", "i3", "i4", "i5", "i6"}; !slices.Equal(got, want) {
		t.Fatalf("items kept = %v, want the newest %v", got, want)
	}

	// Payload size.
	_, err = iq(t, bob, stanza.TypeSet, "", publish(node, "big", payload("urn:example", strings.Repeat("x", 3000))))
	wantErr(t, "payload over pubsub_item_bytes", err, stanza.NotAcceptable, xpubsub.CondPayloadTooBig)
	mustIQ(t, bob, stanza.TypeSet, "", publish(node, "small", payload("urn:example", strings.Repeat("x", 1500))))
}

// TestStorageQuotaIntegration: pubsub_bytes bounds the payloads of the
// nodes an account owns; a publish past it gets <resource-constraint/>
// and changes nothing, while republishing an item in place, or into a
// node whose max_items pushes the old one out, still works.
func TestStorageQuotaIntegration(t *testing.T) {
	s := xmpptest.NewServer(t, func(c *config.Config) { c.Quotas.PubSubBytes = 4096 })
	s.AddUser(t, "alice", "pw")
	alice := online(t, s, "alice", "desk")
	persistent := map[string]string{"pubsub#persist_items": "true", "pubsub#max_items": "max"}
	big := func(c string) *stanza.Element { return payload("urn:example", strings.Repeat(c, 1500)) }
	mustIQ(t, alice, stanza.TypeSet, "", publishWith("urn:example:posts", "p1", big("a"), persistent))
	mustIQ(t, alice, stanza.TypeSet, "", publishWith("urn:example:posts", "p2", big("b"), persistent))
	_, err := iq(t, alice, stanza.TypeSet, "", publishWith("urn:example:posts", "p3", big("c"), persistent))
	wantErr(t, "publish past pubsub_bytes", err, stanza.ResourceConstraint, "")
	if got := itemIDs(mustIQ(t, alice, stanza.TypeGet, "", items("urn:example:posts", "10"))); len(got) != 2 {
		t.Fatalf("items after the refusal = %v, want p1 and p2", got)
	}
	// In place: the old p2 frees its room.
	mustIQ(t, alice, stanza.TypeSet, "", publishWith("urn:example:posts", "p2", big("d"), persistent))
	// A node keeping one item: each new one replaces the last.
	mustIQ(t, alice, stanza.TypeSet, "", owner(stanza.New(xpubsub.NSOwner, "delete", "node", "urn:example:posts")))
	for i := range 5 {
		mustIQ(t, alice, stanza.TypeSet, "", publish("urn:example:avatar", fmt.Sprint(i), big("e")))
	}
}
