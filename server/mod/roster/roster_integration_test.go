package roster_test

import (
	"context"
	"encoding/xml"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/client"
	xroster "github.com/parley-xmpp/parley/xmpp/roster"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

const wait = 5 * time.Second

func pres(typ, to string) *stanza.Element {
	p := stanza.New(stanza.NSClient, "presence")
	p.Set("type", typ)
	p.Set("to", to)
	return p
}

func isPres(typ, from string) func(*stanza.Element) bool {
	return func(st *stanza.Element) bool {
		return st.Name.Local == "presence" && st.Type() == typ && st.From() == from
	}
}

// pushes collects the roster pushes a client receives.
func pushes(c *client.Client) <-chan *xroster.Query {
	ch := make(chan *xroster.Query, 16)
	c.Handle(stanza.KindIQ, xml.Name{Space: xroster.NS, Local: "query"}, func(iq *stanza.Element) {
		if q, err := xroster.Decode(iq.Payload()); err == nil {
			ch <- q
		}
		_ = c.Send(context.Background(), stanza.Result(iq, nil))
	})
	return ch
}

func nextPush(t *testing.T, ch <-chan *xroster.Query) *xroster.Query {
	t.Helper()
	select {
	case q := <-ch:
		return q
	case <-time.After(wait):
		t.Fatal("no roster push")
		return nil
	}
}

func getRoster(t *testing.T, c *client.Client, q *xroster.Query) *stanza.Element {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	res, err := c.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", "", q.Element()))
	if err != nil {
		t.Fatalf("roster get: %v", err)
	}
	return res
}

func setRoster(c *client.Client, it xroster.Item) error {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	_, err := c.SendIQ(ctx, stanza.NewIQ(stanza.TypeSet, "", "", (&xroster.Query{Items: []xroster.Item{it}}).Element()))
	return err
}

// online logs in, fetches the roster and sends initial presence.
func online(t *testing.T, s *xmpptest.Server, user, res string) (*client.Client, <-chan *xroster.Query) {
	t.Helper()
	c := s.Client(t, user, "pw", res)
	ch := pushes(c)
	getRoster(t, c, &xroster.Query{})
	xmpptest.Send(t, c, pres("", ""))
	return c, ch
}

func TestIntegrationRosterPushesAndVersioning(t *testing.T) {
	s := newServer(t)
	s.AddUser(t, "alice", "pw")
	s.AddUser(t, "nurse", "pw")
	c1 := s.Client(t, "alice", "pw", "one")
	c2 := s.Client(t, "alice", "pw", "two")
	p1, p2 := pushes(c1), pushes(c2)
	getRoster(t, c1, &xroster.Query{})
	getRoster(t, c2, &xroster.Query{})

	nurse := s.JID(t, "nurse")
	if err := setRoster(c1, xroster.Item{JID: nurse, Name: "Nurse", Groups: []string{"Servants"}}); err != nil {
		t.Fatalf("roster set: %v", err)
	}
	a, b := nextPush(t, p1), nextPush(t, p2)
	if a.Items[0].JID != nurse || b.Items[0].Name != "Nurse" || a.Ver == "" || a.Ver != b.Ver {
		t.Fatalf("pushes %+v / %+v", a, b)
	}
	if res := getRoster(t, c2, &xroster.Query{Ver: a.Ver}); res.Payload() != nil {
		t.Errorf("get with the current ver returned %s, want an empty result", res)
	}
	res := getRoster(t, c2, &xroster.Query{HasVer: true})
	if q, err := xroster.Decode(res.Payload()); err != nil || len(q.Items) != 1 || q.Ver != a.Ver {
		t.Errorf("full roster = %s", res)
	}

	if err := setRoster(c2, xroster.Item{JID: nurse, Subscription: xroster.SubRemove}); err != nil {
		t.Fatalf("remove: %v", err)
	}
	a, b = nextPush(t, p1), nextPush(t, p2)
	if a.Items[0].Subscription != xroster.SubRemove || b.Items[0].Subscription != xroster.SubRemove {
		t.Errorf("remove pushes %+v / %+v", a, b)
	}
	err := setRoster(c1, xroster.Item{JID: nurse, Subscription: xroster.SubRemove})
	if se, ok := err.(*stanza.Error); !ok || se.Condition != stanza.ItemNotFound {
		t.Errorf("removing an absent item: %v", err)
	}
}

func TestIntegrationSubscriptionHandshake(t *testing.T) {
	s := newServer(t)
	alice, bob := s.AddUser(t, "alice", "pw"), s.AddUser(t, "bob", "pw")
	a, ap := online(t, s, "alice", "a")
	b, bp := online(t, s, "bob", "b")

	xmpptest.Send(t, a, pres(stanza.TypeSubscribe, bob.String()))
	if q := nextPush(t, ap); q.Items[0].Ask != xroster.AskSub {
		t.Errorf("alice's push after subscribe: %+v", q.Items[0])
	}
	xmpptest.Expect(t, b, "alice's request", isPres(stanza.TypeSubscribe, alice.String()))
	xmpptest.Send(t, b, pres(stanza.TypeSubscribed, alice.String()))
	xmpptest.Expect(t, a, "bob's approval", isPres(stanza.TypeSubscribed, bob.String()))
	xmpptest.Expect(t, a, "bob's presence", isPres("", b.JID().String()))

	xmpptest.Send(t, b, pres(stanza.TypeSubscribe, alice.String()))
	xmpptest.Expect(t, a, "bob's request", isPres(stanza.TypeSubscribe, bob.String()))
	xmpptest.Send(t, a, pres(stanza.TypeSubscribed, bob.String()))
	xmpptest.Expect(t, b, "alice's presence", isPres("", a.JID().String()))

	final := func(ch <-chan *xroster.Query) string {
		var last string
		for {
			select {
			case q := <-ch:
				last = q.Items[0].Subscription
			case <-time.After(500 * time.Millisecond):
				return last
			}
		}
	}
	if got := final(ap); got != xroster.SubBoth {
		t.Errorf("alice's last push: %q, want both", got)
	}
	if got := final(bp); got != xroster.SubBoth {
		t.Errorf("bob's last push: %q, want both", got)
	}
	// Probe on login: a new resource of alice sees bob.
	a2 := s.Client(t, "alice", "pw", "a2")
	xmpptest.Send(t, a2, pres("", ""))
	xmpptest.Expect(t, a2, "bob's presence from the probe", isPres("", b.JID().String()))
}

func TestIntegrationRequestWhileOffline(t *testing.T) {
	s := newServer(t)
	alice, _ := s.AddUser(t, "alice", "pw"), s.AddUser(t, "bob", "pw")
	a, _ := online(t, s, "alice", "a")
	xmpptest.Send(t, a, pres(stanza.TypeSubscribe, s.JID(t, "bob").String()))
	xmpptest.Sync(t, a) // the request is stored before bob logs in
	b, _ := online(t, s, "bob", "b")
	xmpptest.Expect(t, b, "the stored request", isPres(stanza.TypeSubscribe, alice.String()))
}

func TestIntegrationPreApproval(t *testing.T) {
	s := newServer(t)
	alice, bob := s.AddUser(t, "alice", "pw"), s.AddUser(t, "bob", "pw")
	b, bp := online(t, s, "bob", "b")
	if c := b.Features(); c == nil || c.Child(xroster.NSPreApproval, "sub") == nil || c.Child(xroster.NSVersioning, "ver") == nil {
		t.Errorf("stream features lack pre-approval or versioning: %v", c)
	}
	xmpptest.Send(t, b, pres(stanza.TypeSubscribed, alice.String()))
	if q := nextPush(t, bp); !q.Items[0].Approved {
		t.Fatalf("no approved push: %+v", q.Items[0])
	}
	a, _ := online(t, s, "alice", "a")
	xmpptest.Send(t, a, pres(stanza.TypeSubscribe, bob.String()))
	xmpptest.Expect(t, a, "the automatic approval", isPres(stanza.TypeSubscribed, bob.String()))
	xmpptest.Expect(t, a, "bob's presence", isPres("", b.JID().String()))
	if q := nextPush(t, bp); q.Items[0].Subscription != xroster.SubFrom {
		t.Errorf("bob's push: %+v", q.Items[0])
	}
}

func TestIntegrationDirectedPresenceAtLogout(t *testing.T) {
	s := newServer(t)
	s.AddUser(t, "alice", "pw")
	s.AddUser(t, "carol", "pw")
	c, _ := online(t, s, "carol", "c")
	a, _ := online(t, s, "alice", "a")
	xmpptest.Send(t, a, pres("", c.JID().String()))
	xmpptest.Expect(t, c, "directed presence", isPres("", a.JID().String()))
	a.Close()
	xmpptest.Expect(t, c, "unavailable at logout", isPres(stanza.TypeUnavailable, a.JID().String()))
}

// cutter is a TCP proxy whose connections can be cut, to end a session
// without a closing stream tag.
type cutter struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newCutter(t *testing.T, target string) *cutter {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &cutter{ln: ln}
	t.Cleanup(func() { ln.Close(); c.cut() })
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			c.mu.Lock()
			c.conns = append(c.conns, in, out)
			c.mu.Unlock()
			go func() { _, _ = io.Copy(out, in); out.Close() }()
			go func() { _, _ = io.Copy(in, out); in.Close() }()
		}
	}()
	return c
}

