package muc_test

import (
	"testing"

	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/disco"
	"github.com/parley-xmpp/parley/xmpp/form"
	"github.com/parley-xmpp/parley/xmpp/muc"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

// disco#items on a room lists its occupants (XEP-0045 §6.5) to its
// occupants and to whoever could enter an open public room, not to an
// outsider of a members-only room; muc#roominfo gives the owners as
// contacts in a non-anonymous room only.
func TestRoomDiscovery(t *testing.T) {
	s := xmpptest.NewServer(t)
	for _, u := range []string{"alice", "bob", "carol"} {
		s.AddUser(t, u, "pw")
	}
	alice := s.Client(t, "alice", "pw", "desk")
	bob := s.Client(t, "bob", "pw", "phone")
	carol := s.Client(t, "carol", "pw", "pc")
	create(t, s, alice, "open", "al", map[string][]string{"muc#roomconfig_whois": {"anyone"}, "muc#roomconfig_roomdesc": {"All welcome"},
		"muc#roomconfig_lang": {"en"}})
	create(t, s, alice, "club", "al", map[string][]string{"muc#roomconfig_membersonly": {"1"}})
	if res := admin(t, s, alice, "club", muc.Item{JID: "bob@" + s.Domain(), Affiliation: "member"}); res.Type() != stanza.TypeResult {
		t.Fatal(res)
	}
	joinSubject(t, s, bob, "open", "bob")
	joinSubject(t, s, bob, "club", "bob")
	list := func(c *client.Client, room string) []string {
		res, err := disco.ParseItems(mustIQ(t, c, stanza.TypeGet, roomJID(s, room, ""), stanza.New(disco.NSItems, "query")).Payload())
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, it := range res.Items {
			out = append(out, it.JID.String())
		}
		return out
	}
	if got := list(carol, "open"); len(got) != 2 || got[0] != roomJID(s, "open", "al") || got[1] != roomJID(s, "open", "bob") {
		t.Fatalf("occupants of an open room to an outsider: %v", got)
	}
	if got := list(carol, "club"); len(got) != 0 {
		t.Fatalf("occupants of a members-only room to an outsider: %v", got)
	}
	if got := list(bob, "club"); len(got) != 2 {
		t.Fatalf("occupants of a members-only room to an occupant: %v", got)
	}

	roominfo := func(room string) *form.Form {
		info, err := disco.ParseInfo(mustIQ(t, carol, stanza.TypeGet, roomJID(s, room, ""), stanza.New(disco.NSInfo, "query")).Payload())
		if err != nil || len(info.Forms) != 1 {
			t.Fatalf("info of %s: %+v (%v)", room, info, err)
		}
		f, err := form.Parse(info.Forms[0])
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	f := roominfo("open")
	if f.Field("muc#roominfo_contactjid") == nil || f.Field("muc#roominfo_contactjid").Value() != "alice@"+s.Domain() ||
		f.Field("muc#roominfo_occupants").Value() != "2" || f.Field("muc#roominfo_description").Value() != "All welcome" ||
		f.Field("muc#roominfo_lang").Value() != "en" || f.Field("muc#roominfo_subject") == nil {
		t.Fatalf("roominfo of a non-anonymous room: %+v", f.Fields)
	}
	if f := roominfo("club"); f.Field("muc#roominfo_contactjid") != nil {
		t.Fatalf("a semi-anonymous room gives its owners away: %+v", f.Field("muc#roominfo_contactjid"))
	}
}

// A direct invitation (XEP-0249) with every attribute the XEP defines
// goes from user to user untouched: the service plays no part.
func TestDirectInvitationUntouched(t *testing.T) {
	s := xmpptest.NewServer(t)
	for _, u := range []string{"alice", "bob"} {
		s.AddUser(t, u, "pw")
	}
	alice := s.Client(t, "alice", "pw", "desk")
	bob := s.Client(t, "bob", "pw", "phone")
	create(t, s, alice, "vault", "al", map[string][]string{"muc#roomconfig_passwordprotectedroom": {"1"}, "muc#roomconfig_roomsecret": {"pass"}})
	x := stanza.New(muc.NSConference, "x", "jid", roomJID(s, "vault", ""), "password", "pass", "reason", "come in",
		"continue", "true", "thread", "e0ffe42b28561960c6b12b944a092794b9683a38")
	xmpptest.Send(t, alice, stanza.NewMessage("", bob.JID().String(), "").Append(x))
	got := xmpptest.Expect(t, bob, "direct invitation", func(st *stanza.Element) bool { return st.Child(muc.NSConference, "x") != nil })
	if g := got.Child(muc.NSConference, "x"); got.From() != alice.JID().String() || string(g.Bytes()) != string(x.Bytes()) {
		t.Fatalf("direct invitation arrived as %s, sent %s", got, x)
	}
}
