package disco_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/mod/disco"
	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/caps"
	"github.com/parley-xmpp/parley/xmpp/client"
	xdisco "github.com/parley-xmpp/parley/xmpp/disco"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

func info(ctx context.Context, t *testing.T, c *client.Client, to, node string) (xdisco.Info, error) {
	t.Helper()
	res, err := c.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", to, xdisco.Info{Node: node}.Element()))
	if err != nil {
		return xdisco.Info{}, err
	}
	i, err := xdisco.ParseInfo(res.Child(xdisco.NSInfo, "query"))
	if err != nil {
		t.Fatalf("disco#info from %q: %v in %s", to, err, res)
	}
	return i, nil
}

func condition(err error) stanza.Condition {
	var se *stanza.Error
	if errors.As(err, &se) {
		return se.Condition
	}
	return ""
}

func hasIdentity(i xdisco.Info, category, typ string) bool {
	for _, id := range i.Identities {
		if id.Category == category && id.Type == typ {
			return true
		}
	}
	return false
}

func TestServerInfoAndCapsIntegration(t *testing.T) {
	s := xmpptest.NewServer(t)
	s.AddUser(t, "alice", "pw")
	c := s.Client(t, "alice", "pw", "desk")
	ctx := xmpptest.Context(t, 10*time.Second)

	got, err := info(ctx, t, c, s.Domain(), "")
	if err != nil {
		t.Fatal(err)
	}
	if !hasIdentity(got, "server", "im") {
		t.Errorf("identities %+v lack server/im", got.Identities)
	}
	for _, f := range []string{xdisco.NSInfo, xdisco.NSItems, caps.NS} {
		if !got.HasFeature(f) {
			t.Errorf("features %v lack %s", got.Features, f)
		}
	}
	if err := caps.Check(got); err != nil {
		t.Errorf("server disco#info ill-formed: %v", err)
	}

	// XEP-0115 §6.3: the stream feature matches the disco#info answer.
	el := c.Features().Child(caps.NS, "c")
	if el == nil {
		t.Fatalf("no caps stream feature in %s", c.Features())
	}
	cf, err := caps.Parse(el)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := caps.Ver(got, caps.SHA1)
	if cf.Hash != caps.SHA1 || cf.Node != disco.CapsNode || cf.Ver != want {
		t.Errorf("caps feature %+v, want ver %s", cf, want)
	}

	// The caps node is answerable and mirrored; other nodes are not.
	node := cf.Node + "#" + cf.Ver
	byNode, err := info(ctx, t, c, s.Domain(), node)
	if err != nil {
		t.Fatalf("disco#info on caps node: %v", err)
	}
	if byNode.Node != node || len(byNode.Features) != len(got.Features) {
		t.Errorf("caps node answer %+v", byNode)
	}
	if _, err := info(ctx, t, c, s.Domain(), "nope"); condition(err) != stanza.ItemNotFound {
		t.Errorf("unknown node: err = %v, want item-not-found", err)
	}

	res, err := c.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", s.Domain(), xdisco.Items{}.Element()))
	if err != nil {
		t.Fatalf("disco#items: %v", err)
	}
	items, err := xdisco.ParseItems(res.Child(xdisco.NSItems, "query"))
	// The items are the service domains modules serve (pubsub.<domain>).
	services := s.App.Router().Services()
	if err != nil || len(items.Items) != len(services) {
		t.Fatalf("disco#items = %+v, %v; want %v", items, err, services)
	}
	for i, it := range items.Items {
		if it.JID.String() != services[i] || it.Node != "" {
			t.Errorf("disco#items[%d] = %+v, want %s", i, it, services[i])
		}
	}
}

func TestAccountInfoIntegration(t *testing.T) {
	s := xmpptest.NewServer(t)
	alice := s.AddUser(t, "alice", "pw")
	bob := s.AddUser(t, "bob", "pw")
	ca := s.Client(t, "alice", "pw", "desk")
	cb := s.Client(t, "bob", "pw", "desk")
	ctx := xmpptest.Context(t, 10*time.Second)

	for _, to := range []string{"", alice.String()} {
		got, err := info(ctx, t, ca, to, "")
		if err != nil {
			t.Fatalf("own disco#info (to %q): %v", to, err)
		}
		if !hasIdentity(got, "account", "registered") || !got.HasFeature(xdisco.NSInfo) {
			t.Errorf("own disco#info = %+v", got)
		}
	}

	// XEP-0030 §8: no subscription, no answer, same as a missing account.
	if _, err := info(ctx, t, cb, alice.String(), ""); condition(err) != stanza.ServiceUnavailable {
		t.Errorf("unsubscribed: err = %v, want service-unavailable", err)
	}
	if _, err := info(ctx, t, cb, "nobody@"+s.Domain(), ""); condition(err) != stanza.ServiceUnavailable {
		t.Errorf("missing account: err = %v, want service-unavailable", err)
	}
	if _, err := s.App.Stores().Roster.PutRosterItem(ctx, alice, storage.RosterItem{Contact: bob, Subscription: storage.SubFrom}); err != nil {
		t.Fatal(err)
	}
	got, err := info(ctx, t, cb, alice.String(), "")
	if err != nil {
		t.Fatalf("subscribed: %v", err)
	}
	if !hasIdentity(got, "account", "registered") {
		t.Errorf("subscribed disco#info = %+v", got)
	}

	res, err := cb.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", alice.String(), xdisco.Items{}.Element()))
	if err != nil || res.Child(xdisco.NSItems, "query") == nil {
		t.Errorf("account disco#items = %v, %v", res, err)
	}
}
