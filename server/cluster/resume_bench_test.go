package cluster_test

import (
	"context"
	"testing"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// BenchmarkResumableDelivery measures messages between two clients with
// stream management on two nodes, with resumption across nodes off
// ("off": cluster.resume false), on without the journal ("no-journal":
// a checkpoint before each ack, the sessions' states in the resume
// bucket) and on with it ("journal": also every message appended to
// JetStream, confirmed by the recipient's node before the sender's ack).
// Compare the three in one run: the ratios are the cost of resumption
// across nodes; absolute figures depend on the machine.
func BenchmarkResumableDelivery(b *testing.B) {
	for _, v := range []struct {
		name            string
		resume, journal bool
	}{{"off", false, false}, {"no-journal", true, false}, {"journal", true, true}} {
		cl := newCluster(b, 2, func(c *config.Config) {
			c.Limits.Rate = config.Rate{}
			c.Modules.Disabled = append(c.Modules.Disabled, "mam")
			c.Cluster.Resume, c.Cluster.Journal = v.resume, v.journal
		})
		n1, n2 := cl.nodes[0], cl.nodes[1]
		n1.AddUser(b, "alice", "pw")
		n1.AddUser(b, "bob", "pw")
		acfg := n1.ClientConfig(b, "alice", "pw", "home")
		acfg.StreamManagement = true
		alice := n1.Dial(b, acfg)
		bcfg := n2.ClientConfig(b, "bob", "pw", "there")
		bcfg.StreamManagement = true
		bob := n2.Dial(b, bcfg)
		cl.visible(b, bob.JID(), false)
		b.Run(v.name, func(b *testing.B) {
			benchMessages(b, alice, stanza.TypeChat, bob.JID().String(), bob.Recv, anyMessage)
		})
		alice.Close()
		bob.Close()
		for _, n := range cl.nodes {
			n.App.Stop(context.Background())
		}
	}
}
