package blocking_test

import (
	"context"
	"encoding/xml"
	"errors"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/mod/blocking"
	"github.com/parley-xmpp/parley/xmpp/client"
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

func items(el *stanza.Element) []string {
	var out []string
	for _, it := range el.ChildrenNamed(blocking.NS, "item") {
		out = append(out, it.Get("jid"))
	}
	return out
}

func command(local string, jids ...string) *stanza.Element {
	el := stanza.New(blocking.NS, local)
	for _, j := range jids {
		el.Append(stanza.New(blocking.NS, "item", "jid", j))
	}
	return stanza.NewIQ(stanza.TypeSet, "", "", el)
}

// pushes collects block and unblock pushes a client receives.
func pushes(c *client.Client) <-chan *stanza.Element {
	ch := make(chan *stanza.Element, 16)
	h := func(iq *stanza.Element) {
		ch <- iq
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		c.Send(ctx, stanza.Result(iq, nil))
	}
	c.Handle(stanza.KindIQ, xml.Name{Space: blocking.NS, Local: "block"}, h)
	c.Handle(stanza.KindIQ, xml.Name{Space: blocking.NS, Local: "unblock"}, h)
	return ch
}

func nextPush(t *testing.T, ch <-chan *stanza.Element) *stanza.Element {
	t.Helper()
	select {
	case iq := <-ch:
		return iq
	case <-time.After(5 * time.Second):
		t.Fatal("no push")
		return nil
	}
}

// blockList fetches c's block list.
func blockList(ctx context.Context, t *testing.T, c *client.Client) []string {
	t.Helper()
	res, err := c.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", "", stanza.New(blocking.NS, "blocklist")))
	if err != nil {
		t.Fatalf("blocklist: %v", err)
	}
	return items(res.Child(blocking.NS, "blocklist"))
}

func recv(ctx context.Context, t *testing.T, c *client.Client) *stanza.Element {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := c.Recv(ctx)
	if err != nil {
		t.Fatalf("%s: recv: %v", c.JID(), err)
	}
	return st
}

func TestBlockingIntegration(t *testing.T) {
	s := xmpptest.NewServer(t)
	alice := s.AddUser(t, "alice", "pw")
	bob := s.AddUser(t, "bob", "pw")
	s.AddUser(t, "carol", "pw")
	desk := s.Client(t, "alice", "pw", "desk")
	phone := s.Client(t, "alice", "pw", "phone")
	cb := s.Client(t, "bob", "pw", "desk")
	cc := s.Client(t, "carol", "pw", "desk")
	ctx := xmpptest.Context(t, 30*time.Second)
	deskPushes, phonePushes := pushes(desk), pushes(phone)

	getList := func() []string { t.Helper(); return blockList(ctx, t, desk) }
	if l := getList(); len(l) != 0 {
		t.Fatalf("initial blocklist = %v", l)
	}

	// Errors of §3.3 and a foreign block list.
	if _, err := desk.SendIQ(ctx, command("block")); condition(err) != stanza.BadRequest {
		t.Errorf("empty block: err = %v, want bad-request", err)
	}
	if _, err := desk.SendIQ(ctx, command("block", "a@b@c")); condition(err) != stanza.JIDMalformed {
		t.Errorf("bad jid: err = %v, want jid-malformed", err)
	}
	if _, err := cb.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", alice.String(), stanza.New(blocking.NS, "blocklist"))); condition(err) != stanza.Forbidden {
		t.Errorf("foreign blocklist: err = %v, want forbidden", err)
	}

	if _, err := desk.SendIQ(ctx, command("block", bob.String(), "evil.example")); err != nil {
		t.Fatalf("block: %v", err)
	}
	push := nextPush(t, deskPushes)
	if got := items(push.Child(blocking.NS, "block")); len(got) != 2 || push.Type() != stanza.TypeSet {
		t.Errorf("block push = %s", push)
	}
	if l := getList(); len(l) != 2 {
		t.Errorf("blocklist = %v", l)
	}

	// Inbound from a blocked JID: presence vanishes, messages and IQ
	// requests get service-unavailable.
	presence := stanza.New(stanza.NSClient, "presence", "to", desk.JID().String())
	if err := cb.Send(ctx, presence); err != nil {
		t.Fatal(err)
	}
	if err := cb.Send(ctx, stanza.NewMessage(stanza.TypeChat, desk.JID().String(), "hello?")); err != nil {
		t.Fatal(err)
	}
	if e := recv(ctx, t, cb); e.Name.Local != "message" || e.Type() != stanza.TypeError || condition(stanza.ParseError(e)) != stanza.ServiceUnavailable {
		t.Errorf("bob's message to alice bounced as %s", e)
	}
	if _, err := cb.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", alice.String(), stanza.New("urn:xmpp:ping", "ping"))); condition(err) != stanza.ServiceUnavailable {
		t.Errorf("bob's IQ to alice: err = %v, want service-unavailable", err)
	}

	// Outbound to a blocked JID: not-acceptable with <blocked/>.
	for _, to := range []string{bob.String() + "/desk", "mallory@evil.example"} {
		if err := desk.Send(ctx, stanza.NewMessage(stanza.TypeChat, to, "psst")); err != nil {
			t.Fatal(err)
		}
		e := recv(ctx, t, desk)
		se := stanza.ParseError(e)
		if e.Type() != stanza.TypeError || se == nil || se.Condition != stanza.NotAcceptable || se.App == nil || se.App.Name.Space != blocking.NSErrors || se.App.Name.Local != "blocked" {
			t.Errorf("message to %s: got %s", to, e)
		}
	}

	// Others still get through.
	if err := cc.Send(ctx, stanza.NewMessage(stanza.TypeChat, desk.JID().String(), "from carol")); err != nil {
		t.Fatal(err)
	}
	if m := recv(ctx, t, desk); m.ChildText("", "body") != "from carol" {
		t.Errorf("alice got %s, want carol's message (bob's presence must be dropped)", m)
	}

	if _, err := desk.SendIQ(ctx, command("unblock", bob.String())); err != nil {
		t.Fatalf("unblock: %v", err)
	}
	push = nextPush(t, deskPushes)
	if got := items(push.Child(blocking.NS, "unblock")); len(got) != 1 || got[0] != bob.String() {
		t.Errorf("unblock push = %s", push)
	}
	if err := cb.Send(ctx, stanza.NewMessage(stanza.TypeChat, desk.JID().String(), "again")); err != nil {
		t.Fatal(err)
	}
	if m := recv(ctx, t, desk); m.ChildText("", "body") != "again" {
		t.Errorf("after unblock alice got %s", m)
	}

	if _, err := desk.SendIQ(ctx, command("unblock")); err != nil {
		t.Fatalf("unblock all: %v", err)
	}
	push = nextPush(t, deskPushes)
	if u := push.Child(blocking.NS, "unblock"); u == nil || len(items(u)) != 0 {
		t.Errorf("unblock-all push = %s", push)
	}
	if l := getList(); len(l) != 0 {
		t.Errorf("blocklist after unblock all = %v", l)
	}
	if err := desk.Send(ctx, stanza.NewMessage(stanza.TypeChat, "mallory@evil.example", "psst")); err != nil {
		t.Fatal(err)
	}
	if se := stanza.ParseError(recv(ctx, t, desk)); se == nil || se.Condition == stanza.NotAcceptable {
		t.Errorf("after unblock all the domain is still blocked: %+v", se)
	}

	// The phone never asked for the block list, so it got no push.
	select {
	case iq := <-phonePushes:
		t.Errorf("phone got a push: %s", iq)
	default:
	}
}

