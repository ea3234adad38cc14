package component_test

import (
	"context"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/privilege"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

// serverWith starts a server with components: gw.localhost granted p and
// delegations, and plain.localhost granted nothing.
func serverWith(t *testing.T, p config.Privileges, delegations ...string) (*xmpptest.Server, string) {
	t.Helper()
	s := xmpptest.NewServer(t, func(c *config.Config) {
		c.Components = []config.Component{
			{Domain: "gw.localhost", Secret: secret, Privileges: p, Delegations: delegations},
			{Domain: "plain.localhost", Secret: secret},
		}
		c.Listeners = append(c.Listeners, config.Listener{Type: config.ListenerComponent, Address: "127.0.0.1:0"})
	})
	return s, s.App.Addrs(config.ListenerComponent)[0].String()
}

// up connects and authenticates a component.
func up(t *testing.T, addr, domain string) *comp {
	t.Helper()
	c := connect(t, addr, domain)
	if el := c.handshake(secret); el.Name.Local != "handshake" {
		t.Fatalf("%s handshake: %s", domain, el)
	}
	return c
}

// expect reads until a stanza matches.
func (p *comp) expect(what string, match func(*stanza.Element) bool) *stanza.Element {
	p.t.Helper()
	for {
		el, err := p.dec.Next()
		if err != nil {
			p.t.Fatalf("waiting for %s: %v", what, err)
		}
		if match(el) {
			return el
		}
	}
}

func (p *comp) send(xml string) {
	p.t.Helper()
	if _, err := p.conn.Write([]byte(xml)); err != nil {
		p.t.Fatal(err)
	}
}

// reply waits for the answer to the IQ with id.
func (p *comp) reply(id string) *stanza.Element {
	p.t.Helper()
	return p.expect("the answer to "+id, func(el *stanza.Element) bool {
		return el.Name.Local == "iq" && el.ID() == id && !el.IsRequest()
	})
}

func errCondition(el *stanza.Element) stanza.Condition {
	if e := stanza.ParseError(el); e != nil {
		return e.Condition
	}
	return ""
}

func online(t *testing.T, s *xmpptest.Server, local string) *client.Client {
	t.Helper()
	s.AddUser(t, local, "pw")
	c := s.Client(t, local, "pw", "desk")
	xmpptest.Send(t, c, stanza.New(stanza.NSClient, "presence"))
	xmpptest.Sync(t, c)
	return c
}

func TestPrivilegesAdvertised(t *testing.T) {
	_, addr := serverWith(t, config.Privileges{Roster: "both", RosterPush: true, Message: "outgoing", Presence: "managed_entity",
		IQ: map[string]string{"urn:xmpp:ping": "get"}}, "urn:xmpp:mam:2")
	gw := up(t, addr, "gw.localhost")
	adv := gw.next()
	if adv.Name.Local != "message" || adv.From() != "localhost" || adv.To() != "gw.localhost" {
		t.Fatalf("first stanza: %s", adv)
	}
	g, err := privilege.ParseGrants(adv.Child(privilege.NS, "privilege"))
	if err != nil || g.Roster != privilege.Both || !g.RosterPush || !g.Message || g.Presence != privilege.PresenceManaged || g.IQ["urn:xmpp:ping"] != privilege.Get {
		t.Fatalf("advertised %+v (%v) in %s", g, err, adv)
	}
	del := gw.next()
	if ns := privilege.ParseDelegation(del.Child(privilege.NSDelegation, "delegation")); len(ns) != 1 || ns[0] != "urn:xmpp:mam:2" {
		t.Fatalf("delegation advertisement: %s", del)
	}
	// A component granted nothing is told nothing: the first stanza it
	// gets is the answer to its own ping.
	plain := up(t, addr, "plain.localhost")
	plain.send("<iq type='get' id='p1' from='plain.localhost' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
	if el := plain.next(); el.ID() != "p1" {
		t.Fatalf("plain.localhost got %s", el)
	}
}

func TestRosterPrivilege(t *testing.T) {
	s, addr := serverWith(t, config.Privileges{Roster: "both", RosterPush: true, Message: "none", Presence: "none"})
	alice := online(t, s, "alice")
	pushed := make(chan *stanza.Element, 4)
	alice.Handle(stanza.KindIQ, xml.Name{Space: "jabber:iq:roster", Local: "query"}, func(iq *stanza.Element) {
		pushed <- iq
		_ = alice.Send(context.Background(), stanza.Result(iq, nil))
	})
	if _, err := alice.SendIQ(xmpptest.Context(t, xmpptest.Wait), stanza.NewIQ(stanza.TypeGet, "", "", stanza.New("jabber:iq:roster", "query"))); err != nil {
		t.Fatal(err)
	}
	gw := up(t, addr, "gw.localhost")
	gw.next() // the advertisement

	// The component adds an item to alice's roster, as alice would.
	gw.send("<iq type='set' id='r1' from='gw.localhost' to='alice@localhost'><query xmlns='jabber:iq:roster'><item jid='bob@gw.localhost' name='Bob (IRC)'><group>IRC</group></item></query></iq>")
	// It gets the roster push of alice's roster (§4.4), from her bare JID.
	push := gw.expect("the roster push", func(el *stanza.Element) bool { return el.Name.Local == "iq" && el.Type() == stanza.TypeSet })
	if push.From() != "alice@localhost" || !strings.Contains(push.String(), "bob@gw.localhost") {
		t.Fatalf("push: %s", push)
	}
	gw.send("<iq type='result' id='" + push.ID() + "' from='gw.localhost' to='alice@localhost'/>")
	if r := gw.reply("r1"); r.Type() != stanza.TypeResult || r.From() != "alice@localhost" {
		t.Fatalf("roster set: %s", r)
	}
	// Alice's interested resource gets the push too.
	if p := <-pushed; !strings.Contains(p.String(), "Bob (IRC)") {
		t.Fatalf("alice's push: %s", p)
	}
	gw.send("<iq type='get' id='r2' from='gw.localhost' to='alice@localhost'><query xmlns='jabber:iq:roster'/></iq>")
	if r := gw.reply("r2"); r.Type() != stanza.TypeResult || !strings.Contains(r.String(), "bob@gw.localhost") || !strings.Contains(r.String(), "<group>IRC</group>") {
		t.Fatalf("roster get: %s", r)
	}
	// A component without the roster privilege gets <forbidden/>, for a
	// get and for a set, and alice's roster is unchanged.
	plain := up(t, addr, "plain.localhost")
	plain.send("<iq type='get' id='n1' from='plain.localhost' to='alice@localhost'><query xmlns='jabber:iq:roster'/></iq>")
	if r := plain.reply("n1"); errCondition(r) != stanza.Forbidden {
		t.Fatalf("unprivileged roster get: %s", r)
	}
	plain.send("<iq type='set' id='n2' from='plain.localhost' to='alice@localhost'><query xmlns='jabber:iq:roster'><item jid='eve@plain.localhost'/></query></iq>")
	if r := plain.reply("n2"); errCondition(r) != stanza.Forbidden {
		t.Fatalf("unprivileged roster set: %s", r)
	}
	res, err := alice.SendIQ(xmpptest.Context(t, xmpptest.Wait), stanza.NewIQ(stanza.TypeGet, "", "", stanza.New("jabber:iq:roster", "query")))
	if err != nil || strings.Contains(res.String(), "eve@") || !strings.Contains(res.String(), "bob@gw.localhost") {
		t.Fatalf("alice's roster: %s %v", res, err)
	}
	// Never for another domain's users: the request leaves for that
	// domain (here unreachable) instead of reading a local roster.
	gw.send("<iq type='get' id='r3' from='gw.localhost' to='carol@elsewhere.example'><query xmlns='jabber:iq:roster'/></iq>")
	if r := gw.reply("r3"); r.Type() != stanza.TypeError {
		t.Fatalf("roster of a foreign user: %s", r)
	}
}

func TestRosterGetOnly(t *testing.T) {
	s, addr := serverWith(t, config.Privileges{Roster: "get", Message: "none", Presence: "none"})
	s.AddUser(t, "alice", "pw")
	gw := up(t, addr, "gw.localhost")
	gw.next()
	gw.send("<iq type='get' id='g' from='gw.localhost' to='alice@localhost'><query xmlns='jabber:iq:roster'/></iq>")
	if r := gw.reply("g"); r.Type() != stanza.TypeResult {
		t.Fatalf("get with get access: %s", r)
	}
	gw.send("<iq type='set' id='s' from='gw.localhost' to='alice@localhost'><query xmlns='jabber:iq:roster'><item jid='x@gw.localhost'/></query></iq>")
	if r := gw.reply("s"); errCondition(r) != stanza.Forbidden {
		t.Fatalf("set with get access: %s", r)
	}
}

func TestMessagePrivilege(t *testing.T) {
	s, addr := serverWith(t, config.Privileges{Roster: "none", Message: "outgoing", Presence: "none"})
	bob := online(t, s, "bob")
	s.AddUser(t, "alice", "pw")
	gw := up(t, addr, "gw.localhost")
	gw.next()
	fwd := func(from, body string) string {
		return "<message from='gw.localhost' to='localhost' id='m-" + body + "'><privilege xmlns='urn:xmpp:privilege:2'><forwarded xmlns='urn:xmpp:forward:0'>" +
			"<message xmlns='jabber:client' from='" + from + "' to='bob@localhost' type='chat'><body>" + body + "</body></message></forwarded></privilege></message>"
	}
	gw.send(fwd("alice@localhost", "from-alice"))
	if m := xmpptest.NextMessage(t, bob); m.From() != "alice@localhost" || m.ChildText(stanza.NSClient, "body") != "from-alice" {
		t.Fatalf("bob got %s", m)
	}
	// Refused with <forbidden/>: a full JID, another domain's user.
	for _, from := range []string{"alice@localhost/desk", "mallory@elsewhere.example"} {
		gw.send(fwd(from, "bad"))
		if el := gw.expect("the refusal", func(el *stanza.Element) bool { return el.Name.Local == "message" }); errCondition(el) != stanza.Forbidden {
			t.Fatalf("privileged message from %s: %s", from, el)
		}
	}
	// A component without the message privilege.
	plain := up(t, addr, "plain.localhost")
	plain.send(strings.ReplaceAll(fwd("alice@localhost", "plain"), "gw.localhost", "plain.localhost"))
	if el := plain.expect("the refusal", func(el *stanza.Element) bool { return el.Name.Local == "message" }); errCondition(el) != stanza.Forbidden {
		t.Fatalf("unprivileged message: %s", el)
	}
	xmpptest.Send(t, bob, stanza.NewMessage(stanza.TypeChat, "bob@localhost", "marker"))
	if m := xmpptest.NextMessage(t, bob); m.ChildText(stanza.NSClient, "body") != "marker" {
		t.Fatalf("bob got %s after the refused ones", m)
	}
}

func TestPresencePrivilege(t *testing.T) {
	s, addr := serverWith(t, config.Privileges{Roster: "none", Message: "none", Presence: "managed_entity"})
	bob := online(t, s, "bob")
	gw := up(t, addr, "gw.localhost")
	gw.next()
	// Bob was available before the component connected: it gets his
	// presence all the same (§9 rule 1).
	if p := gw.expect("bob's presence", func(el *stanza.Element) bool { return el.Name.Local == "presence" }); p.From() != bob.JID().String() || p.Type() != "" {
		t.Fatalf("gw got %s", p)
	}
	alice := online(t, s, "alice")
	if p := gw.expect("alice's presence", func(el *stanza.Element) bool { return el.Name.Local == "presence" }); p.From() != alice.JID().String() || p.Type() != "" {
		t.Fatalf("gw got %s", p)
	}
	xmpptest.Send(t, alice, stanza.New(stanza.NSClient, "presence", "type", "unavailable"))
	if p := gw.expect("alice's unavailable", func(el *stanza.Element) bool { return el.Name.Local == "presence" }); p.From() != alice.JID().String() || p.Type() != stanza.TypeUnavailable {
		t.Fatalf("gw got %s", p)
	}
	// A component without the presence privilege gets nothing: its
	// first stanza is the answer to its ping.
	plain := up(t, addr, "plain.localhost")
	xmpptest.Send(t, alice, stanza.New(stanza.NSClient, "presence"))
	xmpptest.Sync(t, alice)
	plain.send("<iq type='get' id='p1' from='plain.localhost' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
	if el := plain.next(); el.ID() != "p1" {
		t.Fatalf("plain.localhost got %s", el)
	}
}

func TestIQPrivilege(t *testing.T) {
	s, addr := serverWith(t, config.Privileges{Roster: "none", Message: "none", Presence: "none", IQ: map[string]string{"urn:xmpp:ping": "get"}})
	s.AddUser(t, "alice", "pw")
	gw := up(t, addr, "gw.localhost")
	gw.next()
	gw.send("<iq type='get' id='pi1' from='gw.localhost' to='alice@localhost'><privileged_iq xmlns='urn:xmpp:privilege:2'>" +
		"<iq xmlns='jabber:client' type='get' id='inner1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq></privileged_iq></iq>")
	r := gw.reply("pi1")
	if r.Type() != stanza.TypeResult || r.From() != "alice@localhost" {
		t.Fatalf("privileged IQ: %s", r)
	}
	inner, err := privilege.Forwarded(r, privilege.NS)
	if err != nil || inner.ID() != "inner1" || inner.Type() != stanza.TypeResult || inner.From() != "localhost" || inner.To() != "alice@localhost" {
		t.Fatalf("forwarded answer %s (%v)", r, err)
	}
	for _, tc := range []struct{ name, inner string }{
		{"namespace not granted", "<iq xmlns='jabber:client' type='get' id='x'><query xmlns='jabber:iq:version'/></iq>"},
		{"type not granted", "<iq xmlns='jabber:client' type='set' id='x'><ping xmlns='urn:xmpp:ping'/></iq>"},
		{"from someone else", "<iq xmlns='jabber:client' type='get' id='x' from='bob@localhost'><ping xmlns='urn:xmpp:ping'/></iq>"},
		{"not jabber:client", "<iq xmlns='urn:example' type='get' id='x'><ping xmlns='urn:xmpp:ping'/></iq>"},
	} {
		gw.send("<iq type='get' id='" + tc.name + "' from='gw.localhost' to='alice@localhost'><privileged_iq xmlns='urn:xmpp:privilege:2'>" + tc.inner + "</privileged_iq></iq>")
		if r := gw.reply(tc.name); errCondition(r) != stanza.Forbidden {
			t.Errorf("%s: %s", tc.name, r)
		}
	}
	plain := up(t, addr, "plain.localhost")
	plain.send("<iq type='get' id='pp' from='plain.localhost' to='alice@localhost'><privileged_iq xmlns='urn:xmpp:privilege:2'>" +
		"<iq xmlns='jabber:client' type='get' id='inner1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq></privileged_iq></iq>")
	if r := plain.reply("pp"); errCondition(r) != stanza.Forbidden {
		t.Fatalf("unprivileged privileged IQ: %s", r)
	}
}

// TestRosterPresencePrivilege: with presence "roster", the component
// also gets the presence the users receive from the contacts they are
// subscribed to, here a contact of another component's domain.
func TestRosterPresencePrivilege(t *testing.T) {
	s, addr := serverWith(t, config.Privileges{Roster: "get", Message: "none", Presence: "roster"})
	alice := online(t, s, "alice")
	gw := up(t, addr, "gw.localhost")
	gw.next()
	plain := up(t, addr, "plain.localhost")
	xmpptest.Send(t, alice, stanza.New(stanza.NSClient, "presence", "type", "subscribe", "to", "carol@plain.localhost"))
	plain.expect("alice's subscribe", isPresence("subscribe", "alice@localhost", "carol@plain.localhost"))
	plain.send("<presence type='subscribed' from='carol@plain.localhost' to='alice@localhost'/>")
	plain.send("<presence from='carol@plain.localhost/x' to='alice@localhost'><status>here</status></presence>")
	xmpptest.Expect(t, alice, "carol's presence", isPresence("", "carol@plain.localhost/x", ""))
	p := gw.expect("carol's presence", isPresence("", "carol@plain.localhost/x", "gw.localhost"))
	if p.ChildText("", "status") != "here" {
		t.Fatalf("gw got %s", p)
	}
	// Presence from someone alice is not subscribed to is hers only.
	plain.send("<presence from='dave@plain.localhost/x' to='alice@localhost'/>")
	xmpptest.Expect(t, alice, "dave's presence", isPresence("", "dave@plain.localhost/x", ""))
	plain.send("<presence type='unavailable' from='carol@plain.localhost/x' to='alice@localhost'/>")
	if p := gw.expect("a presence", func(el *stanza.Element) bool { return el.Name.Local == "presence" && el.From() != alice.JID().String() }); p.From() != "carol@plain.localhost/x" || p.Type() != stanza.TypeUnavailable {
		t.Fatalf("gw got %s, want carol's unavailable (and never dave's)", p)
	}
}

// TestPrivilegedMessageIsTheUsers: a message a component sends in a
// user's name is the user's: her other resources get a carbon of it
// (XEP-0280 §6), as for what she sends herself.
func TestPrivilegedMessageIsTheUsers(t *testing.T) {
	s, addr := serverWith(t, config.Privileges{Message: "outgoing"})
	alice := online(t, s, "alice")
	if _, err := alice.SendIQ(xmpptest.Context(t, xmpptest.Wait), stanza.NewIQ(stanza.TypeSet, "", "", stanza.New("urn:xmpp:carbons:2", "enable"))); err != nil {
		t.Fatal(err)
	}
	gw := up(t, addr, "gw.localhost")
	gw.next()
	gw.send("<message from='gw.localhost' to='localhost'><privilege xmlns='urn:xmpp:privilege:2'><forwarded xmlns='urn:xmpp:forward:0'>" +
		"<message xmlns='jabber:client' from='alice@localhost' to='bob@gw.localhost' type='chat' id='irc1'><body>sent on IRC</body></message></forwarded></privilege></message>")
	// The message goes where it is addressed...
	if m := gw.expect("the message", func(el *stanza.Element) bool { return el.Name.Local == "message" }); m.From() != "alice@localhost" || m.To() != "bob@gw.localhost" {
		t.Fatalf("gw got %s", m)
	}
	// ...and alice's resource gets a sent carbon.
	c := xmpptest.NextMessage(t, alice)
	sent := c.Child("urn:xmpp:carbons:2", "sent")
	if sent == nil || !strings.Contains(sent.String(), "sent on IRC") {
		t.Fatalf("alice got %s", c)
	}
	// ...and it is in her archive (XEP-0313) as sent by her.
	done := ask(t, alice, stanza.NewIQ(stanza.TypeSet, "mam1", "", stanza.New("urn:xmpp:mam:2", "query", "queryid", "q1")))
	r := xmpptest.NextMessage(t, alice)
	res := r.Child("urn:xmpp:mam:2", "result")
	if res == nil || !strings.Contains(res.String(), "sent on IRC") || !strings.Contains(res.String(), `from="alice@localhost"`) {
		t.Fatalf("alice's archive: %s", r)
	}
	if d := <-done; d.err != nil {
		t.Fatalf("MAM query: %v", d.err)
	}
}

// TestRosterPresenceOnce: a contact's presence that several users
// receive reaches the component once (XEP-0356 §9 rule 2).
func TestRosterPresenceOnce(t *testing.T) {
	s, addr := serverWith(t, config.Privileges{Roster: "get", Message: "none", Presence: "roster"})
	alice, bob := online(t, s, "alice"), online(t, s, "bob")
	gw := up(t, addr, "gw.localhost")
	gw.next()
	plain := up(t, addr, "plain.localhost")
	for _, c := range []*client.Client{alice, bob} {
		u := c.JID().Bare().String()
		xmpptest.Send(t, c, stanza.New(stanza.NSClient, "presence", "type", "subscribe", "to", "carol@plain.localhost"))
		plain.expect(u+"'s subscribe", isPresence("subscribe", u, "carol@plain.localhost"))
		plain.send("<presence type='subscribed' from='carol@plain.localhost' to='" + u + "'/>")
	}
	for _, u := range []string{"alice", "bob"} {
		plain.send("<presence from='carol@plain.localhost/x' to='" + u + "@localhost'><show>away</show></presence>")
	}
	plain.send("<presence from='carol@plain.localhost/x' to='alice@localhost'><show>dnd</show></presence>")
	isCarol := func(el *stanza.Element) bool {
		return el.Name.Local == "presence" && el.From() == "carol@plain.localhost/x"
	}
	if p := gw.expect("carol's presence", isCarol); p.ChildText("", "show") != "away" {
		t.Fatalf("gw got %s", p)
	}
	if p := gw.expect("carol's next presence", isCarol); p.ChildText("", "show") != "dnd" {
		t.Fatalf("gw got %s, want carol's dnd (and her away once)", p)
	}
}
