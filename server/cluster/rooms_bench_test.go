package cluster_test

import (
	"testing"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/form"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/muc"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

// BenchmarkRoomMessage measures group chat messages through a room of a
// three-node cluster, from one occupant to another: the room and both
// occupants on one node ("local"), or the sender on node2, the reader
// on node3 and the room served by node1 ("spread": each message crosses
// NATS to the room, then from the room to each occupant's node). Compare
// the two in one run; absolute figures depend on the machine.
func BenchmarkRoomMessage(b *testing.B) {
	cl := newCluster(b, 3, func(c *config.Config) {
		c.Limits.Rate = config.Rate{}
		c.Modules.Disabled = append(c.Modules.Disabled, "mam")
	})
	n1, n2, n3 := cl.nodes[0], cl.nodes[1], cl.nodes[2]
	for _, u := range []string{"alice", "bob", "owner"} {
		n1.AddUser(b, u, "pw")
	}
	owner := n1.Client(b, "owner", "pw", "o")
	enter := func(c *client.Client, room, nick string) {
		occ := jid.MustParse(room + "@conference.localhost/" + nick)
		xmpptest.Send(b, c, muc.Join(occ, "", nil))
		xmpptest.Expect(b, c, "the subject of "+room, func(st *stanza.Element) bool {
			return st.Name.Local == "message" && st.Child(stanza.NSClient, "subject") != nil
		})
	}
	for _, room := range []string{"here", "spread"} {
		// Served by node1, where owner creates them (instant rooms).
		enter(owner, room, "owner")
		f := form.Form{Type: form.TypeSubmit}
		res, err := owner.SendIQ(xmpptest.Context(b, xmpptest.Wait), stanza.NewIQ(stanza.TypeSet, "", room+"@conference.localhost", stanza.New(muc.NSOwner, "query").Append(f.Element())))
		if err != nil || res.Type() != stanza.TypeResult {
			b.Fatalf("configuring %s: %v %v", room, res, err)
		}
	}
	for _, bc := range []struct {
		name         string
		sender, recv *client.Client
	}{
		{"local", n1.Client(b, "alice", "pw", "l"), n1.Client(b, "bob", "pw", "l")},
		{"spread", n2.Client(b, "alice", "pw", "s"), n3.Client(b, "bob", "pw", "s")},
	} {
		room := map[string]string{"local": "here", "spread": "spread"}[bc.name]
		enter(bc.sender, room, "alice-"+bc.name)
		enter(bc.recv, room, "bob-"+bc.name)
		b.Run(bc.name, func(b *testing.B) {
			benchMessages(b, bc.sender, stanza.TypeGroupchat, room+"@conference.localhost", bc.recv.Recv, func(st *stanza.Element) bool {
				return st.Name.Local == "message" && st.Type() == stanza.TypeGroupchat
			})
		})
	}
}