// TestBlockListQuota: a block that would take the list past
// quotas.block_items gets <policy-violation/> and changes nothing;
// entries already blocked do not count twice, and after an unblock there
// is room again.
func TestBlockListQuota(t *testing.T) {
	s := xmpptest.NewServer(t, func(c *config.Config) { c.Quotas.BlockItems = 3 })
	s.AddUser(t, "alice", "pw")
	desk := s.Client(t, "alice", "pw", "desk")
	ctx := xmpptest.Context(t, 30*time.Second)
	list := func() []string { t.Helper(); return blockList(ctx, t, desk) }
	if _, err := desk.SendIQ(ctx, command("block", "a.example", "b.example")); err != nil {
		t.Fatalf("block two: %v", err)
	}
	if _, err := desk.SendIQ(ctx, command("block", "c.example", "d.example")); condition(err) != stanza.PolicyViolation {
		t.Fatalf("block past the quota: err = %v, want policy-violation", err)
	}
	if l := list(); len(l) != 2 {
		t.Fatalf("after the refused block: blocklist = %v, want the two first", l)
	}
	// Blocking again what is blocked, with one new entry, fits.
	if _, err := desk.SendIQ(ctx, command("block", "a.example", "b.example", "c.example", "c.example")); err != nil {
		t.Fatalf("block up to the quota: %v", err)
	}
	if _, err := desk.SendIQ(ctx, command("block", "d.example")); condition(err) != stanza.PolicyViolation {
		t.Fatalf("block past a full list: err = %v, want policy-violation", err)
	}
	if _, err := desk.SendIQ(ctx, command("unblock", "a.example")); err != nil {
		t.Fatalf("unblock: %v", err)
	}
	if _, err := desk.SendIQ(ctx, command("block", "d.example")); err != nil {
		t.Fatalf("block after an unblock: %v", err)
	}
	if l := list(); len(l) != 3 {
		t.Fatalf("blocklist = %v, want 3 items", l)
	}
}
