package roster_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/jid"
	xroster "github.com/parley-xmpp/parley/xmpp/roster"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

func quotaServer(t *testing.T) *xmpptest.Server {
	return xmpptest.NewServer(t, func(c *config.Config) {
		c.Quotas.RosterItems = 3
		c.Quotas.PendingSubscriptions = 2
	})
}

func condition(err error) stanza.Condition {
	var se *stanza.Error
	if errors.As(err, &se) {
		return se.Condition
	}
	return ""
}

// TestIntegrationRosterQuota fills a roster to roster_items: a roster set
// adding one more contact, and a subscription request that would add one,
// are refused with <policy-violation/>; changing an existing item is not.
func TestIntegrationRosterQuota(t *testing.T) {
	s := quotaServer(t)
	s.AddUser(t, "alice", "pw")
	a, _ := online(t, s, "alice", "a")
	for i := range 3 {
		if err := setRoster(a, xroster.Item{JID: jid.MustParse(fmt.Sprintf("c%d@example.net", i))}); err != nil {
			t.Fatalf("roster set %d: %v", i, err)
		}
	}
	err := setRoster(a, xroster.Item{JID: jid.MustParse("c3@example.net")})
	if condition(err) != stanza.PolicyViolation {
		t.Fatalf("fourth roster item: %v, want <policy-violation/>", err)
	}
	if err := setRoster(a, xroster.Item{JID: jid.MustParse("c1@example.net"), Name: "renamed"}); err != nil {
		t.Fatalf("changing an item of a full roster: %v", err)
	}
	xmpptest.Send(t, a, pres(stanza.TypeSubscribe, "c4@example.net"))
	e := xmpptest.Expect(t, a, "the refused subscription", isPres(stanza.TypeError, "c4@example.net"))
	if se := stanza.ParseError(e); se == nil || se.Condition != stanza.PolicyViolation {
		t.Fatalf("refused subscription = %s, want <policy-violation/>", e)
	}
	res := getRoster(t, a, &xroster.Query{})
	q, err := xroster.Decode(res.Child(xroster.NS, "query"))
	if err != nil || len(q.Items) != 3 {
		t.Fatalf("roster after refusals = %s (%v), want 3 items", res, err)
	}
}

// TestIntegrationPendingSubscriptionQuota: strangers' subscription
// requests to an account fill at most pending_subscriptions; the next is
// bounced to its sender with <resource-constraint/>, a repeated one is
// not, and the kept ones reach the account at login.
func TestIntegrationPendingSubscriptionQuota(t *testing.T) {
	s := quotaServer(t)
	eve := s.AddUser(t, "eve", "pw")
	senders := []string{"bob", "carol", "dave"}
	for _, u := range senders {
		s.AddUser(t, u, "pw")
	}
	for i, u := range senders {
		c, _ := online(t, s, u, "r")
		xmpptest.Send(t, c, pres(stanza.TypeSubscribe, eve.String()))
		if i < 2 {
			// A repeated request from someone already pending is kept.
			xmpptest.Send(t, c, pres(stanza.TypeSubscribe, eve.String()))
			noError(t, c)
			continue
		}
		e := xmpptest.Expect(t, c, "the bounced request", isPres(stanza.TypeError, eve.String()))
		if se := stanza.ParseError(e); se == nil || se.Condition != stanza.ResourceConstraint {
			t.Fatalf("request over the quota = %s, want <resource-constraint/>", e)
		}
	}
	ev, _ := online(t, s, "eve", "e")
	got := map[string]bool{}
	for range 2 {
		p := xmpptest.Expect(t, ev, "a stored request", func(st *stanza.Element) bool {
			return st.Name.Local == "presence" && st.Type() == stanza.TypeSubscribe
		})
		got[p.From()] = true
	}
	if !got[s.JID(t, "bob").String()] || !got[s.JID(t, "carol").String()] {
		t.Fatalf("eve got requests from %v, want bob and carol", got)
	}
}

// noError checks that no error presence reaches c for a while.
func noError(t *testing.T, c interface {
	Recv(context.Context) (*stanza.Element, error)
}) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	for {
		st, err := c.Recv(ctx)
		if err != nil {
			return
		}
		if st.Type() == stanza.TypeError {
			t.Fatalf("unexpected error: %s", st)
		}
	}
}
