package cluster_test

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/xml"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/parley-xmpp/parley/server/cluster"
	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
	"github.com/parley-xmpp/parley/xmpptest"
)

const (
	compDomain = "gw.localhost"
	compSecret = "s3cret-component"
)

// withComponent configures the component compDomain and a component
// listener on every node.
func withComponent(c *config.Config) {
	c.Components = []config.Component{{Domain: compDomain, Secret: compSecret}}
	c.Listeners = append(c.Listeners, config.Listener{Type: config.ListenerComponent, Address: "127.0.0.1:0"})
	c.Limits.ComponentGrace = 0 // bounce at once while it is away
}

// extComponent is an external component (XEP-0114) written by hand.
type extComponent struct {
	t    *testing.T
	conn net.Conn
	dec  *stream.Decoder
}

// attachComponent connects compDomain to the component listener at addr
// and completes its handshake.
func attachComponent(t *testing.T, addr string) *extComponent {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	c.Write([]byte("<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='" + compDomain + "'>"))
	p := &extComponent{t: t, conn: c, dec: stream.NewDecoder(c, stream.Limits{})}
	h, err := p.dec.ReadHeader()
	if err != nil {
		t.Fatalf("component stream header: %v", err)
	}
	sum := sha1.Sum([]byte(h.ID + compSecret))
	c.Write([]byte("<handshake>" + hex.EncodeToString(sum[:]) + "</handshake>"))
	if el := p.next(); el.Name.Local != "handshake" {
		t.Fatalf("handshake: %s", el)
	}
	return p
}

func (p *extComponent) next() *stanza.Element {
	p.t.Helper()
	el, err := p.dec.Next()
	if err != nil {
		p.t.Fatalf("component read: %v", err)
	}
	return el
}

// A component connected to node1 serves a user of node2, both ways, with
// messages and IQs; once it disconnects, node2 bounces what is sent to
// it.
func TestComponentAcrossNodes(t *testing.T) {
	cl := newCluster(t, 2, withComponent)
	n1, n2 := cl.nodes[0], cl.nodes[1]
	n2.AddUser(t, "bob", "pw")
	bob := n2.Client(t, "bob", "pw", "phone")
	gw := attachComponent(t, n1.App.Addrs(config.ListenerComponent)[0].String())
	xmpptest.Eventually(t, "node2 routes the component to node1", func() bool {
		return n2.App.Cluster().ComponentNode(compDomain) == "node1"
	})
	if got := n1.App.Cluster().ComponentNode(compDomain); got != "" {
		t.Errorf("node1 routes its own component to %q", got)
	}
	// An entry deleted while the component is connected (by a node that
	// took node1 for dead) is written again.
	nc, err := nats.Connect(cl.url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	comps, err := js.KeyValue(context.Background(), cl.name+"_components")
	if err != nil {
		t.Fatal(err)
	}
	if err := comps.Delete(context.Background(), cluster.CompKey(compDomain)); err != nil {
		t.Fatal(err)
	}
	xmpptest.Eventually(t, "the component's entry written again", func() bool {
		e, err := comps.Get(context.Background(), cluster.CompKey(compDomain))
		return err == nil && e.Operation() == jetstream.KeyValuePut
	})
	xmpptest.Eventually(t, "node2 routes the component to node1 again", func() bool {
		return n2.App.Cluster().ComponentNode(compDomain) == "node1"
	})

	// A message from bob, on node2, reaches the component on node1, and
	// its answer reaches bob.
	bot := "bot@" + compDomain
	xmpptest.Send(t, bob, stanza.NewMessage(stanza.TypeChat, bot, "hi bot"))
	got := gw.next()
	if got.Name.Local != "message" || got.Get("from") != bob.JID().String() || got.ChildText("", "body") != "hi bot" {
		t.Fatalf("the component got %s", got)
	}
	gw.conn.Write([]byte("<message from='" + bot + "' to='" + bob.JID().String() + "' type='chat'><body>hi bob</body></message>"))
	if m := xmpptest.NextMessage(t, bob); m.Get("from") != bot || m.ChildText(stanza.NSClient, "body") != "hi bob" {
		t.Fatalf("bob got %s", m)
	}

	// An IQ from bob to the component, answered.
	type answer struct {
		res *stanza.Element
		err error
	}
	done := make(chan answer, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		res, err := bob.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", compDomain, stanza.New("urn:xmpp:time", "time")))
		done <- answer{res, err}
	}()
	iq := gw.next()
	if iq.Name.Local != "iq" || iq.Get("from") != bob.JID().String() || iq.Get("type") != stanza.TypeGet {
		t.Fatalf("the component got %s", iq)
	}
	gw.conn.Write([]byte("<iq type='result' id='" + iq.ID() + "' from='" + compDomain + "' to='" + bob.JID().String() + "'><time xmlns='urn:xmpp:time'><utc>2026-01-01T00:00:00Z</utc></time></iq>"))
	if a := <-done; a.err != nil || a.res.Type() != stanza.TypeResult || a.res.Child("urn:xmpp:time", "time") == nil {
		t.Fatalf("bob's IQ to the component: %v, %v", a.res, a.err)
	}

	// An IQ from the component to bob, answered by bob's client.
	bob.Handle(stanza.KindIQ, xml.Name{Space: "urn:xmpp:ping", Local: "ping"}, func(iq *stanza.Element) {
		bob.Send(context.Background(), stanza.Result(iq, nil))
	})
	gw.conn.Write([]byte("<iq type='get' id='c1' from='" + compDomain + "' to='" + bob.JID().String() + "'><ping xmlns='urn:xmpp:ping'/></iq>"))
	if res := gw.next(); res.Name.Local != "iq" || res.ID() != "c1" || res.Type() != stanza.TypeResult || res.Get("from") != bob.JID().String() {
		t.Fatalf("the component got %s", res)
	}

	// The component leaves: its entry goes, and node2 bounces.
	gw.conn.Write([]byte("</stream:stream>"))
	gw.conn.Close()
	xmpptest.Eventually(t, "node2 forgets the component", func() bool {
		return n2.App.Cluster().ComponentNode(compDomain) == ""
	})
	xmpptest.Send(t, bob, stanza.NewMessage(stanza.TypeChat, bot, "anyone?"))
	if m := xmpptest.NextMessage(t, bob); m.Type() != stanza.TypeError || m.Get("from") != bot {
		t.Fatalf("bob got %s, want an error from %s", m, bot)
	}
}
