package privilege

import (
	"reflect"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// wire writes el and reads it back, as the peer would.
func wire(t *testing.T, el *stanza.Element) *stanza.Element {
	t.Helper()
	return read(t, el.String())
}

// read parses one element of XML text.
func read(t *testing.T, text string) *stanza.Element {
	t.Helper()
	back, err := stream.ParseElement([]byte(text), stream.DefaultLimits())
	if err != nil {
		t.Fatalf("%s: %v", text, err)
	}
	return back
}

func TestAccess(t *testing.T) {
	for _, tc := range []struct {
		a        Access
		get, set bool
	}{{None, false, false}, {Get, true, false}, {Set, false, true}, {Both, true, true}, {"", false, false}} {
		if tc.a.Allows(stanza.TypeGet) != tc.get || tc.a.Allows(stanza.TypeSet) != tc.set || tc.a.Allows(stanza.TypeResult) {
			t.Errorf("%q allows get %v set %v", tc.a, tc.a.Allows(stanza.TypeGet), tc.a.Allows(stanza.TypeSet))
		}
	}
}

func TestGrantsRoundTrip(t *testing.T) {
	for _, g := range []Grants{
		{Roster: Both, RosterPush: true, Message: true, Presence: PresenceRoster, IQ: map[string]Access{"urn:a": Get, "urn:b": Set}},
		{Roster: Get, Presence: PresenceManaged},
		{Roster: None, Presence: PresenceNone},
	} {
		el := wire(t, g.Element())
		got, err := ParseGrants(el)
		if err != nil || !reflect.DeepEqual(got, g) {
			t.Errorf("%s parsed as %+v (%v), want %+v", el, got, err, g)
		}
	}
	// The XEP's example: roster both with pushes, message none, iq, presence roster.
	g, err := ParseGrants(read(t, `<privilege xmlns='urn:xmpp:privilege:2'><perm access='roster' type='both' push='true'/><perm access='message' type='none'/>`+
		`<perm access='iq'><namespace ns='http://jabber.org/protocol/pubsub' type='set'/></perm><perm access='presence' type='roster'/></privilege>`))
	if err != nil || g.Roster != Both || !g.Pushes() || g.Message || g.IQ["http://jabber.org/protocol/pubsub"] != Set || g.Presence != PresenceRoster {
		t.Fatalf("%+v %v", g, err)
	}
	// No pushes without read access, whatever the attribute says (§4.1).
	if (Grants{Roster: Set, RosterPush: true}).Pushes() {
		t.Error("pushes with roster set only")
	}
	if (Grants{Roster: None, Presence: PresenceNone}).Any() || !(Grants{IQ: map[string]Access{"x": Get}}).Any() {
		t.Error("Any")
	}
}

func TestForwarded(t *testing.T) {
	inner := stanza.NewMessage(stanza.TypeChat, "romeo@example.net", "hi")
	inner.Set("from", "juliet@example.com")
	outer := stanza.New(stanza.NSClient, "message", "to", "example.com").Append(Forward(NS, inner))
	got, err := Forwarded(wire(t, outer), NS)
	if err != nil || got.From() != "juliet@example.com" || got.ChildText(stanza.NSClient, "body") != "hi" {
		t.Fatalf("%v %v", got, err)
	}
	if _, err := Forwarded(outer, NSDelegation); err == nil {
		t.Error("a <privilege/> read as a <delegation/>")
	}
	for _, bad := range []string{
		`<message xmlns='jabber:client'><privilege xmlns='urn:xmpp:privilege:2'/></message>`,
		`<message xmlns='jabber:client'><privilege xmlns='urn:xmpp:privilege:2'><forwarded xmlns='urn:xmpp:forward:0'/></privilege></message>`,
		`<message xmlns='jabber:client'><privilege xmlns='urn:xmpp:privilege:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='urn:other'/></forwarded></privilege></message>`,
		`<message xmlns='jabber:client'><privilege xmlns='urn:xmpp:privilege:2'><forwarded xmlns='urn:xmpp:forward:0'><message/><message/></forwarded></privilege></message>`,
	} {
		if _, err := Forwarded(read(t, bad), NS); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
	d := Delegation([]string{"urn:xmpp:mam:2", "urn:a"})
	if ns := ParseDelegation(wire(t, d)); !reflect.DeepEqual(ns, []string{"urn:xmpp:mam:2", "urn:a"}) || !strings.Contains(d.String(), "urn:xmpp:delegation:2") {
		t.Fatalf("%s → %v", d, ns)
	}
}
