package last_test

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/mod/last"
	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

func condition(err error) stanza.Condition {
	var se *stanza.Error
	if errors.As(err, &se) {
		return se.Condition
	}
	return ""
}

func TestLastActivityIntegration(t *testing.T) {
	s := xmpptest.NewServer(t)
	alice := s.AddUser(t, "alice", "pw")
	bob := s.AddUser(t, "bob", "pw")
	erin := s.AddUser(t, "erin", "pw")
	s.AddUser(t, "carol", "pw")
	ca := s.Client(t, "alice", "pw", "desk")
	cb := s.Client(t, "bob", "pw", "desk")
	cc := s.Client(t, "carol", "pw", "desk")
	ctx := xmpptest.Context(t, 30*time.Second)
	for _, owner := range []jid.JID{alice, erin} {
		if _, err := s.App.Stores().Roster.PutRosterItem(ctx, owner, storage.RosterItem{Contact: bob, Subscription: storage.SubBoth}); err != nil {
			t.Fatal(err)
		}
	}
	query := func(c *client.Client, to string) (seconds int, status string, err error) {
		t.Helper()
		res, err := c.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", to, stanza.New(last.NS, "query")))
		if err != nil {
			return 0, "", err
		}
		q := res.Child(last.NS, "query")
		if q == nil {
			t.Fatalf("no query in %s", res)
		}
		n, err := strconv.Atoi(q.Get("seconds"))
		if err != nil || n < 0 {
			t.Fatalf("seconds %q: %v", q.Get("seconds"), err)
		}
		return n, q.Text(), nil
	}

	// §5: the server reports its uptime, without text.
	if n, text, err := query(ca, s.Domain()); err != nil || text != "" || n > 60 {
		t.Errorf("uptime = %d %q %v", n, text, err)
	}
	// §3: online accounts answer 0 to themselves and to subscribers.
	for _, c := range []*client.Client{ca, cb} {
		if n, _, err := query(c, alice.String()); err != nil || n != 0 {
			t.Errorf("%s asking online alice: %d, %v", c.JID(), n, err)
		}
	}
	if _, _, err := query(cc, alice.String()); condition(err) != stanza.Forbidden {
		t.Errorf("unsubscribed: err = %v, want forbidden", err)
	}
	// §4: an unauthorised query to a full JID never reaches the client;
	// an authorised one does (this client does not answer it).
	if _, _, err := query(cc, ca.JID().String()); condition(err) != stanza.Forbidden {
		t.Errorf("unsubscribed to full JID: err = %v, want forbidden", err)
	}
	if _, _, err := query(cb, ca.JID().String()); condition(err) != stanza.ServiceUnavailable {
		t.Errorf("subscribed to full JID: err = %v, want the client's service-unavailable", err)
	}
	if _, _, err := query(cb, erin.String()); condition(err) != stanza.ItemNotFound {
		t.Errorf("never seen: err = %v, want item-not-found", err)
	}

	// Logging out with a status records it.
	bye := stanza.New(stanza.NSClient, "presence", "type", stanza.TypeUnavailable).
		Append(stanza.New(stanza.NSClient, "status").AppendText("Heading Home"))
	if err := ca.Send(ctx, bye); err != nil {
		t.Fatal(err)
	}
	ca.Close()
	xmpptest.Eventually(t, "alice's logout status is recorded", func() bool {
		n, status, err := query(cb, alice.String())
		if err == nil && status == "Heading Home" {
			if n > 5 {
				t.Errorf("seconds since logout = %d", n)
			}
			return true
		}
		return false
	})
}
