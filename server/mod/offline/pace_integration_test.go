package offline_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

// TestIntegrationOfflineLargerThanSessionBudget: what a stranger stored
// for an account may be far more than a session may hold at once (the
// offline quota is larger than the session's byte budget). The stored
// messages still all reach a client that reads, and the session is not
// closed as a slow consumer at each login, which would lock the user out
// (its messages going back to storage, for the next login to fail the
// same way).
func TestIntegrationOfflineLargerThanSessionBudget(t *testing.T) {
	const (
		budget  = 64 << 10
		payload = 12 << 10
		count   = 80 // about 1 MB: four times the budget and more
	)
	for _, sm := range []bool{false, true} {
		t.Run(fmt.Sprintf("stream management %v", sm), func(t *testing.T) {
			s := xmpptest.NewServer(t, func(c *config.Config) {
				c.Limits.MaxStanzaBytes = 32 << 10
				c.Limits.PreauthStanzaBytes = 8 << 10
				c.Limits.OutboundQueueBytes = budget
				c.Limits.OfflineMessages = 10000
				c.Limits.Rate = config.Rate{} // the stranger sends at once
			})
			alice := s.AddUser(t, "alice", "pw")
			s.AddUser(t, "mallory", "pw")
			m := s.Client(t, "mallory", "pw", "m")
			filler := strings.Repeat("x", payload)
			for i := range count {
				xmpptest.Send(t, m, stanza.NewMessage(stanza.TypeNormal, alice.String(), fmt.Sprintf("%d %s", i, filler)))
			}
			// mallory's messages are all stored once a round trip to the
			// server has completed.
			ping(t, m, s.Domain())

			cfg := s.ClientConfig(t, "alice", "pw", "a")
			cfg.StreamManagement = sm
			a := s.Dial(t, cfg)
			xmpptest.Send(t, a, presence(""))
			got := messages(t, a, 2*time.Second)
			if len(got) != count {
				t.Fatalf("got %d of %d stored messages", len(got), count)
			}
			for i, el := range got {
				if !strings.HasPrefix(el.ChildText("", "body"), fmt.Sprintf("%d ", i)) {
					t.Fatalf("message %d out of order: %.20s", i, el.ChildText("", "body"))
				}
			}
			// Still logged in: the session answers.
			ping(t, a, s.Domain())
			// Nothing delivered twice.
			a2 := s.Client(t, "alice", "pw", "a2")
			xmpptest.Send(t, a2, presence(""))
			if again := messages(t, a2, 500*time.Millisecond); len(again) != 0 {
				t.Fatalf("%d messages delivered twice", len(again))
			}
		})
	}
}

// ping makes a round trip to the server (XEP-0199).
func ping(t *testing.T, c *client.Client, domain string) {
	t.Helper()
	iq := stanza.NewIQ(stanza.TypeGet, "", domain, stanza.New("urn:xmpp:ping", "ping"))
	if _, err := c.SendIQ(xmpptest.Context(t, wait), iq); err != nil {
		t.Fatalf("%s: ping: %v", c.JID(), err)
	}
}
