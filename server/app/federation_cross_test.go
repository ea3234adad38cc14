package app_test

import (
	"context"
	"encoding/xml"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/internal/testca"
	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/mod/adhoc"
	"github.com/parley-xmpp/parley/server/mod/blocking"
	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/s2s"
	"github.com/parley-xmpp/parley/server/storage"
	xadhoc "github.com/parley-xmpp/parley/xmpp/adhoc"
	"github.com/parley-xmpp/parley/xmpp/carbons"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/disco"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/mam"
	xpubsub "github.com/parley-xmpp/parley/xmpp/pubsub"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

// Namespaces the federation tests use on the wire.
const (
	nsTune     = "http://jabber.org/protocol/tune"
	nsVCard    = "vcard-temp"
	nsVersion  = "jabber:iq:version"
	nsPing     = "urn:xmpp:ping"
	nsMUC      = "http://jabber.org/protocol/muc"
	nsMUCOwner = "http://jabber.org/protocol/muc#owner"
	nsBlocking = "urn:xmpp:blocking"
)

// crossFriends gives a (served by sa) and b (served by sb) a mutual
// presence subscription, in both servers' rosters.
func crossFriends(t *testing.T, sa *xmpptest.Server, a jid.JID, sb *xmpptest.Server, b jid.JID) {
	t.Helper()
	ctx := xmpptest.Context(t, xmpptest.Wait)
	if _, err := sa.App.Stores().Roster.PutRosterItem(ctx, a, storage.RosterItem{Contact: b, Subscription: storage.SubBoth}); err != nil {
		t.Fatal(err)
	}
	if _, err := sb.App.Stores().Roster.PutRosterItem(ctx, b, storage.RosterItem{Contact: a, Subscription: storage.SubBoth}); err != nil {
		t.Fatal(err)
	}
}

// answerPings makes c answer XEP-0199 pings.
func answerPings(c *client.Client) {
	c.Handle(stanza.KindIQ, xml.Name{Space: nsPing, Local: "ping"}, func(iq *stanza.Element) {
		_ = c.Send(context.Background(), stanza.Result(iq, nil))
	})
}

// answerCaps makes c answer disco#info with features, and returns the
// XEP-0115 <c/> for them and a channel closed at the first query.
func answerCaps(t *testing.T, c *client.Client, features ...string) (*stanza.Element, <-chan struct{}) {
	t.Helper()
	return xmpptest.AnswerCaps(t, c, disco.Info{
		Identities: []disco.Identity{{Category: "client", Type: "pc", Name: "federation test " + c.JID().String()}},
		Features:   append([]string{disco.NSInfo}, features...),
	})
}

// iqOK sends an IQ request and fails the test on an error reply.
func iqOK(t *testing.T, c *client.Client, typ, to string, payload *stanza.Element) *stanza.Element {
	t.Helper()
	res, err := c.SendIQ(xmpptest.Context(t, xmpptest.Wait), stanza.NewIQ(typ, "", to, payload))
	if err != nil {
		t.Fatalf("%s: IQ %s <%s xmlns='%s'/> to %q: %v", c.JID(), typ, payload.Name.Local, payload.Name.Space, to, err)
	}
	return res
}

// isPresence matches an available (typ "") or unavailable presence from
// a full JID.
func isPresence(from, typ string) func(*stanza.Element) bool {
	return func(st *stanza.Element) bool {
		return stanza.KindOf(st) == stanza.KindPresence && st.Get("from") == from && st.Get("type") == typ
	}
}

// hasBody matches a message of type typ carrying body.
func hasBody(typ, body string) func(*stanza.Element) bool {
	return func(st *stanza.Element) bool {
		return stanza.KindOf(st) == stanza.KindMessage && st.Get("type") == typ && st.ChildText(stanza.NSClient, "body") == body
	}
}

// noMessageWith fails if c receives a message carrying body within d.
func noMessageWith(t *testing.T, c *client.Client, body string, d time.Duration) {
	t.Helper()
	xmpptest.Never(t, c, "a message saying "+body, d, func(st *stanza.Element) bool {
		return stanza.KindOf(st) == stanza.KindMessage && st.ChildText(stanza.NSClient, "body") == body
	})
}

// archived queries c's archive (XEP-0313) and returns the archived
// message carrying body.
func archived(t *testing.T, c *client.Client, body string) *stanza.Element {
	t.Helper()
	q := mam.NewQuery()
	q.QueryID = "fed"
	iqOK(t, c, stanza.TypeSet, "", q.Element())
	res := xmpptest.Expect(t, c, "the archived "+body, func(st *stanza.Element) bool {
		r, ok, err := mam.ParseResult(st)
		return ok && err == nil && r.QueryID == "fed" && r.Message.ChildText(stanza.NSClient, "body") == body
	})
	r, _, _ := mam.ParseResult(res)
	return r.Message
}

// joinRoom enters a MUC room as nick and returns the self-presence.
func joinRoom(t *testing.T, c *client.Client, room, nick string) *stanza.Element {
	t.Helper()
	xmpptest.Send(t, c, stanza.New(stanza.NSClient, "presence", "to", room+"/"+nick).Append(stanza.New(nsMUC, "x")))
	self := xmpptest.Expect(t, c, "the self-presence in "+room, func(st *stanza.Element) bool {
		return stanza.KindOf(st) == stanza.KindPresence && st.Get("from") == room+"/"+nick
	})
	if self.Get("type") == "error" {
		t.Fatalf("%s joining %s: %s", c.JID(), room, self)
	}
	return self
}

// testCrosses: between two Parley servers, IQs to remote users and
// servers, presence (probes, broadcasts, unavailable), PEP, a remote MUC
// room, carbons, MAM and blocking all work end to end; the operators'
// command lists the links.
func testCrosses(t *testing.T, ca *testca.CA, wantAuth string) {
	pa, pb := xmpptest.FreePort(t), xmpptest.FreePort(t)
	admin := func(c *config.Config) { c.Admins = []jid.JID{jid.MustParse("alice@a.example")} }
	a := federatedWith(t, "a.example", pa, map[string]int{"b.example": pb}, ca, admin)
	b := federated(t, "b.example", pb, "a.example", pa, ca)
	aliceJID := a.AddUser(t, "alice", "pw")
	bobJID := b.AddUser(t, "bob", "pw")
	crossFriends(t, a, aliceJID, b, bobJID)

	// Bob comes online first, away, interested in tunes (XEP-0115
	// +notify) and answering pings.
	bob := connect(t, b, "bob", "desk", ca)
	answerPings(bob)
	bobCaps, capsAsked := answerCaps(t, bob, nsTune+"+notify")
	xmpptest.Send(t, bob, stanza.New(stanza.NSClient, "presence").
		Append(stanza.New(stanza.NSClient, "show").AppendText("away"), bobCaps))

	// Alice logs in later: her server probes bob's, which answers with
	// his current presence; her initial presence reaches him.
	alice := login(t, a, "alice", ca)
	probed := xmpptest.Expect(t, alice, "bob's presence, answering the probe", isPresence(bob.JID().String(), ""))
	if probed.ChildText(stanza.NSClient, "show") != "away" {
		t.Fatalf("bob's presence: %s", probed)
	}
	xmpptest.Expect(t, bob, "alice's initial presence", isPresence(alice.JID().String(), ""))

	// A presence update is broadcast to the remote contact.
	xmpptest.Send(t, alice, stanza.New(stanza.NSClient, "presence").Append(stanza.New(stanza.NSClient, "status").AppendText("at work")))
	xmpptest.Expect(t, bob, "alice's presence update", func(st *stanza.Element) bool {
		return isPresence(alice.JID().String(), "")(st) && st.ChildText(stanza.NSClient, "status") == "at work"
	})

	// IQs to a remote user and to the remote server.
	iqOK(t, bob, stanza.TypeSet, "", stanza.New(nsVCard, "vCard").Append(stanza.New(nsVCard, "FN").AppendText("Bob")))
	if v := iqOK(t, alice, stanza.TypeGet, "bob@b.example", stanza.New(nsVCard, "vCard")); v.Child(nsVCard, "vCard").ChildText(nsVCard, "FN") != "Bob" {
		t.Fatalf("bob's vCard: %s", v)
	}
	if v := iqOK(t, alice, stanza.TypeGet, "b.example", stanza.New(nsVersion, "query")); v.Child(nsVersion, "query").ChildText(nsVersion, "name") != "Parley" || v.From() != "b.example" {
		t.Fatalf("b.example's version: %s", v)
	}
	res := iqOK(t, alice, stanza.TypeGet, "b.example", stanza.New(disco.NSInfo, "query"))
	info, err := disco.ParseInfo(res.Child(disco.NSInfo, "query"))
	if err != nil || !info.HasFeature(nsVersion) || !slices.ContainsFunc(info.Identities, func(i disco.Identity) bool { return i.Category == "server" }) {
		t.Fatalf("b.example's disco#info: %s (%v)", res, err)
	}
	res = iqOK(t, alice, stanza.TypeGet, "b.example", stanza.New(disco.NSItems, "query"))
	items, err := disco.ParseItems(res.Child(disco.NSItems, "query"))
	if err != nil || !slices.ContainsFunc(items.Items, func(i disco.Item) bool { return i.JID.String() == "conference.b.example" }) {
		t.Fatalf("b.example's disco#items: %s (%v)", res, err)
	}
	iqOK(t, alice, stanza.TypeGet, bob.JID().String(), stanza.New(nsPing, "ping"))

	// PEP: alice's server asked bob's client for the features behind
	// his caps (+notify); once it knows them, her tune reaches him.
	select {
	case <-capsAsked:
	case <-time.After(xmpptest.Wait):
		t.Fatal("a.example never asked bob for the features behind his caps")
	}
	for range 2 { // round trips on the same link, after the answer
		iqOK(t, bob, stanza.TypeGet, "a.example", stanza.New(nsPing, "ping"))
	}
	publish := stanza.New(xpubsub.NS, "pubsub").Append(stanza.New(xpubsub.NS, "publish", "node", nsTune).
		Append(stanza.New(xpubsub.NS, "item", "id", "song").Append(stanza.New(nsTune, "tune").Append(stanza.New(nsTune, "title").AppendText("Yesterday")))))
	iqOK(t, alice, stanza.TypeSet, "", publish)
	note := xmpptest.Expect(t, bob, "alice's tune", func(st *stanza.Element) bool {
		ev, err := xpubsub.ParseEvent(st)
		return stanza.KindOf(st) == stanza.KindMessage && err == nil && ev.Node == nsTune
	})
	if ev, _ := xpubsub.ParseEvent(note); note.From() != "alice@a.example" || len(ev.Items) != 1 || ev.Items[0].Payload.ChildText(nsTune, "title") != "Yesterday" {
		t.Fatalf("bob's notification: %s", note)
	}

	// A local user joins a remote room and talks.
	room := "lounge@conference.b.example"
	joinRoom(t, bob, room, "bob")
	iqOK(t, bob, stanza.TypeSet, room, stanza.New(nsMUCOwner, "query").Append(stanza.New("jabber:x:data", "x", "type", "submit")))
	joinRoom(t, alice, room, "alice")
	xmpptest.Expect(t, bob, "alice entering the room", isPresence(room+"/alice", ""))
	xmpptest.Send(t, alice, stanza.NewMessage(stanza.TypeGroupchat, room, "hello from a"))
	xmpptest.Expect(t, bob, "alice's groupchat message", func(st *stanza.Element) bool {
		return hasBody(stanza.TypeGroupchat, "hello from a")(st) && st.From() == room+"/alice"
	})
	xmpptest.Expect(t, alice, "the echo of her groupchat message", hasBody(stanza.TypeGroupchat, "hello from a"))
	xmpptest.Send(t, bob, stanza.NewMessage(stanza.TypeGroupchat, room, "hello from b"))
	xmpptest.Expect(t, alice, "bob's groupchat message", func(st *stanza.Element) bool {
		return hasBody(stanza.TypeGroupchat, "hello from b")(st) && st.From() == room+"/bob"
	})

	// Carbons (XEP-0280): each side's other resource gets a copy.
	alicePhone, bobPhone := online(t, a, "alice", "phone", ca), online(t, b, "bob", "phone", ca)
	for _, c := range []*client.Client{alicePhone, bobPhone} {
		iqOK(t, c, stanza.TypeSet, "", carbons.Enable())
	}
	xmpptest.Send(t, alice, stanza.NewMessage(stanza.TypeChat, bob.JID().String(), "carbon copy"))
	xmpptest.Expect(t, bob, "alice's message", hasBody(stanza.TypeChat, "carbon copy"))
	for _, c := range []struct {
		cl   *client.Client
		dir  carbons.Direction
		what string
	}{{bobPhone, carbons.Received, "the received carbon"}, {alicePhone, carbons.Sent, "the sent carbon"}} {
		xmpptest.Expect(t, c.cl, c.what, func(st *stanza.Element) bool {
			d, inner, err := carbons.Unwrap(st, c.cl.JID())
			return err == nil && d == c.dir && inner.ChildText(stanza.NSClient, "body") == "carbon copy" &&
				inner.From() == alice.JID().String() && inner.To() == bob.JID().String()
		})
	}

	// A session that ends sends unavailable presence to remote contacts.
	bobPhone.Close()
	xmpptest.Expect(t, alice, "bob's phone going offline", isPresence("bob@b.example/phone", "unavailable"))

	// MAM (XEP-0313): both archives hold a federated message.
	xmpptest.Send(t, alice, stanza.NewMessage(stanza.TypeChat, "bob@b.example", "for the archives"))
	xmpptest.Expect(t, bob, "the message to archive", hasBody(stanza.TypeChat, "for the archives"))
	if m := archived(t, alice, "for the archives"); m.To() != "bob@b.example" {
		t.Fatalf("alice's archive: %s", m)
	}
	if m := archived(t, bob, "for the archives"); m.From() != alice.JID().String() {
		t.Fatalf("bob's archive: %s", m)
	}

	// The operators' command lists the links, both ways.
	cmd := iqOK(t, alice, stanza.TypeSet, "a.example", stanza.New(xadhoc.NS, "command", "node", adhoc.S2SNode, "action", "execute"))
	parsed, err := xadhoc.Parse(cmd.Child(xadhoc.NS, "command"))
	if err != nil || parsed.Status != xadhoc.StatusCompleted || parsed.Form == nil {
		t.Fatalf("s2s-list: %s (%v)", cmd, err)
	}
	links, err := adhoc.ParseLinks(parsed.Form)
	if err != nil {
		t.Fatal(err)
	}
	for _, incoming := range []bool{false, true} {
		if !slices.ContainsFunc(links, func(l module.FederationLink) bool {
			return l.Remote == "b.example" && l.Local == "a.example" && l.Incoming == incoming && l.Auth == wantAuth &&
				l.State == "ready" && strings.HasPrefix(l.TLS, "TLS 1.") && !l.Since.IsZero()
		}) {
			t.Fatalf("s2s-list (incoming %v) lacks b.example: %+v", incoming, links)
		}
	}

	// Blocking (XEP-0191): bob blocks alice; her message is refused with
	// <service-unavailable/> and reaches none of his resources; his to
	// her is refused locally with <blocked/>.
	iqOK(t, bob, stanza.TypeSet, "", stanza.New(nsBlocking, "block").Append(stanza.New(nsBlocking, "item", "jid", "alice@a.example")))
	xmpptest.Send(t, alice, stanza.NewMessage(stanza.TypeChat, "bob@b.example", "are you there?"))
	refused := xmpptest.Expect(t, alice, "the refusal", func(st *stanza.Element) bool {
		return stanza.KindOf(st) == stanza.KindMessage && st.Get("type") == stanza.TypeError && st.From() == "bob@b.example"
	})
	if se := stanza.ParseError(refused); se == nil || se.Condition != stanza.ServiceUnavailable {
		t.Fatalf("the refusal: %s", refused)
	}
	noMessageWith(t, bob, "are you there?", 300*time.Millisecond)
	xmpptest.Send(t, bob, stanza.NewMessage(stanza.TypeChat, "alice@a.example", "psst"))
	blocked := xmpptest.Expect(t, bob, "the error for a blocked recipient", func(st *stanza.Element) bool {
		return stanza.KindOf(st) == stanza.KindMessage && st.Get("type") == stanza.TypeError
	})
	if se := stanza.ParseError(blocked); se == nil || se.Condition != stanza.NotAcceptable || se.App == nil || se.App.Name.Space != blocking.NSErrors {
		t.Fatalf("bob's message to alice: %s", blocked)
	}
	noMessageWith(t, alice, "psst", 300*time.Millisecond)
}

// TestFederationCrossesDialback: everything crosses between two servers
// authenticated with Server Dialback.
func TestFederationCrossesDialback(t *testing.T) { testCrosses(t, nil, "dialback") }

// TestFederationCrossesExternal: everything crosses between two servers
// authenticated with SASL EXTERNAL.
func TestFederationCrossesExternal(t *testing.T) { testCrosses(t, testca.New(t), "SASL EXTERNAL") }

// TestFederationShutdown: a server that stops tells remote contacts its
// users went offline before it closes its links.
func TestFederationShutdown(t *testing.T) {
	pa, pb := xmpptest.FreePort(t), xmpptest.FreePort(t)
	a := federated(t, "a.example", pa, "b.example", pb, nil)
	b := federated(t, "b.example", pb, "a.example", pa, nil)
	aliceJID := a.AddUser(t, "alice", "pw")
	bobJID := b.AddUser(t, "bob", "pw")
	crossFriends(t, a, aliceJID, b, bobJID)
	bob := login(t, b, "bob", nil)
	resources := []string{"desk", "phone", "tablet", "laptop"}
	for _, r := range resources {
		alice := online(t, a, "alice", r, nil)
		xmpptest.Expect(t, bob, "alice's presence", isPresence(alice.JID().String(), ""))
		xmpptest.Expect(t, alice, "bob's presence", isPresence(bob.JID().String(), ""))
	}

	stopCtx := xmpptest.Context(t, 10*time.Second)
	a.App.Stop(stopCtx)
	if stopCtx.Err() != nil {
		t.Fatal("a.example took too long to stop")
	}
	// In any order: the sessions end concurrently.
	gone := map[string]bool{}
	for range resources {
		st := xmpptest.Expect(t, bob, "alice's unavailable presences at a.example's shutdown", func(st *stanza.Element) bool {
			return stanza.KindOf(st) == stanza.KindPresence && st.Get("type") == "unavailable" && strings.HasPrefix(st.From(), "alice@a.example/")
		})
		gone[st.From()] = true
	}
	for _, r := range resources {
		if !gone["alice@a.example/"+r] {
			t.Fatalf("no unavailable presence from alice@a.example/%s: %v", r, gone)
		}
	}
}

// TestFederationShutdownNewLink: a server that stops with no link open
// to a contact's server (it closed idle) makes one to send its users'
// unavailable presence, and still answers the dialback verification the
// peer makes while it does.
func TestFederationShutdownNewLink(t *testing.T) {
	pa, pb := xmpptest.FreePort(t), xmpptest.FreePort(t)
	idle := func(c *config.Config) { c.S2S.IdleTimeout = 100 * time.Millisecond }
	a := federatedWith(t, "a.example", pa, map[string]int{"b.example": pb}, nil, idle)
	b := federated(t, "b.example", pb, "a.example", pa, nil)
	aliceJID := a.AddUser(t, "alice", "pw")
	bobJID := b.AddUser(t, "bob", "pw")
	crossFriends(t, a, aliceJID, b, bobJID)
	bob := login(t, b, "bob", nil)
	alice := login(t, a, "alice", nil)
	xmpptest.Expect(t, bob, "alice's presence", isPresence(alice.JID().String(), ""))
	xmpptest.Eventually(t, "a.example's idle link to b.example closed", func() bool { return len(a.App.S2S().Links()) == 0 })

	stopCtx := xmpptest.Context(t, 10*time.Second)
	a.App.Stop(stopCtx)
	if stopCtx.Err() != nil {
		t.Fatal("a.example took too long to stop")
	}
	xmpptest.Expect(t, bob, "alice's unavailable presence at a.example's shutdown", isPresence(alice.JID().String(), "unavailable"))
}

// TestFederationAllowList: a server with an allow-list federates with the
// listed domain only: nothing reaches out to another domain, and nothing
// comes in from it.
func TestFederationAllowList(t *testing.T) {
	pa, pb, pc := xmpptest.FreePort(t), xmpptest.FreePort(t), xmpptest.FreePort(t)
	allowB := func(c *config.Config) { c.S2S.Allow = []string{"b.example"} }
	a := federatedWith(t, "a.example", pa, map[string]int{"b.example": pb, "c.example": pc}, nil, allowB)
	b := federated(t, "b.example", pb, "a.example", pa, nil)
	c := federated(t, "c.example", pc, "a.example", pa, nil)
	a.AddUser(t, "alice", "pw")
	b.AddUser(t, "bob", "pw")
	c.AddUser(t, "carol", "pw")
	alice, bob, carol := login(t, a, "alice", nil), login(t, b, "bob", nil), login(t, c, "carol", nil)

	// The listed domain: both ways.
	xmpptest.Send(t, alice, stanza.NewMessage(stanza.TypeChat, "bob@b.example", "allowed"))
	xmpptest.Expect(t, bob, "alice's message", hasBody(stanza.TypeChat, "allowed"))
	xmpptest.Send(t, bob, stanza.NewMessage(stanza.TypeChat, "alice@a.example", "allowed too"))
	xmpptest.Expect(t, alice, "bob's message", hasBody(stanza.TypeChat, "allowed too"))

	// Out: refused at once, no link made.
	xmpptest.Send(t, alice, stanza.NewMessage(stanza.TypeChat, "carol@c.example", "out"))
	wantBounce(t, alice, "carol@c.example", stanza.RemoteServerNotFound)
	if links := a.App.S2S().Links(); slices.ContainsFunc(links, func(l s2s.LinkInfo) bool { return l.Remote == "c.example" }) {
		t.Fatalf("a.example made a link to c.example: %+v", links)
	}
	// In: c.example cannot authenticate with a.example; carol's message
	// bounces and alice gets nothing.
	xmpptest.Send(t, carol, stanza.NewMessage(stanza.TypeChat, "alice@a.example", "in"))
	wantBounce(t, carol, "alice@a.example", stanza.RemoteServerNotFound)
	noMessageWith(t, alice, "in", 300*time.Millisecond)
}

// wantBounce waits for the error reply to a message c sent to to.
func wantBounce(t *testing.T, c *client.Client, to string, cond stanza.Condition) {
	t.Helper()
	e := xmpptest.Expect(t, c, "the bounce from "+to, func(st *stanza.Element) bool {
		return stanza.KindOf(st) == stanza.KindMessage && st.Get("type") == stanza.TypeError && st.From() == to
	})
	if se := stanza.ParseError(e); se == nil || se.Condition != cond {
		t.Fatalf("bounce from %s: %s, want <%s/>", to, e, cond)
	}
}
