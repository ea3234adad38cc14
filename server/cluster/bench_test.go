package cluster_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// BenchmarkDelivery measures messages from one client to another through
// a cluster of two nodes: both on one node ("local") or on the two
// ("cross-node", each message crossing NATS). Compare the two in one run:
// the ratio is the cost of a cross-node delivery; absolute figures
// depend on the machine.
func BenchmarkDelivery(b *testing.B) {
	// No rate limit on the sender, and no archive (a PostgreSQL commit
	// per message would be all the figure shows): the figure is routing's.
	cl := newCluster(b, 2, func(c *config.Config) {
		c.Limits.Rate = config.Rate{}
		c.Modules.Disabled = append(c.Modules.Disabled, "mam")
	})
	n1, n2 := cl.nodes[0], cl.nodes[1]
	n1.AddUser(b, "alice", "pw")
	n1.AddUser(b, "bob", "pw")
	alice := n1.Client(b, "alice", "pw", "home")
	local := n1.Client(b, "bob", "pw", "here")
	remote := n2.Client(b, "bob", "pw", "there")
	cl.visible(b, remote.JID(), false)
	cl.visible(b, local.JID(), false)
	for _, bc := range []struct {
		name string
		to   string
		recv func(context.Context) (*stanza.Element, error)
	}{
		{"local", local.JID().String(), local.Recv},
		{"cross-node", remote.JID().String(), remote.Recv},
	} {
		b.Run(bc.name, func(b *testing.B) {
			benchMessages(b, alice, stanza.TypeChat, bc.to, bc.recv, anyMessage)
		})
	}
}

// benchMessages sends b.N messages of type typ to to from sender, while
// receiving with recv until b.N stanzas that counts accepts arrived.
func benchMessages(b *testing.B, sender *client.Client, typ, to string, recv func(context.Context) (*stanza.Element, error), counts func(*stanza.Element) bool) {
	ctx := context.Background()
	msgs := make([]*stanza.Element, b.N)
	for i := range msgs {
		msgs[i] = stanza.NewMessage(typ, to, "message "+strconv.Itoa(i))
	}
	errs := make(chan error, 1)
	b.ResetTimer()
	go func() {
		for _, m := range msgs {
			if err := sender.Send(ctx, m); err != nil {
				errs <- err
				return
			}
		}
		errs <- nil
	}()
	for got := 0; got < b.N; {
		st, err := recv(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if counts(st) {
			got++
		}
	}
	b.StopTimer()
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
}

// anyMessage accepts any message stanza.
func anyMessage(st *stanza.Element) bool { return st.Name.Local == "message" }
