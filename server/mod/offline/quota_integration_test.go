package offline_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

// errorsFrom reads stanzas until none arrives for a while and returns
// the error messages among them.
func errorsFrom(t *testing.T, c *client.Client, quiet time.Duration) []*stanza.Element {
	t.Helper()
	var out []*stanza.Element
	for {
		ctx, cancel := context.WithTimeout(context.Background(), quiet)
		st, err := c.Recv(ctx)
		cancel()
		if err != nil {
			return out
		}
		if stanza.KindOf(st) == stanza.KindMessage && st.Type() == stanza.TypeError {
			out = append(out, st)
		}
	}
}

// TestIntegrationOfflineBytesQuota fills alice's offline store to its size
// quota: the message that does not fit is bounced to its sender with
// <service-unavailable/> (RFC 6121 §8.5.2.2.1), not dropped, and the
// stored ones are delivered at login.
func TestIntegrationOfflineBytesQuota(t *testing.T) {
	s := xmpptest.NewServer(t, func(c *config.Config) {
		c.Quotas.OfflineBytes = 2048
	})
	alice := s.AddUser(t, "alice", "pw")
	s.AddUser(t, "bob", "pw")
	b := s.Client(t, "bob", "pw", "b")
	xmpptest.Send(t, b, presence(""))
	body := strings.Repeat("x", 600) // about 800 bytes stored with the delay stamp
	for _, n := range []string{"1", "2", "3"} {
		xmpptest.Send(t, b, stanza.NewMessage(stanza.TypeChat, alice.String(), n+body))
	}
	bounces := errorsFrom(t, b, 500*time.Millisecond)
	if len(bounces) != 1 {
		t.Fatalf("sender got %d bounces, want 1", len(bounces))
	}
	if e := stanza.ParseError(bounces[0]); e == nil || e.Condition != stanza.ServiceUnavailable {
		t.Fatalf("bounce = %s, want <service-unavailable/>", bounces[0])
	}
	if got := bounces[0].ChildText("", "body"); !strings.HasPrefix(got, "3") {
		t.Fatalf("bounced message %.10q…, want the third", got)
	}
	a := s.Client(t, "alice", "pw", "a")
	xmpptest.Send(t, a, presence(""))
	got := messages(t, a, time.Second)
	if len(got) != 2 || !strings.HasPrefix(got[0].ChildText("", "body"), "1") || !strings.HasPrefix(got[1].ChildText("", "body"), "2") {
		t.Fatalf("alice got %d offline messages, want the first two", len(got))
	}
}

// TestIntegrationOfflineDisabled: limits.offline_messages 0 turns offline
// storage off, as documented: a message to an offline account bounces
// and nothing waits for its next login.
func TestIntegrationOfflineDisabled(t *testing.T) {
	s := xmpptest.NewServer(t, func(c *config.Config) {
		c.Limits.OfflineMessages = 0
	})
	alice := s.AddUser(t, "alice", "pw")
	s.AddUser(t, "bob", "pw")
	b := s.Client(t, "bob", "pw", "b")
	xmpptest.Send(t, b, presence(""))
	xmpptest.Send(t, b, stanza.NewMessage(stanza.TypeChat, alice.String(), "hello"))
	bounces := errorsFrom(t, b, 500*time.Millisecond)
	if len(bounces) != 1 {
		t.Fatalf("sender got %d bounces, want 1", len(bounces))
	}
	if e := stanza.ParseError(bounces[0]); e == nil || e.Condition != stanza.ServiceUnavailable {
		t.Fatalf("bounce = %s, want <service-unavailable/>", bounces[0])
	}
	a := s.Client(t, "alice", "pw", "a")
	xmpptest.Send(t, a, presence(""))
	if got := messages(t, a, 500*time.Millisecond); len(got) != 0 {
		t.Fatalf("alice got %d messages with offline storage off", len(got))
	}
}
