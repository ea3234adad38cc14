package push_test

import (
	"context"
	"encoding/xml"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/mod/push"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/form"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

const (
	wait     = 10 * time.Second
	nsPubSub = "http://jabber.org/protocol/pubsub"
)

// appServer is a stand-in for an app server's XMPP Push Service: a local
// account whose session answers the server's publish requests.
type appServer struct {
	c      *client.Client
	got    chan *stanza.Element
	refuse map[string]bool // nodes answered with <forbidden/>
}

func newAppServer(t *testing.T, s *xmpptest.Server) *appServer {
	t.Helper()
	s.AddUser(t, "pushsvc", "pw")
	a := &appServer{c: s.Client(t, "pushsvc", "pw", "app"), got: make(chan *stanza.Element, 16), refuse: map[string]bool{}}
	a.c.Handle(stanza.KindIQ, xml.Name{Space: nsPubSub, Local: "pubsub"}, func(el *stanza.Element) {
		node := el.Child(nsPubSub, "pubsub").Child(nsPubSub, "publish").Get("node")
		reply := stanza.Result(el, nil)
		if a.refuse[node] {
			reply = stanza.ErrorReply(el, stanza.Err(stanza.Forbidden))
		}
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		_ = a.c.Send(ctx, reply)
		a.got <- el
	})
	return a
}

// next returns the next publish request.
func (a *appServer) next(t *testing.T) *stanza.Element {
	t.Helper()
	select {
	case el := <-a.got:
		return el
	case <-time.After(wait):
		t.Fatal("no notification reached the app server")
		return nil
	}
}

// summary checks a publish request and returns its summary fields.
func summary(t *testing.T, iq *stanza.Element, domain, node string) (*form.Form, *stanza.Element) {
	t.Helper()
	if iq.Type() != stanza.TypeSet || iq.From() != domain {
		t.Fatalf("publish request %s: want an IQ set from %s", iq, domain)
	}
	ps := iq.Child(nsPubSub, "pubsub")
	pub := ps.Child(nsPubSub, "publish")
	if pub.Get("node") != node {
		t.Fatalf("published to node %q, want %q", pub.Get("node"), node)
	}
	n := pub.Child(nsPubSub, "item").Child(push.NS, "notification")
	f, err := form.Parse(form.Find(n, push.FormSummary))
	if err != nil {
		t.Fatalf("notification %s: %v", n, err)
	}
	return f, ps.Child(nsPubSub, "publish-options")
}

func enableIQ(service, node string, fields ...form.Field) *stanza.Element {
	en := stanza.New(push.NS, "enable", "jid", service)
	if node != "" {
		en.Set("node", node)
	}
	if len(fields) > 0 {
		f := form.New(form.TypeSubmit, push.FormPublishOptions)
		for _, fd := range fields {
			f.Add(fd)
		}
		en.Append(f.Element())
	}
	return stanza.NewIQ(stanza.TypeSet, "", "", en)
}

func mustIQ(t *testing.T, c *client.Client, iq *stanza.Element) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if _, err := c.SendIQ(ctx, iq); err != nil {
		t.Fatalf("%s: %v", iq, err)
	}
}

func iqError(t *testing.T, c *client.Client, iq *stanza.Element) stanza.Condition {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	_, err := c.SendIQ(ctx, iq)
	var se *stanza.Error
	if !errors.As(err, &se) {
		t.Fatalf("%s: %v, want an error reply", iq, err)
	}
	return se.Condition
}

