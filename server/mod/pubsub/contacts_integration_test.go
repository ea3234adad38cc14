package pubsub_test

import (
	"context"
	"encoding/xml"
	"strconv"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/xmpp/caps"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/disco"
	xpubsub "github.com/parley-xmpp/parley/xmpp/pubsub"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

// directedCaps logs user in and sends directed presence to 'to' with caps
// (never seen by the server before) showing interest in node; the
// returned channel gets a value for each disco#info query the client is
// sent.
func directedCaps(t *testing.T, s *xmpptest.Server, user, to, node string) (*client.Client, <-chan struct{}) {
	t.Helper()
	c := s.Client(t, user, "pw", "res")
	info := disco.Info{
		Identities: []disco.Identity{{Category: "client", Type: "pc", Name: "directed " + user + " " + strconv.FormatUint(onlineSeq.Add(1), 10)}},
		Features:   []string{disco.NSInfo, node + xpubsub.NotifySuffix},
	}
	ver, err := caps.Ver(info, caps.SHA1)
	if err != nil {
		t.Fatal(err)
	}
	asked := make(chan struct{}, 8)
	c.Handle(stanza.KindIQ, xml.Name{Space: disco.NSInfo, Local: "query"}, func(iq *stanza.Element) {
		answer := info
		answer.Node = iq.Payload().Get("node")
		_ = c.Send(context.Background(), stanza.Result(iq, answer.Element()))
		asked <- struct{}{}
	})
	p := stanza.New(stanza.NSClient, "presence", "to", to).Append(caps.Caps{Hash: caps.SHA1, Node: "https://parley.test/directed", Ver: ver}.Element())
	if err := c.Send(xmpptest.Context(t, wait), p); err != nil {
		t.Fatal(err)
	}
	return c, asked
}

// PEP treats only contacts the account shares presence with as
// subscribers (XEP-0163 §4.3): directed presence from a stranger, with
// caps asking for a node open to anyone, draws no caps query and no last
// item; the same presence from a contact with a subscription does.
func TestPEPIgnoresPresenceFromNonContacts(t *testing.T) {
	s := xmpptest.NewServer(t)
	for _, u := range []string{"alice", "bob", "mallory"} {
		s.AddUser(t, u, "pw")
	}
	const node = "urn:example:open"
	alice := s.Client(t, "alice", "pw", "desk")
	mustIQ(t, alice, stanza.TypeSet, "", publishWith(node, "it", payload(node, "x"), map[string]string{"pubsub#access_model": "open"}))
	friends(t, s, s.JID(t, "alice"), s.JID(t, "bob"))

	mallory, asked := directedCaps(t, s, "mallory", "alice@"+s.Domain(), node)
	// A round trip: the session's stanzas are routed in order, so the
	// presence has been handled.
	mustIQ(t, mallory, stanza.TypeGet, s.Domain(), stanza.New(disco.NSInfo, "query"))
	select {
	case <-asked:
		t.Fatal("the server queried a stranger's caps after its directed presence")
	case <-time.After(300 * time.Millisecond):
	}
	noEvent(t, mallory, node, 300*time.Millisecond)

	bob, asked := directedCaps(t, s, "bob", "alice@"+s.Domain(), node)
	select {
	case <-asked:
	case <-time.After(wait):
		t.Fatal("the server never queried a contact's caps")
	}
	event(t, bob, node)
}