func (c *cutter) cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, conn := range c.conns {
		conn.Close()
	}
	c.conns = nil
}

func TestIntegrationAbruptDisconnect(t *testing.T) {
	s := newServer(t)
	alice, bob := s.AddUser(t, "alice", "pw"), s.AddUser(t, "bob", "pw")
	b, _ := online(t, s, "bob", "b")
	cu := newCutter(t, s.Addr())
	cfg := s.ClientConfig(t, "alice", "pw", "a")
	cfg.Address = cu.ln.Addr().String()
	a := s.Dial(t, cfg)
	pushes(a)
	getRoster(t, a, &xroster.Query{})
	xmpptest.Send(t, a, pres("", ""))
	// Mutual subscription.
	xmpptest.Send(t, a, pres(stanza.TypeSubscribe, bob.String()))
	xmpptest.Expect(t, b, "request", isPres(stanza.TypeSubscribe, alice.String()))
	xmpptest.Send(t, b, pres(stanza.TypeSubscribed, alice.String()))
	xmpptest.Send(t, b, pres(stanza.TypeSubscribe, alice.String()))
	xmpptest.Expect(t, a, "request", isPres(stanza.TypeSubscribe, bob.String()))
	xmpptest.Send(t, a, pres(stanza.TypeSubscribed, bob.String()))
	xmpptest.Expect(t, b, "alice's presence", isPres("", a.JID().String()))

	cu.cut()
	xmpptest.Expect(t, b, "unavailable after the connection broke", isPres(stanza.TypeUnavailable, a.JID().String()))
}

// newServer starts a test server with only its STARTTLS listener: these
// tests need no other, and fewer listeners mean fewer ports to contend for.
func newServer(t *testing.T) *xmpptest.Server {
	t.Helper()
	return xmpptest.NewServer(t, func(c *config.Config) {
		var keep []config.Listener
		for _, l := range c.Listeners {
			if l.Type == config.ListenerC2S {
				keep = append(keep, l)
			}
		}
		c.Listeners = keep
	})
}
