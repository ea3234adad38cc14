package account_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/disco"
	"github.com/parley-xmpp/parley/xmpp/register"
	"github.com/parley-xmpp/parley/xmpp/sasl"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
	"github.com/parley-xmpp/parley/xmpptest"
)

const pw = "correct horse"

func cond(err error) stanza.Condition {
	var se *stanza.Error
	if errors.As(err, &se) {
		return se.Condition
	}
	return ""
}

func query(children ...*stanza.Element) *stanza.Element {
	return stanza.New(register.NS, "query").Append(children...)
}

func text(local, s string) *stanza.Element { return stanza.New(register.NS, local).AppendText(s) }

func TestRegisteredAndDisco(t *testing.T) {
	s := xmpptest.NewServer(t)
	s.AddUser(t, "alice", pw)
	c := s.Client(t, "alice", pw, "desk")
	ctx := xmpptest.Context(t, 30*time.Second)
	for _, to := range []string{"", "localhost"} {
		res, err := c.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", to, query()))
		if err != nil {
			t.Fatalf("get (to %q): %v", to, err)
		}
		q, err := register.Parse(res.Child(register.NS, "query"))
		if err != nil || !q.Registered || q.Username != "alice" {
			t.Fatalf("get (to %q): %s", to, res)
		}
	}
	res, err := c.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", "localhost", stanza.New(disco.NSInfo, "query")))
	if err != nil {
		t.Fatal(err)
	}
	if i, _ := disco.ParseInfo(res.Child(disco.NSInfo, "query")); !i.HasFeature(register.NS) {
		t.Errorf("jabber:iq:register not advertised: %s", res)
	}
}

func TestChangePassword(t *testing.T) {
	s := xmpptest.NewServer(t)
	s.AddUser(t, "alice", pw)
	s.AddUser(t, "bob", pw)
	c := s.Client(t, "alice", pw, "desk")
	ctx := xmpptest.Context(t, 30*time.Second)
	set := func(to string, children ...*stanza.Element) (*stanza.Element, error) {
		return c.SendIQ(ctx, stanza.NewIQ(stanza.TypeSet, "", to, query(children...)))
	}
	for _, tc := range []struct {
		name     string
		children []*stanza.Element
		want     stanza.Condition
	}{
		{"no username", []*stanza.Element{text("password", "brand new pw")}, stanza.BadRequest},
		{"empty password", []*stanza.Element{text("username", "alice"), stanza.New(register.NS, "password")}, stanza.BadRequest},
		{"no password", []*stanza.Element{text("username", "alice")}, stanza.BadRequest},
		{"someone else", []*stanza.Element{text("username", "bob"), text("password", "brand new pw")}, stanza.NotAllowed},
		{"too short", []*stanza.Element{text("username", "alice"), text("password", "short")}, stanza.NotAcceptable},
	} {
		if _, err := set("localhost", tc.children...); cond(err) != tc.want {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.want)
		}
	}
	// The password is unchanged after the failures.
	if err := login(s, t, ctx, "alice", pw); err != nil {
		t.Fatalf("old password after refused changes: %v", err)
	}
	if _, err := set("", text("username", "alice"), text("password", "brand new pw")); err != nil {
		t.Fatalf("change: %v", err)
	}
	var ae *client.AuthError
	if err := login(s, t, ctx, "alice", pw); !errors.As(err, &ae) || ae.Condition != sasl.NotAuthorized {
		t.Fatalf("old password still works: %v", err)
	}
	if err := login(s, t, ctx, "alice", "brand new pw"); err != nil {
		t.Fatalf("new password: %v", err)
	}
	// The session that changed it goes on.
	if _, err := c.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", "", query())); err != nil {
		t.Fatalf("session after change: %v", err)
	}
}

// XEP-0077 §3.3: an in-band password change ends the account's other
// sessions with <reset/> (whoever knew the old password is logged out),
// but not the one that changed it, nor anyone else's.
func TestChangePasswordEndsOtherSessions(t *testing.T) {
	s := xmpptest.NewServer(t)
	alice := s.AddUser(t, "alice", pw)
	s.AddUser(t, "bob", pw)
	ctx := xmpptest.Context(t, 30*time.Second)
	desk := s.Client(t, "alice", pw, "desk")
	phone := s.Client(t, "alice", pw, "phone")
	tablet := s.Client(t, "alice", pw, "tablet")
	bob := s.Client(t, "bob", pw, "desk")
	if _, err := desk.SendIQ(ctx, stanza.NewIQ(stanza.TypeSet, "", "", query(text("username", "alice"), text("password", "brand new pw")))); err != nil {
		t.Fatalf("change: %v", err)
	}
	for _, c := range []*client.Client{phone, tablet} {
		select {
		case <-c.Done():
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: session not ended by the password change", c.JID())
		}
		var se *stream.Error
		if !errors.As(c.Err(), &se) || se.Condition != stream.Reset {
			t.Errorf("%s: ended with %v, want <reset/>", c.JID(), c.Err())
		}
	}
	// The session that changed it goes on, and is alice's only one.
	if _, err := desk.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", "", query())); err != nil {
		t.Fatalf("the changing session after the change: %v", err)
	}
	// The server removes a session from its table just after closing
	// the stream, which the client may see first.
	xmpptest.Eventually(t, "alice has one session left", func() bool { return len(s.App.Router().Sessions().Sessions(alice)) == 1 })
	if got := s.App.Router().Sessions().Sessions(alice); got[0].JID() != desk.JID() {
		t.Fatalf("alice's remaining session is %s, want the one that changed the password", got[0].JID())
	}
	// Bob is not affected.
	if _, err := bob.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", "", query())); err != nil {
		t.Fatalf("bob after alice's change: %v", err)
	}
	select {
	case <-bob.Done():
		t.Fatalf("bob's session ended: %v", bob.Err())
	default:
	}
}

