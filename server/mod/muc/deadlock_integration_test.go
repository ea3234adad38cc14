package muc_test

import (
	"context"
	"encoding/xml"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/xmpp/caps"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/disco"
	"github.com/parley-xmpp/parley/xmpp/form"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/muc"
	xpubsub "github.com/parley-xmpp/parley/xmpp/pubsub"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

// capsSeq makes every capable client's caps unique, so that the server
// always queries it.
var capsSeq atomic.Uint64

// capable is a client that advertises XEP-0115 caps with +notify for
// nodes and answers the server's disco#info query for them.
type capable struct {
	*client.Client
	c *stanza.Element // the <c/> it puts in every presence
}

// capableClient logs in a client whose caps show interest in nodes, sends
// initial presence with them and waits until the server has resolved them.
func capableClient(t testing.TB, s *xmpptest.Server, user, res string, nodes ...string) *capable {
	t.Helper()
	c := s.Client(t, user, "pw", res)
	info := disco.Info{
		Identities: []disco.Identity{{Category: "client", Type: "pc", Name: "caps " + user + "/" + res + " " + strconv.FormatUint(capsSeq.Add(1), 10)}},
		Features:   []string{disco.NSInfo, muc.NS},
	}
	for _, n := range nodes {
		info.Features = append(info.Features, n, n+xpubsub.NotifySuffix)
	}
	ver, err := caps.Ver(info, caps.SHA1)
	if err != nil {
		t.Fatal(err)
	}
	answered := make(chan struct{})
	var once sync.Once
	c.Handle(stanza.KindIQ, xml.Name{Space: disco.NSInfo, Local: "query"}, func(iq *stanza.Element) {
		answer := info
		answer.Node = iq.Payload().Get("node")
		_ = c.Send(context.Background(), stanza.Result(iq, answer.Element()))
		once.Do(func() { close(answered) })
	})
	cEl := caps.Caps{Hash: caps.SHA1, Node: "https://parley.test/muc", Ver: ver}.Element()
	if err := c.Send(xmpptest.Context(t, wait), stanza.New(stanza.NSClient, "presence").Append(cEl)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-answered:
	case <-time.After(wait):
		t.Fatalf("%s/%s: the server never asked for the features behind its caps", user, res)
	}
	// Round trips after the answer: the server has recorded the
	// interests before the test goes on.
	for range 2 {
		if _, err := c.SendIQ(xmpptest.Context(t, wait), stanza.NewIQ(stanza.TypeGet, "", s.Domain(), stanza.New(disco.NSInfo, "query"))); err != nil {
			t.Fatal(err)
		}
	}
	return &capable{Client: c, c: cEl}
}

// joinPresence is a join as Gajim sends it: the MUC payload and the
// client's caps.
func (c *capable) joinPresence(occ jid.JID) *stanza.Element {
	return muc.Join(occ, "", &muc.History{MaxStanzas: 0, MaxChars: -1, Seconds: -1}).Append(c.c)
}

// publishOpen publishes an item to a PEP node of c's account, open to
// anyone (what clients do for avatars and nicknames).
func publishOpen(t testing.TB, c *client.Client, node string) {
	t.Helper()
	f := form.New(form.TypeSubmit, xpubsub.NSPublishOptions)
	f.Add(form.Field{Var: "pubsub#access_model", Values: []string{"open"}})
	pub := xpubsub.Publish(node, xpubsub.Item{ID: "current", Payload: stanza.New(node, "data").AppendText("hello")}, nil)
	pub.Append(stanza.New(xpubsub.NS, "publish-options").Append(f.Element()))
	res, err := c.SendIQ(xmpptest.Context(t, wait), stanza.NewIQ(stanza.TypeSet, "", "", pub))
	if err != nil || res.Type() != stanza.TypeResult {
		t.Fatalf("%s: publishing to %s: %v %v", c.JID(), node, res, err)
	}
}

// The room deadlock of issue 9: a client whose caps ask for +notify of a
// PEP node it owns joins a room (a nick conflict first, as Gajim met it,
// then another nick). The room's self-presence carries those caps back to
// the account; PEP must not take the occupant JID for a contact and send
// it the node's last item, which re-entered the room while the room's lock
// was held. The client must get its own presence, and the room must go on
// answering everyone.
func TestJoinWithOwnPEPInterestDoesNotDeadlock(t *testing.T) {
	s := xmpptest.NewServer(t)
	s.AddUser(t, "alice", "pw")
	s.AddUser(t, "bob", "pw")
	const node = "urn:example:mood"
	alice := capableClient(t, s, "alice", "gajim", node)
	publishOpen(t, alice.Client, node)
	// alice's own resource gets its last item on publication; drain it.
	xmpptest.Expect(t, alice.Client, "own notification", func(st *stanza.Element) bool {
		ev, err := xpubsub.ParseEvent(st)
		return err == nil && ev.Node == node
	})
	bob := s.Client(t, "bob", "pw", "phone")
	joinSubject(t, s, bob, "den", "bob")
	if res := configure(t, s, bob, "den", nil); res.Type() != stanza.TypeResult {
		t.Fatalf("configuring den: %s", res)
	}

	// The nick is taken: <conflict/>.
	taken := jid.MustParse(roomJID(s, "den", "bob"))
	xmpptest.Send(t, alice.Client, alice.joinPresence(taken))
	st := xmpptest.Expect(t, alice.Client, "conflict", presenceFrom(taken.String(), stanza.TypeError))
	if errCond(st) != stanza.Conflict {
		t.Fatalf("join with a taken nick: %s", st)
	}
	// The retry with another nick gets the self-presence.
	occ := jid.MustParse(roomJID(s, "den", "alice"))
	xmpptest.Send(t, alice.Client, alice.joinPresence(occ))
	self := xmpptest.Expect(t, alice.Client, "self-presence", func(st *stanza.Element) bool {
		return stanza.KindOf(st) == stanza.KindPresence && st.From() == occ.String() && hasCodes(st, muc.StatusSelf)
	})
	if self.Type() != "" {
		t.Fatalf("self-presence = %s", self)
	}
	xmpptest.Expect(t, alice.Client, "subject", isSubject)

	// The room still answers both occupants.
	mustIQ(t, bob, stanza.TypeGet, roomJID(s, "den", ""), stanza.New(disco.NSInfo, "query"))
	mustIQ(t, alice.Client, stanza.TypeGet, roomJID(s, "den", ""), stanza.New(disco.NSInfo, "query"))
	xmpptest.Send(t, bob, groupchat(roomJID(s, "den", ""), "still here?"))
	for _, c := range []*client.Client{alice.Client, bob} {
		xmpptest.Expect(t, c, "the groupchat message", func(st *stanza.Element) bool {
			return st.From() == roomJID(s, "den", "bob") && st.ChildText(stanza.NSClient, "body") == "still here?"
		})
	}
	// No PEP notification went to the occupant JID: the room would have
	// relayed it to alice as a private message from herself.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	for {
		st, err := alice.Recv(ctx)
		if err != nil {
			break
		}
		// Her account's own notifications (from her bare JID, to her own
		// resource) may come again, as her presence's caps reach PEP; a
		// relayed one comes from the room.
		if _, err := xpubsub.ParseEvent(st); err != nil {
			continue
		}
		if from, err := jid.Parse(st.From()); err != nil || from.Bare().Equal(jid.MustParse(roomJID(s, "den", ""))) {
			t.Fatalf("a PEP notification reached alice through the room: %s", st)
		}
	}
}
