package client_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

// bodies reads messages from c until none arrives for quiet.
func bodies(c *client.Client, quiet time.Duration) []string {
	var out []string
	for {
		ctx, cancel := context.WithTimeout(context.Background(), quiet)
		el, err := c.Recv(ctx)
		cancel()
		if err != nil {
			return out
		}
		if stanza.KindOf(el) == stanza.KindMessage {
			out = append(out, el.ChildText(stanza.NSClient, "body"))
		}
	}
}

// With StreamManagement the client enables SM, and after its connection
// is lost Resume continues the session: every message arrives exactly
// once, across the old and the new stream. Over TCP, XMPP over WebSocket
// (a dropped socket) and BOSH (a session whose requests stop).
func TestClientStreamManagementResume(t *testing.T) {
	s := xmpptest.NewServer(t, func(c *config.Config) {
		c.Listeners = append(c.Listeners, config.Listener{Type: config.ListenerHTTP, Address: "127.0.0.1:0"})
		c.Limits.BOSHInactivity = time.Second
	})
	s.AddUser(t, "alice", "pw")
	s.AddUser(t, "bob", "pw")
	web := s.App.Addrs(config.ListenerHTTP)[0].String()
	for _, tc := range []struct {
		name string
		set  func(*client.Config)
	}{
		{"tcp", func(*client.Config) {}},
		{"websocket", func(c *client.Config) { c.WebSocket = "ws://" + web + "/xmpp-websocket" }},
		{"bosh", func(c *client.Config) { c.BOSH, c.BOSHWait = "http://"+web+"/http-bind", time.Second }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := s.ClientConfig(t, "alice", "pw", "phone-"+tc.name)
			tc.set(&cfg)
			testResume(t, s, cfg)
		})
	}
}

// testResume logs in with cfg, drops the connection and resumes.
func testResume(t *testing.T, s *xmpptest.Server, cfg client.Config) {
	cfg.StreamManagement = true
	alice := s.Dial(t, cfg)
	on, id := alice.StreamManagement()
	if !on || id == "" {
		t.Fatalf("stream management not enabled with resumption: %v %q", on, id)
	}
	bob := s.Client(t, "bob", "pw", "desk-"+cfg.JID.Resource()+cfg.Resource)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := alice.Send(ctx, stanza.New(stanza.NSClient, "presence")); err != nil {
		t.Fatal(err)
	}
	var want []string
	send := func(n int) {
		for range n {
			b := fmt.Sprintf("m%d", len(want))
			want = append(want, b)
			if err := bob.Send(ctx, stanza.NewMessage(stanza.TypeChat, alice.JID().String(), b)); err != nil {
				t.Fatal(err)
			}
		}
	}
	send(7) // more than the ack interval: acks flow both ways
	got := bodies(alice, 300*time.Millisecond)
	alice.Abort()
	send(4)
	// Wait for the server to notice and keep the session detached.
	for deadline := time.Now().Add(5 * time.Second); ; {
		if ss := s.App.Router().Sessions().Get(alice.JID()); ss != nil && ss.Detached() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the session was not detached")
		}
		time.Sleep(10 * time.Millisecond)
	}
	alice2, err := alice.Resume(ctx)
	if err != nil {
		t.Fatalf("Resume: %v", err)
	}
	t.Cleanup(func() { alice2.Close() })
	got = append(got, bodies(alice, 50*time.Millisecond)...)
	got = append(got, bodies(alice2, 300*time.Millisecond)...)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("received %v, want each of %v exactly once", got, want)
	}
	// The resumed session works both ways.
	if _, err := alice2.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", s.Domain(), stanza.New("urn:xmpp:ping", "ping"))); err != nil {
		t.Fatal(err)
	}
	if err := alice2.RequestAck(ctx); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); alice2.Unacked() != 0; {
		if time.Now().After(deadline) {
			t.Fatalf("%d stanzas never acknowledged", alice2.Unacked())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