func login(s *xmpptest.Server, t *testing.T, ctx context.Context, user, password string) error {
	cfg := s.ClientConfig(t, user, password, "check")
	c, err := client.Dial(ctx, cfg)
	if err == nil {
		c.Close()
	}
	return err
}

func TestRemove(t *testing.T) {
	s := xmpptest.NewServer(t)
	alice := s.AddUser(t, "alice", pw)
	bob := s.AddUser(t, "bob", pw)
	ctx := xmpptest.Context(t, 30*time.Second)
	st := s.App.Stores()
	if _, err := st.Roster.PutRosterItem(ctx, alice, storage.RosterItem{Contact: bob, Subscription: storage.SubBoth}); err != nil {
		t.Fatal(err)
	}
	if err := st.Offline.StoreOffline(ctx, alice, []byte("<message/>"), 0); err != nil {
		t.Fatal(err)
	}
	c1 := s.Client(t, "alice", pw, "one")
	c2 := s.Client(t, "alice", pw, "two")

	// <remove/> must be alone.
	_, err := c1.SendIQ(ctx, stanza.NewIQ(stanza.TypeSet, "", "", query(stanza.New(register.NS, "remove"), text("username", "alice"))))
	if cond(err) != stanza.BadRequest {
		t.Fatalf("remove with other children: %v", err)
	}
	// A result, then both sessions end with <not-authorized/>.
	if _, err := c1.SendIQ(ctx, stanza.NewIQ(stanza.TypeSet, "", "", query(stanza.New(register.NS, "remove")))); err != nil {
		t.Fatalf("remove: %v", err)
	}
	for _, c := range []*client.Client{c1, c2} {
		select {
		case <-c.Done():
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: session not ended", c.JID())
		}
		var se *stream.Error
		if !errors.As(c.Err(), &se) || se.Condition != stream.NotAuthorized {
			t.Errorf("%s: ended with %v, want not-authorized", c.JID(), c.Err())
		}
	}
	// All data is gone.
	if ok, _ := st.Accounts.AccountExists(ctx, alice); ok {
		t.Error("account still exists")
	}
	if items, _, _ := st.Roster.RosterItems(ctx, alice); len(items) != 0 {
		t.Errorf("roster kept: %v", items)
	}
	if n, _ := st.Offline.OfflineCount(ctx, alice); n != 0 {
		t.Errorf("%d offline messages kept", n)
	}
	var ae *client.AuthError
	if err := login(s, t, ctx, "alice", pw); !errors.As(err, &ae) || ae.Condition != sasl.NotAuthorized {
		t.Fatalf("login after removal: %v", err)
	}
	// Another user's account is unaffected.
	if err := login(s, t, ctx, "bob", pw); err != nil {
		t.Fatalf("bob: %v", err)
	}
}

// TestRemoveThenRecreate: an account created again under the name of a
// removed one does not inherit what modules cached for the old one (here
// its block list, cached by the blocking module).
func TestRemoveThenRecreate(t *testing.T) {
	s := xmpptest.NewServer(t)
	s.AddUser(t, "alice", pw)
	bob := s.AddUser(t, "bob", pw)
	ctx := xmpptest.Context(t, 30*time.Second)
	const nsBlocking = "urn:xmpp:blocking"
	blocklist := func(c *client.Client) []string {
		t.Helper()
		res, err := c.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", "", stanza.New(nsBlocking, "blocklist")))
		if err != nil {
			t.Fatalf("blocklist: %v", err)
		}
		var out []string
		if bl := res.Child(nsBlocking, "blocklist"); bl != nil {
			for _, it := range bl.ChildrenNamed(nsBlocking, "item") {
				out = append(out, it.Get("jid"))
			}
		}
		return out
	}

	c := s.Client(t, "alice", pw, "one")
	block := stanza.New(nsBlocking, "block").Append(stanza.New(nsBlocking, "item", "jid", bob.String()))
	if _, err := c.SendIQ(ctx, stanza.NewIQ(stanza.TypeSet, "", "", block)); err != nil {
		t.Fatalf("block: %v", err)
	}
	if got := blocklist(c); len(got) != 1 || got[0] != bob.String() {
		t.Fatalf("block list %v, want [%s]", got, bob)
	}
	if _, err := c.SendIQ(ctx, stanza.NewIQ(stanza.TypeSet, "", "", query(stanza.New(register.NS, "remove")))); err != nil {
		t.Fatalf("remove: %v", err)
	}
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("session not ended")
	}

	s.AddUser(t, "alice", pw)
	c = s.Client(t, "alice", pw, "two")
	if got := blocklist(c); len(got) != 0 {
		t.Fatalf("the new account inherited the block list %v", got)
	}
}
