package xmpptest

import (
	"context"
	"encoding/xml"
	"sync"
	"testing"

	"github.com/parley-xmpp/parley/xmpp/caps"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/disco"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// CapsNode is the XEP-0115 node of the caps AnswerCaps advertises.
const CapsNode = "https://parley.test/client"

// AnswerCaps makes c answer disco#info queries (XEP-0030) with info, the
// queried node echoed, and returns the XEP-0115 <c/> advertising info, to
// put in c's presence, and a channel closed at the first query. A server
// that does not know the caps' 'ver' asks c for the features behind it:
// give info a name of its own to make it ask.
func AnswerCaps(t testing.TB, c *client.Client, info disco.Info) (*stanza.Element, <-chan struct{}) {
	t.Helper()
	ver, err := caps.Ver(info, caps.SHA1)
	if err != nil {
		t.Fatal(err)
	}
	asked := make(chan struct{})
	var once sync.Once
	c.Handle(stanza.KindIQ, xml.Name{Space: disco.NSInfo, Local: "query"}, func(iq *stanza.Element) {
		answer := info
		answer.Node = iq.Payload().Get("node")
		_ = c.Send(context.Background(), stanza.Result(iq, answer.Element()))
		once.Do(func() { close(asked) })
	})
	return caps.Caps{Hash: caps.SHA1, Node: CapsNode, Ver: ver}.Element(), asked
}
