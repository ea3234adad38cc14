package ping_test

import (
	"errors"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/mod/ping"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

func TestPingIntegration(t *testing.T) {
	s := xmpptest.NewServer(t)
	alice := s.AddUser(t, "alice", "pw")
	bob := s.AddUser(t, "bob", "pw")
	c := s.Client(t, "alice", "pw", "desk")
	ctx := xmpptest.Context(t, 10*time.Second)

	for _, to := range []string{s.Domain(), alice.String(), "", bob.String()} {
		res, err := c.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", to, stanza.New(ping.NS, "ping")))
		if err != nil {
			t.Fatalf("ping to %q: %v", to, err)
		}
		if res.Type() != stanza.TypeResult || res.FirstElement() != nil {
			t.Errorf("ping to %q: got %s, want an empty result", to, res)
		}
	}

	// A ping set is not part of the protocol; nor is an unknown account.
	for _, iq := range []*stanza.Element{
		stanza.NewIQ(stanza.TypeSet, "", s.Domain(), stanza.New(ping.NS, "ping")),
		stanza.NewIQ(stanza.TypeGet, "", "nobody@"+s.Domain(), stanza.New(ping.NS, "ping")),
	} {
		_, err := c.SendIQ(ctx, iq)
		var se *stanza.Error
		if !errors.As(err, &se) || se.Condition != stanza.ServiceUnavailable {
			t.Errorf("%s: err = %v, want service-unavailable", iq, err)
		}
	}
}
