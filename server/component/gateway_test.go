package component_test

import (
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

// A gateway (XEP-0100) is a component: what it needs from the server is
// XEP-0114 routing and RFC 6121 rosters and presence with its JIDs.

// TestGatewayRegistrationPassesThrough: jabber:iq:register (XEP-0100
// §4.1) and jabber:iq:gateway (XEP-0100 §6.3) requests to the
// gateway reach it as the user sent them, and its answers reach the
// user; the server answers none of them itself.
func TestGatewayRegistrationPassesThrough(t *testing.T) {
	s, addr := server(t)
	alice := online(t, s, "alice")
	gw := up(t, addr, "gw.localhost")
	for _, tc := range []struct{ typ, payload, answer string }{
		{"get", "<query xmlns='jabber:iq:register'/>",
			"<query xmlns='jabber:iq:register'><instructions>IRC nick and password</instructions><username/><password/></query>"},
		{"set", "<query xmlns='jabber:iq:register'><username>alice_irc</username><password>pw</password></query>", ""},
		{"set", "<query xmlns='jabber:iq:register'><remove/></query>", ""},
		{"get", "<query xmlns='jabber:iq:gateway'/>",
			"<query xmlns='jabber:iq:gateway'><desc>Enter the IRC nick</desc><prompt>Nick</prompt></query>"},
		{"set", "<query xmlns='jabber:iq:gateway'><prompt>bob</prompt></query>",
			"<query xmlns='jabber:iq:gateway'><jid>bob@gw.localhost</jid></query>"},
	} {
		payload := xmpptest.Parse(t, tc.payload)
		id := payload.Name.Space + "-" + tc.typ + "-" + payload.Text()
		got := ask(t, alice, stanza.NewIQ(tc.typ, id, "gw.localhost", payload))
		in := gw.expect(id, func(el *stanza.Element) bool { return el.Name.Local == "iq" && el.ID() == id })
		if in.From() != alice.JID().String() || in.Type() != tc.typ || in.Payload() == nil || in.Payload().String() != payload.String() {
			t.Fatalf("%s: the gateway got %s, want the payload %s", id, in, payload)
		}
		gw.send("<iq type='result' id='" + id + "' from='gw.localhost' to='" + alice.JID().String() + "'>" + tc.answer + "</iq>")
		r := <-got
		if r.err != nil || r.res.From() != "gw.localhost" || (tc.answer != "" && r.res.Child(payload.Name.Space, "query") == nil) {
			t.Fatalf("%s: alice got %v %v", id, r.res, r.err)
		}
	}
	// An error the gateway answers reaches the user as it is.
	got := ask(t, alice, stanza.NewIQ(stanza.TypeSet, "reg-bad", "gw.localhost", xmpptest.Parse(t, "<query xmlns='jabber:iq:register'><username>x</username></query>")))
	gw.expect("reg-bad", func(el *stanza.Element) bool { return el.ID() == "reg-bad" })
	gw.send("<iq type='error' id='reg-bad' from='gw.localhost' to='" + alice.JID().String() + "'><error type='modify'><not-acceptable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>")
	if r := <-got; r.err == nil || !strings.Contains(r.err.Error(), "not-acceptable") {
		t.Fatalf("gateway error: %v %v", r.res, r.err)
	}
}

func isPresence(typ, from, to string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool {
		return el.Name.Local == "presence" && el.Type() == typ && (from == "" || el.From() == from) && (to == "" || el.To() == to)
	}
}

// TestGatewaySubscriptions runs XEP-0100 §4.1's subscription dance and
// §5's contact subscriptions against the server's RFC 6121 rules: the
// user subscribes to the gateway and the gateway to the user, the
// gateway subscribes to the user for a legacy contact, and presence
// then flows both ways, broadcast and probed.
func TestGatewaySubscriptions(t *testing.T) {
	s, addr := server(t)
	alice := online(t, s, "alice")
	gw := up(t, addr, "gw.localhost")
	me := alice.JID().String()

	// XEP-0100 §4.1 steps 8-11: alice subscribes to the gateway, which accepts
	// and subscribes back; alice accepts.
	xmpptest.Send(t, alice, stanza.New(stanza.NSClient, "presence", "type", "subscribe", "to", "gw.localhost"))
	gw.expect("alice's subscribe", isPresence("subscribe", "alice@localhost", "gw.localhost"))
	gw.send("<presence type='subscribed' from='gw.localhost' to='alice@localhost'/>")
	gw.send("<presence from='gw.localhost' to='alice@localhost'/>")
	xmpptest.Expect(t, alice, "the gateway's presence", isPresence("", "gw.localhost", ""))
	gw.send("<presence type='subscribe' from='gw.localhost' to='alice@localhost'/>")
	xmpptest.Expect(t, alice, "the gateway's subscribe", isPresence("subscribe", "gw.localhost", ""))
	xmpptest.Send(t, alice, stanza.New(stanza.NSClient, "presence", "type", "subscribed", "to", "gw.localhost"))
	gw.expect("alice's subscribed", isPresence("subscribed", "alice@localhost", "gw.localhost"))
	// RFC 6121 §3.1.5: on approval the server sends the user's presence.
	gw.expect("alice's presence after approval", isPresence("", me, "gw.localhost"))

	// XEP-0100 §5.1: a legacy contact asks to be in alice's roster; the gateway
	// sends subscribe from the contact's JID.
	gw.send("<presence type='subscribe' from='bob@gw.localhost' to='alice@localhost'><nick xmlns='http://jabber.org/protocol/nick'>Bob</nick></presence>")
	xmpptest.Expect(t, alice, "bob's subscribe", isPresence("subscribe", "bob@gw.localhost", ""))
	xmpptest.Send(t, alice, stanza.New(stanza.NSClient, "presence", "type", "subscribed", "to", "bob@gw.localhost"))
	xmpptest.Send(t, alice, stanza.New(stanza.NSClient, "presence", "type", "subscribe", "to", "bob@gw.localhost"))
	gw.expect("alice's subscribed to bob", isPresence("subscribed", "alice@localhost", "bob@gw.localhost"))
	gw.expect("alice's subscribe to bob", isPresence("subscribe", "alice@localhost", "bob@gw.localhost"))
	gw.send("<presence type='subscribed' from='bob@gw.localhost' to='alice@localhost'/>")
	gw.send("<presence from='bob@gw.localhost/irc' to='alice@localhost'><show>away</show></presence>")
	xmpptest.Expect(t, alice, "bob's presence", isPresence("", "bob@gw.localhost/irc", ""))

	// alice's roster holds both gateway JIDs with subscription both.
	res, err := alice.SendIQ(xmpptest.Context(t, xmpptest.Wait), stanza.NewIQ(stanza.TypeGet, "", "", stanza.New("jabber:iq:roster", "query")))
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range []string{"gw.localhost", "bob@gw.localhost"} {
		found := false
		for _, it := range res.Payload().Elements() {
			if it.Get("jid") == j {
				found = true
				if it.Get("subscription") != "both" {
					t.Errorf("%s: %s", j, it)
				}
			}
		}
		if !found {
			t.Errorf("%s not in alice's roster: %s", j, res)
		}
	}

	// Broadcast presence reaches both gateway JIDs (RFC 6121 §4.4.2).
	xmpptest.Send(t, alice, xmpptest.Parse(t, "<presence xmlns='jabber:client'><show>dnd</show></presence>"))
	want := map[string]bool{"gw.localhost": true, "bob@gw.localhost": true}
	for len(want) > 0 {
		p := gw.expect("alice's broadcast", func(el *stanza.Element) bool { return isPresence("", me, "")(el) && want[el.To()] })
		if p.ChildText("", "show") != "dnd" {
			t.Fatalf("gateway got %s", p)
		}
		delete(want, p.To())
	}
	// A new session probes the gateway JIDs (RFC 6121 §4.2.2, XEP-0100 §4.4) and
	// its initial presence reaches them.
	second := s.Client(t, "alice", "pw", "phone")
	xmpptest.Send(t, second, stanza.New(stanza.NSClient, "presence"))
	gw.expect("the probe of gw.localhost", isPresence("probe", "", "gw.localhost"))
	// Unavailable presence at logout reaches them (XEP-0100 §4.5).
	xmpptest.Send(t, alice, stanza.New(stanza.NSClient, "presence", "type", "unavailable"))
	gw.expect("alice's unavailable", isPresence("unavailable", me, "bob@gw.localhost"))

	// Unregistration (XEP-0100 §4.3): the gateway cancels both
	// subscriptions of a contact; the item stays, with subscription none
	// (RFC 6121 §3.2.3, §3.3.3).
	gw.send("<presence type='unsubscribe' from='bob@gw.localhost' to='alice@localhost'/>")
	gw.send("<presence type='unsubscribed' from='bob@gw.localhost' to='alice@localhost'/>")
	// The server answers the contact's unsubscribe with the user's
	// unavailable presence (§3.3.3).
	gw.expect("alice's unavailable to bob", isPresence("unavailable", second.JID().String(), "bob@gw.localhost"))
	// An unsolicited subscribed changes nothing (RFC 6121 §3.1.6). The
	// server handles a component's stanzas in order: once the message
	// sent after it arrives, the subscribed has been handled.
	gw.send("<presence type='subscribed' from='bob@gw.localhost' to='alice@localhost'/>")
	gw.send("<message from='bob@gw.localhost/irc' to='" + second.JID().String() + "' type='chat'><body>after</body></message>")
	if m := xmpptest.NextMessage(t, second); m.ChildText(stanza.NSClient, "body") != "after" {
		t.Fatalf("alice got %s", m)
	}
	res, err = second.SendIQ(xmpptest.Context(t, xmpptest.Wait), stanza.NewIQ(stanza.TypeGet, "", "", stanza.New("jabber:iq:roster", "query")))
	if err != nil || !strings.Contains(res.String(), `jid="bob@gw.localhost" subscription="none"`) {
		t.Fatalf("alice's roster after bob's unregistration: %v %v", res, err)
	}
}

// TestGatewayDirectedPresence: directed presence to the gateway reaches
// it, and so does unavailable presence when the session ends without
// sending it (RFC 6121 §4.6.3).
func TestGatewayDirectedPresence(t *testing.T) {
	s, addr := server(t)
	s.AddUser(t, "alice", "pw")
	alice := s.Client(t, "alice", "pw", "desk")
	gw := up(t, addr, "gw.localhost")
	me := alice.JID().String()
	xmpptest.Send(t, alice, stanza.New(stanza.NSClient, "presence", "to", "gw.localhost"))
	gw.expect("alice's directed presence", isPresence("", me, "gw.localhost"))
	alice.Close()
	gw.expect("alice's unavailable", isPresence("unavailable", me, "gw.localhost"))
}
