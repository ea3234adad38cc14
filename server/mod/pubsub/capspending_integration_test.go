package pubsub_test

import (
	"context"
	"encoding/xml"
	"testing"

	"github.com/parley-xmpp/parley/xmpp/caps"
	"github.com/parley-xmpp/parley/xmpp/disco"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

// A resource that has just come online and whose caps the server is still
// resolving gets a PEP notification published meanwhile once its features
// are known (XEP-0163 §4.3 with XEP-0115): the publication is not lost to
// the race between its presence and the server's disco#info query.
func TestPEPNotificationWaitsForCapsBeingResolved(t *testing.T) {
	s := xmpptest.NewServer(t)
	s.AddUser(t, "alice", "pw")
	desk := s.Client(t, "alice", "pw", "desk")
	phone := s.Client(t, "alice", "pw", "phone")
	const node = "urn:example:pending"
	info := disco.Info{
		Identities: []disco.Identity{{Category: "client", Type: "phone", Name: "gated"}},
		Features:   []string{disco.NSInfo, node + "+notify"},
	}
	ver, err := caps.Ver(info, caps.SHA1)
	if err != nil {
		t.Fatal(err)
	}
	asked := make(chan struct{})
	release := make(chan struct{})
	phone.Handle(stanza.KindIQ, xml.Name{Space: disco.NSInfo, Local: "query"}, func(iq *stanza.Element) {
		close(asked)
		<-release // answer only after the publication below
		answer := info
		answer.Node = iq.Payload().Get("node")
		_ = phone.Send(context.Background(), stanza.Result(iq, answer.Element()))
	})
	p := stanza.New(stanza.NSClient, "presence").Append(caps.Caps{Hash: caps.SHA1, Node: "https://parley.test/gated", Ver: ver}.Element())
	if err := phone.Send(xmpptest.Context(t, wait), p); err != nil {
		t.Fatal(err)
	}
	select {
	case <-asked:
	case <-xmpptest.Context(t, wait).Done():
		t.Fatal("the server never asked for the features behind the caps")
	}
	// The query is in flight: publish now, on a node that never resends its
	// last item, so only the notification itself can reach the phone.
	mustIQ(t, desk, stanza.TypeSet, "", publishWith(node, "one", stanza.New("urn:example", "x"),
		map[string]string{"pubsub#send_last_published_item": "never"}))
	close(release)
	event(t, phone, node)
}