// A message with a body for an account whose device is offline reaches
// the app server as a summary; the body only when the user allowed it;
// the publish options are passed on; disabling stops notifications; a
// service that refuses a notification is disabled.
func TestPushNotifiesAppServer(t *testing.T) {
	s := xmpptest.NewServer(t)
	s.AddUser(t, "carol", "pw")
	s.AddUser(t, "alice", "pw")
	app := newAppServer(t, s)
	service := app.c.JID().String()
	alice := s.Client(t, "alice", "pw", "desk")
	carolJID := s.JID(t, "carol")
	domain := s.Domain()

	carol := s.Client(t, "carol", "pw", "phone")
	xmpptest.Send(t, carol, stanza.New(stanza.NSClient, "presence"))
	mustIQ(t, carol, enableIQ(service, "n1", form.Field{Var: "secret", Values: []string{"s3cr3t"}}))
	// While the phone is connected, nothing is pushed.
	xmpptest.Send(t, alice, stanza.NewMessage(stanza.TypeChat, carolJID.String(), "while online"))
	for {
		el, err := carol.Recv(xmpptest.Context(t, wait))
		if err != nil {
			t.Fatal(err)
		}
		if el.ChildText(stanza.NSClient, "body") == "while online" {
			break
		}
	}
	gone(t, s, carol)

	xmpptest.Send(t, alice, stanza.NewMessage(stanza.TypeChat, carolJID.String(), "hello"))
	xmpptest.Send(t, alice, stanza.NewMessage(stanza.TypeChat, carolJID.String(), "again"))
	counts := map[string]bool{}
	for range 2 { // published concurrently: in either order
		f, opts := summary(t, app.next(t), domain, "n1")
		counts[f.Field("message-count").Value()] = true
		if got := f.Field("last-message-sender").Value(); got != alice.JID().String() {
			t.Fatalf("last-message-sender %q", got)
		}
		if f.Field("last-message-body") != nil {
			t.Fatal("the body was sent although the user did not allow it")
		}
		of, err := form.Parse(form.Find(opts, push.FormPublishOptions))
		if err != nil || of.Field("secret").Value() != "s3cr3t" || of.Field(push.FieldIncludeBody) != nil {
			t.Fatalf("publish-options %s (%v)", opts, err)
		}
	}
	if !counts["1"] || !counts["2"] {
		t.Fatalf("message-count values %v, want 1 and 2", counts)
	}

	// Back online: the count restarts; the user now allows the body.
	carol = s.Client(t, "carol", "pw", "phone")
	xmpptest.Send(t, carol, stanza.New(stanza.NSClient, "presence"))
	mustIQ(t, carol, enableIQ(service, "n1", form.Field{Var: push.FieldIncludeBody, Type: form.FieldBoolean, Values: []string{"true"}}))
	gone(t, s, carol)
	xmpptest.Send(t, alice, stanza.NewMessage(stanza.TypeChat, carolJID.String(), "with body"))
	f, opts := summary(t, app.next(t), domain, "n1")
	if f.Field("message-count").Value() != "1" || f.Field("last-message-body").Value() != "with body" {
		t.Fatalf("summary %+v", f.Fields)
	}
	if of, _ := form.Parse(form.Find(opts, push.FormPublishOptions)); of == nil || of.Field(push.FieldIncludeBody) != nil {
		t.Fatalf("the include-body switch leaked into the publish options: %s", opts)
	}

	// Disable n1, enable a node the app server refuses.
	carol = s.Client(t, "carol", "pw", "phone")
	mustIQ(t, carol, stanza.NewIQ(stanza.TypeSet, "", "", stanza.New(push.NS, "disable", "jid", service, "node", "n1")))
	app.refuse["bad"] = true
	mustIQ(t, carol, enableIQ(service, "bad"))
	gone(t, s, carol)
	xmpptest.Send(t, alice, stanza.NewMessage(stanza.TypeChat, carolJID.String(), "to a refusing node"))
	summary(t, app.next(t), domain, "bad")
	xmpptest.Eventually(t, "a refusing service is disabled", func() bool {
		regs, err := s.App.Stores().Push.PushRegistrations(context.Background(), carolJID)
		if err != nil {
			t.Fatal(err)
		}
		return len(regs) == 0
	})
	xmpptest.Send(t, alice, stanza.NewMessage(stanza.TypeChat, carolJID.String(), "nobody to notify"))
	select {
	case el := <-app.got:
		t.Fatalf("notification after every service was disabled: %s", el)
	case <-time.After(300 * time.Millisecond):
	}
}

