package offline_test

import (
	"context"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/mod/offline"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

const wait = 5 * time.Second

func presence(prio string) *stanza.Element {
	p := stanza.New(stanza.NSClient, "presence")
	if prio != "" {
		p.Append(stanza.New(stanza.NSClient, "priority").AppendText(prio))
	}
	return p
}

// messages reads incoming messages until none arrives for a while.
func messages(t *testing.T, c *client.Client, quiet time.Duration) []*stanza.Element {
	t.Helper()
	var out []*stanza.Element
	for {
		ctx, cancel := context.WithTimeout(context.Background(), quiet)
		st, err := c.Recv(ctx)
		cancel()
		if err != nil {
			return out
		}
		if stanza.KindOf(st) == stanza.KindMessage { // also checks the jabber:client namespace
			out = append(out, st)
		}
	}
}

func TestIntegrationOfflineMessages(t *testing.T) {
	s := newServer(t)
	alice := s.AddUser(t, "alice", "pw")
	s.AddUser(t, "bob", "pw")
	b := s.Client(t, "bob", "pw", "b")
	xmpptest.Send(t, b, presence(""))
	for _, m := range []struct{ typ, body string }{
		{stanza.TypeChat, "first"},
		{stanza.TypeHeadline, "news"},
		{stanza.TypeNormal, "second"},
		{stanza.TypeChat, "third"},
	} {
		xmpptest.Send(t, b, stanza.NewMessage(m.typ, alice.String(), m.body))
	}

	// A negative-priority resource gets no bare-JID message, and does
	// not flush the store.
	neg := s.Client(t, "alice", "pw", "negative")
	xmpptest.Send(t, neg, presence("-1"))
	xmpptest.Send(t, b, stanza.NewMessage(stanza.TypeChat, alice.String(), "fourth"))
	if got := messages(t, neg, 500*time.Millisecond); len(got) != 0 {
		t.Fatalf("negative-priority resource got %d messages", len(got))
	}

	a := s.Client(t, "alice", "pw", "a")
	xmpptest.Send(t, a, presence(""))
	got := messages(t, a, time.Second)
	want := []string{"first", "second", "third", "fourth"}
	if len(got) != len(want) {
		t.Fatalf("got %d offline messages, want %d (no headline)", len(got), len(want))
	}
	for i, m := range got {
		if body := m.ChildText("", "body"); body != want[i] {
			t.Errorf("message %d = %q, want %q", i, body, want[i])
		}
		d := m.Child(offline.NSDelay, "delay")
		if d == nil || d.Get("from") != s.Domain() || d.Get("stamp") == "" {
			t.Errorf("message %d without a delay: %s", i, m)
		}
	}
	if m := messages(t, b, 300*time.Millisecond); len(m) != 0 {
		t.Errorf("sender got %v", m)
	}

	// Delivered messages are gone: another login gets nothing.
	a2 := s.Client(t, "alice", "pw", "a2")
	xmpptest.Send(t, a2, presence(""))
	if got := messages(t, a2, 500*time.Millisecond); len(got) != 0 {
		t.Errorf("messages delivered twice: %d", len(got))
	}
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
