package cluster_test

import (
	"testing"

	"github.com/parley-xmpp/parley/xmpp/disco"
	xpubsub "github.com/parley-xmpp/parley/xmpp/pubsub"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

func TestPEPAcrossNodes(t *testing.T) {
	const node = "urn:example:tune"
	cl, _, _, alice, bob := pair(t)
	c, _ := xmpptest.AnswerCaps(t, alice, disco.Info{
		Identities: []disco.Identity{{Category: "client", Type: "pc", Name: "cluster pep test"}},
		Features:   []string{disco.NSInfo, node + xpubsub.NotifySuffix},
	})
	xmpptest.Send(t, alice, stanza.New(stanza.NSClient, "presence").Append(c))
	online(t, bob)
	subscribe(t, alice, bob)
	subscribe(t, bob, alice)
	xmpptest.Expect(t, bob, "alice's presence", isPresence("", alice.JID()))
	cl.visible(t, alice.JID(), true)

	// bob publishes on node 2; alice, on node 1, asked for the node's
	// notifications in her caps.
	item := stanza.New(xpubsub.NS, "item", "id", "current").Append(stanza.New(node, "tune").Append(stanza.New(node, "title").SetText("Song")))
	pub := stanza.New(xpubsub.NS, "pubsub").Append(stanza.New(xpubsub.NS, "publish", "node", node).Append(item))
	if _, err := bob.SendIQ(xmpptest.Context(t, xmpptest.Wait), stanza.NewIQ(stanza.TypeSet, "", "", pub)); err != nil {
		t.Fatal(err)
	}
	xmpptest.Expect(t, alice, "bob's PEP notification", func(st *stanza.Element) bool {
		ev := st.Child(xpubsub.NSEvent, "event")
		return st.Name.Local == "message" && st.From() == bob.JID().Bare().String() && ev != nil &&
			ev.Child(xpubsub.NSEvent, "items") != nil && ev.Child(xpubsub.NSEvent, "items").Get("node") == node
	})
}
