package private_test

import (
	"errors"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/mod/private"
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

func query(children ...*stanza.Element) *stanza.Element {
	return stanza.New(private.NS, "query").Append(children...)
}

func TestPrivateIntegration(t *testing.T) {
	s := xmpptest.NewServer(t)
	alice := s.AddUser(t, "alice", "pw")
	s.AddUser(t, "bob", "pw")
	ca := s.Client(t, "alice", "pw", "desk")
	cb := s.Client(t, "bob", "pw", "desk")
	ctx := xmpptest.Context(t, 10*time.Second)

	prefs := stanza.New("exodus:prefs", "exodus").Append(stanza.New("exodus:prefs", "defaultnick").AppendText("Hamlet"))
	marks := stanza.New("storage:bookmarks", "storage").Append(stanza.New("storage:bookmarks", "conference", "jid", "room@muc.example"))
	if _, err := ca.SendIQ(ctx, stanza.NewIQ(stanza.TypeSet, "", "", query(prefs, marks))); err != nil {
		t.Fatalf("set two fragments: %v", err)
	}
	get := func(ns, local string) *stanza.Element {
		t.Helper()
		res, err := ca.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", "", query(stanza.New(ns, local))))
		if err != nil {
			t.Fatalf("get %s: %v", ns, err)
		}
		el := res.Child(private.NS, "query").Child(ns, local)
		if el == nil {
			t.Fatalf("get %s: %s", ns, res)
		}
		return el
	}
	if got := get("exodus:prefs", "exodus").ChildText("exodus:prefs", "defaultnick"); got != "Hamlet" {
		t.Errorf("prefs = %q", got)
	}
	if got := get("storage:bookmarks", "storage").Child("storage:bookmarks", "conference").Get("jid"); got != "room@muc.example" {
		t.Errorf("bookmark = %q", got)
	}
	if got := get("urn:example:unset", "data"); len(got.Children) != 0 {
		t.Errorf("unset fragment = %s, want empty", got)
	}

	cases := []struct {
		name string
		c    func() error
		want stanza.Condition
	}{
		{"other's get", func() error {
			_, err := cb.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", alice.String(), query(stanza.New("exodus:prefs", "exodus"))))
			return err
		}, stanza.Forbidden},
		{"other's set", func() error {
			_, err := cb.SendIQ(ctx, stanza.NewIQ(stanza.TypeSet, "", alice.String(), query(prefs.Clone())))
			return err
		}, stanza.Forbidden},
		{"empty get", func() error {
			_, err := ca.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", "", query()))
			return err
		}, stanza.BadRequest},
		{"empty set", func() error {
			_, err := ca.SendIQ(ctx, stanza.NewIQ(stanza.TypeSet, "", "", query()))
			return err
		}, stanza.BadRequest},
		{"two in a get", func() error {
			_, err := ca.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", "", query(stanza.New("a:b", "x"), stanza.New("c:d", "y"))))
			return err
		}, stanza.BadRequest},
		{"jabber:iq:private child", func() error {
			_, err := ca.SendIQ(ctx, stanza.NewIQ(stanza.TypeSet, "", "", query(stanza.New(private.NS, "x"))))
			return err
		}, stanza.NotAcceptable},
		{"jabber:client child", func() error {
			_, err := ca.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", "", query(stanza.New(stanza.NSClient, "x"))))
			return err
		}, stanza.NotAcceptable},
		{"reserved among valid", func() error {
			_, err := ca.SendIQ(ctx, stanza.NewIQ(stanza.TypeSet, "", "", query(stanza.New("exodus:prefs", "exodus"), stanza.New(private.NS, "x"))))
			return err
		}, stanza.NotAcceptable},
	}
	for _, c := range cases {
		if err := c.c(); condition(err) != c.want {
			t.Errorf("%s: err = %v, want %s", c.name, err, c.want)
		}
	}
	// The rejected set stored nothing.
	if got := get("exodus:prefs", "exodus").ChildText("exodus:prefs", "defaultnick"); got != "Hamlet" {
		t.Errorf("prefs after rejected set = %q", got)
	}
}