// Bad requests get the errors of RFC 6120: no jid, a malformed jid, a
// form that is not publish-options, another user's account.
func TestPushBadRequests(t *testing.T) {
	s := xmpptest.NewServer(t)
	s.AddUser(t, "carol", "pw")
	s.AddUser(t, "dave", "pw")
	carol := s.Client(t, "carol", "pw", "phone")
	noJID := stanza.NewIQ(stanza.TypeSet, "", "", stanza.New(push.NS, "enable", "node", "x"))
	if c := iqError(t, carol, noJID); c != stanza.BadRequest {
		t.Fatalf("enable without jid: %s", c)
	}
	if c := iqError(t, carol, enableIQ("a@@b", "x")); c != stanza.JIDMalformed {
		t.Fatalf("enable with a malformed jid: %s", c)
	}
	wrong := stanza.NewIQ(stanza.TypeSet, "", "", stanza.New(push.NS, "enable", "jid", "push.example").
		Append(form.New(form.TypeSubmit, "urn:example:other").Element()))
	if c := iqError(t, carol, wrong); c != stanza.BadRequest {
		t.Fatalf("enable with another form: %s", c)
	}
	other := enableIQ("push.example", "x")
	other.Set("to", s.JID(t, "dave").String())
	if c := iqError(t, carol, other); c != stanza.Forbidden {
		t.Fatalf("enable on another account: %s", c)
	}
	if c := iqError(t, carol, stanza.NewIQ(stanza.TypeSet, "", "", stanza.New(push.NS, "disable"))); c != stanza.BadRequest {
		t.Fatalf("disable without jid: %s", c)
	}
	// The account advertises the feature (XEP-0357 §4).
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	res, err := carol.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", s.JID(t, "carol").String(), stanza.New("http://jabber.org/protocol/disco#info", "query")))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range res.Child("http://jabber.org/protocol/disco#info", "query").ChildrenNamed("http://jabber.org/protocol/disco#info", "feature") {
		found = found || f.Get("var") == push.NS
	}
	if !found {
		t.Fatalf("no %s feature on the account: %s", push.NS, res)
	}
}

// gone closes c and waits until the server has unbound its session.
func gone(t *testing.T, s *xmpptest.Server, c *client.Client) {
	t.Helper()
	c.Close()
	xmpptest.Eventually(t, c.JID().String()+" is unbound", func() bool {
		return s.App.Router().Sessions().Get(c.JID()) == nil
	})
}

