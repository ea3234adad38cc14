package mam_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

// BenchmarkArchiveDefaultRoster measures a chat message between two online
// users whose archives keep only messages with roster contacts (XEP-0441
// default "roster"): both archives ask the roster service whether the peer
// is a contact for every message.
func BenchmarkArchiveDefaultRoster(b *testing.B) {
	s := newServer(b, func(c *config.Config) { c.Modules.SetSection("mam", map[string]any{"default": "roster"}) })
	s.AddUser(b, "alice", "pw")
	s.AddUser(b, "bob", "pw")
	alice := s.Client(b, "alice", "pw", "a")
	bob := s.Client(b, "bob", "pw", "b")
	to := s.JID(b, "bob").String()
	ctx := xmpptest.Context(b, time.Minute)
	for _, c := range []*client.Client{alice, bob} {
		if err := c.Send(ctx, stanza.New(stanza.NSClient, "presence")); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := range b.N {
		m := stanza.NewMessage(stanza.TypeChat, to, strconv.Itoa(i))
		if err := alice.Send(ctx, m); err != nil {
			b.Fatal(err)
		}
		for {
			st, err := bob.Recv(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if st.Name.Local == "message" {
				break
			}
		}
	}
}