// A device whose session is detached (XEP-0198 hibernation) is notified
// too, and gets the message when it resumes; while it is connected it is
// not.
func TestPushNotifiesDetachedSession(t *testing.T) {
	s := xmpptest.NewServer(t)
	s.AddUser(t, "carol", "pw")
	s.AddUser(t, "alice", "pw")
	app := newAppServer(t, s)
	alice := s.Client(t, "alice", "pw", "desk")
	cfg := s.ClientConfig(t, "carol", "pw", "phone")
	cfg.StreamManagement = true
	carol := s.Dial(t, cfg)
	xmpptest.Send(t, carol, stanza.New(stanza.NSClient, "presence"))
	mustIQ(t, carol, enableIQ(app.c.JID().String(), "dev1", form.Field{Var: push.FieldIncludeBody, Values: []string{"1"}}))
	carol.Abort()
	xmpptest.Eventually(t, "the session is detached", func() bool {
		ss := s.App.Router().Sessions().Get(carol.JID())
		return ss != nil && ss.Detached()
	})
	xmpptest.Send(t, alice, stanza.NewMessage(stanza.TypeChat, carol.JID().Bare().String(), "wake up"))
	f, _ := summary(t, app.next(t), s.Domain(), "dev1")
	if f.Field("last-message-body").Value() != "wake up" || f.Field("message-count").Value() != "1" {
		t.Fatalf("summary %+v", f.Fields)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	resumed, err := carol.Resume(ctx)
	if err != nil {
		t.Fatalf("Resume: %v", err)
	}
	t.Cleanup(func() { resumed.Close() })
	for {
		el, err := resumed.Recv(ctx)
		if err != nil {
			t.Fatalf("the message did not arrive after resumption: %v", err)
		}
		if el.ChildText(stanza.NSClient, "body") == "wake up" {
			break
		}
	}
	xmpptest.Send(t, alice, stanza.NewMessage(stanza.TypeChat, carol.JID().Bare().String(), "while connected"))
	select {
	case el := <-app.got:
		t.Fatalf("notification while the device is connected: %s", el)
	case <-time.After(300 * time.Millisecond):
	}
}

// An account deleted and created again does not notify the services its
// predecessor enabled.
func TestPushForgottenWithAccount(t *testing.T) {
	s, app, alice, carol := pushSetup(t)
	carolJID := carol.JID().Bare()
	xmpptest.Send(t, carol, stanza.New(stanza.NSClient, "presence"))
	mustIQ(t, carol, enableIQ(app.c.JID().String(), "n1"))
	// A message while online: the registrations are looked up.
	xmpptest.Send(t, alice, stanza.NewMessage(stanza.TypeChat, carolJID.String(), "while online"))
	for {
		el, err := carol.Recv(xmpptest.Context(t, wait))
		if err != nil {
			t.Fatal(err)
		}
		if el.ChildText(stanza.NSClient, "body") == "while online" {
			break
		}
	}
	remove := stanza.New("jabber:iq:register", "query").Append(stanza.New("jabber:iq:register", "remove"))
	mustIQ(t, carol, stanza.NewIQ(stanza.TypeSet, "", "", remove))
	xmpptest.Eventually(t, "the deleted account's session ended", func() bool {
		return len(s.App.Router().Sessions().Sessions(carolJID)) == 0
	})
	s.WaitSessionEnded(t, carol.JID()) // the session-ended callbacks run after the unbind

	s.AddUser(t, "carol", "pw")
	xmpptest.Send(t, alice, stanza.NewMessage(stanza.TypeChat, carolJID.String(), "to the new carol"))
	app.none(t, "the new account's message, pushed to the old account's service")
}

// TestPushRegistrationQuota: enabling one registration more than
// quotas.push_registrations gets <policy-violation/>, re-enabling an
// enabled one still works, and a disable makes room; an oversized
// publish-options form gets <not-acceptable/>.
func TestPushRegistrationQuota(t *testing.T) {
	s := xmpptest.NewServer(t, func(c *config.Config) { c.Quotas.PushRegistrations = 2 })
	s.AddUser(t, "carol", "pw")
	carol := s.Client(t, "carol", "pw", "phone")
	mustIQ(t, carol, enableIQ("push.example", "n1"))
	mustIQ(t, carol, enableIQ("push.example", "n2"))
	if c := iqError(t, carol, enableIQ("push.example", "n3")); c != stanza.PolicyViolation {
		t.Fatalf("third registration: %s, want policy-violation", c)
	}
	mustIQ(t, carol, enableIQ("push.example", "n2", form.Field{Var: "secret", Values: []string{"new"}}))
	mustIQ(t, carol, stanza.NewIQ(stanza.TypeSet, "", "", stanza.New(push.NS, "disable", "jid", "push.example", "node", "n1")))
	mustIQ(t, carol, enableIQ("push.example", "n3"))

	big := enableIQ("push.example", "n2", form.Field{Var: "secret", Values: []string{strings.Repeat("s", push.MaxOptionsBytes)}})
	if c := iqError(t, carol, big); c != stanza.NotAcceptable {
		t.Fatalf("oversized publish options: %s, want not-acceptable", c)
	}
}

// A call invitation (XEP-0353 <propose/>, no body) for an account whose
// device is offline is pushed; a message without a body that is no
// invitation (a chat state) is not.
func TestPushNotifiesCallInvitation(t *testing.T) {
	s, app, alice, carol := pushSetup(t)
	carolJID := carol.JID().Bare()
	mustIQ(t, carol, enableIQ(app.c.JID().String(), "calls"))
	gone(t, s, carol)

	state := stanza.NewMessage(stanza.TypeChat, carolJID.String(), "")
	state.Append(stanza.New("http://jabber.org/protocol/chatstates", "active"))
	xmpptest.Send(t, alice, state)
	call := stanza.New(stanza.NSClient, "message", "type", stanza.TypeChat, "to", carolJID.String()).Append(
		stanza.New(push.NSJingleMessage, "propose", "id", "call-1").Append(
			stanza.New("urn:xmpp:jingle:apps:rtp:1", "description", "media", "audio")))
	xmpptest.Send(t, alice, call)
	f, _ := summary(t, app.next(t), s.Domain(), "calls")
	if f.Field("message-count").Value() != "1" || f.Field("last-message-sender").Value() != alice.JID().String() {
		t.Fatalf("summary %+v: want the call as the first notification, from %s", f.Fields, alice.JID())
	}
	app.none(t, "a second notification (the chat state?)")
}

// pushSetup starts a server with the app server, alice (at her desk) and
// carol (on her phone).
func pushSetup(t *testing.T) (*xmpptest.Server, *appServer, *client.Client, *client.Client) {
	t.Helper()
	s := xmpptest.NewServer(t)
	s.AddUser(t, "carol", "pw")
	s.AddUser(t, "alice", "pw")
	app := newAppServer(t, s)
	return s, app, s.Client(t, "alice", "pw", "desk"), s.Client(t, "carol", "pw", "phone")
}

// none fails if a publish request reaches the app server within a short
// while (what names the unwanted notification).
func (a *appServer) none(t *testing.T, what string) {
	t.Helper()
	select {
	case el := <-a.got:
		t.Fatalf("%s: %s", what, el)
	case <-time.After(300 * time.Millisecond):
	}
}
