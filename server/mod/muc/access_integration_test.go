package muc_test

import (
	"testing"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/disco"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/muc"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

func TestEntryRestrictions(t *testing.T) {
	s := xmpptest.NewServer(t)
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		s.AddUser(t, u, "pw")
	}
	alice := s.Client(t, "alice", "pw", "desk")
	bob := s.Client(t, "bob", "pw", "phone")
	carol := s.Client(t, "carol", "pw", "tab")
	dave := s.Client(t, "dave", "pw", "pc")

	create(t, s, alice, "secret", "al", map[string][]string{
		"muc#roomconfig_passwordprotectedroom": {"1"}, "muc#roomconfig_roomsecret": {"cauldron"},
	})
	if st := join(t, s, bob, "secret", "bob", "", nil); errCond(st) != stanza.NotAuthorized || stanza.ParseError(st).Type != stanza.ErrAuth {
		t.Fatalf("no password: %s", st)
	}
	if st := join(t, s, bob, "secret", "bob", "toad", nil); errCond(st) != stanza.NotAuthorized {
		t.Fatalf("wrong password: %s", st)
	}
	if st := join(t, s, bob, "secret", "bob", "cauldron", nil); st.Type() == stanza.TypeError {
		t.Fatalf("right password: %s", st)
	}
	if res := configure(t, s, alice, "secret", map[string][]string{"muc#roomconfig_passwordprotectedroom": {"1"}, "muc#roomconfig_roomsecret": {""}}); errCond(res) != stanza.NotAcceptable {
		t.Fatalf("a protected room without a password was accepted: %s", res)
	}

	create(t, s, alice, "club", "al", map[string][]string{"muc#roomconfig_membersonly": {"1"}})
	if st := join(t, s, carol, "club", "carol", "", nil); errCond(st) != stanza.RegistrationRequired {
		t.Fatalf("members-only: %s", st)
	}
	if res := admin(t, s, alice, "club", muc.Item{JID: "carol@" + s.Domain(), Affiliation: "member"}); res.Type() != stanza.TypeResult {
		t.Fatal(res)
	}
	if st := join(t, s, carol, "club", "carol", "", nil); st.Type() == stanza.TypeError || item(st).Affiliation != "member" {
		t.Fatalf("member joining: %s", st)
	}
	// Revoking membership of a members-only room removes the occupant
	// with 321.
	if res := admin(t, s, alice, "club", muc.Item{JID: "carol@" + s.Domain(), Affiliation: "none"}); res.Type() != stanza.TypeResult {
		t.Fatal(res)
	}
	if st := xmpptest.Expect(t, carol, "removal", presenceFrom(roomJID(s, "club", "carol"), stanza.TypeUnavailable)); !hasCodes(st, muc.StatusSelf, muc.StatusAffRemoved) {
		t.Fatalf("membership revoked: %s", st)
	}

	create(t, s, alice, "tiny", "al", map[string][]string{"muc#roomconfig_maxusers": {"2"}})
	if st := join(t, s, bob, "tiny", "bob", "", nil); st.Type() == stanza.TypeError {
		t.Fatal(st)
	}
	st := join(t, s, dave, "tiny", "dave", "", nil)
	if errCond(st) != stanza.ServiceUnavailable || stanza.ParseError(st).Type != stanza.ErrWait {
		t.Fatalf("full room: %s", st)
	}

	// Ban: the occupant leaves with 301, and cannot come back.
	if res := admin(t, s, bob, "tiny", muc.Item{JID: "alice@" + s.Domain(), Affiliation: "outcast"}); errCond(res) != stanza.Forbidden {
		t.Fatalf("a participant banned someone: %s", res)
	}
	if res := admin(t, s, alice, "tiny", muc.Item{JID: "bob@" + s.Domain(), Affiliation: "outcast", Reason: "toad"}); res.Type() != stanza.TypeResult {
		t.Fatal(res)
	}
	st = xmpptest.Expect(t, bob, "ban", presenceFrom(roomJID(s, "tiny", "bob"), stanza.TypeUnavailable))
	if !hasCodes(st, muc.StatusSelf, muc.StatusBanned) || item(st).Affiliation != "outcast" || item(st).Reason != "toad" || item(st).Actor != "al" {
		t.Fatalf("ban presence: %s", st)
	}
	if st := xmpptest.Expect(t, alice, "ban seen", presenceFrom(roomJID(s, "tiny", "bob"), stanza.TypeUnavailable)); !hasCodes(st, muc.StatusBanned) {
		t.Fatal(st)
	}
	if st := join(t, s, bob, "tiny", "bob", "", nil); errCond(st) != stanza.Forbidden {
		t.Fatalf("banned user joining: %s", st)
	}
	list := mustIQ(t, alice, stanza.TypeGet, roomJID(s, "tiny", ""), stanza.New(muc.NSAdmin, "query").Append(muc.Item{Affiliation: "outcast"}.Element(muc.NSAdmin)))
	items := list.Payload().ChildrenNamed(muc.NSAdmin, "item")
	if len(items) != 1 || items[0].Get("jid") != "bob@"+s.Domain() || muc.ParseItem(items[0]).Reason != "toad" {
		t.Fatalf("outcast list: %s", list)
	}
	if res := iq(t, dave, stanza.TypeGet, roomJID(s, "tiny", ""), stanza.New(muc.NSAdmin, "query").Append(muc.Item{Affiliation: "outcast"}.Element(muc.NSAdmin))); errCond(res) != stanza.Forbidden {
		t.Fatalf("outsider read the ban list: %s", res)
	}
	// Without <x/>, presence from a non-occupant is not a join.
	xmpptest.Send(t, dave, stanza.New(stanza.NSClient, "presence", "to", roomJID(s, "secret", "dave")))
	if st := xmpptest.Expect(t, dave, "ghost kick", presenceFrom(roomJID(s, "secret", "dave"), stanza.TypeUnavailable)); !hasCodes(st, muc.StatusSelf, muc.StatusKicked, muc.StatusTechnicalError) {
		t.Fatalf("presence without <x/>: %s", st)
	}
	// No nickname.
	xmpptest.Send(t, dave, muc.Join(jid.MustParse(roomJID(s, "secret", "")), "", nil))
	if st := xmpptest.Expect(t, dave, "error", func(st *stanza.Element) bool { return st.Type() == stanza.TypeError }); errCond(st) != stanza.JIDMalformed {
		t.Fatalf("join without nick: %s", st)
	}
}

func TestModeration(t *testing.T) {
	s := xmpptest.NewServer(t)
	for _, u := range []string{"alice", "bob", "carol"} {
		s.AddUser(t, u, "pw")
	}
	alice := s.Client(t, "alice", "pw", "desk")
	bob := s.Client(t, "bob", "pw", "phone")
	carol := s.Client(t, "carol", "pw", "tab")
	create(t, s, alice, "stage", "al", map[string][]string{"muc#roomconfig_moderatedroom": {"1"}})
	if st := joinSubject(t, s, bob, "stage", "bob"); item(st).Role != "visitor" {
		t.Fatalf("in a moderated room a newcomer is a visitor: %s", st)
	}
	joinSubject(t, s, carol, "stage", "carol")
	xmpptest.Send(t, bob, groupchat(roomJID(s, "stage", ""), "may I?"))
	if st := xmpptest.Expect(t, bob, "error", func(st *stanza.Element) bool { return st.Type() == stanza.TypeError }); errCond(st) != stanza.Forbidden {
		t.Fatalf("visitor talking: %s", st)
	}
	// Voice for bob.
	if res := admin(t, s, carol, "stage", muc.Item{Nick: "bob", Role: "participant"}); errCond(res) != stanza.Forbidden {
		t.Fatalf("a visitor granted voice: %s", res)
	}
	if res := admin(t, s, alice, "stage", muc.Item{Nick: "bob", Role: "participant"}); res.Type() != stanza.TypeResult {
		t.Fatal(res)
	}
	if st := xmpptest.Expect(t, carol, "voice", presenceFrom(roomJID(s, "stage", "bob"), "")); item(st).Role != "participant" {
		t.Fatalf("voice granted: %s", st)
	}
	xmpptest.Send(t, bob, groupchat(roomJID(s, "stage", ""), "thank you"))
	xmpptest.Expect(t, carol, "bob speaks", func(st *stanza.Element) bool { return st.ChildText(stanza.NSClient, "body") == "thank you" })
	// Role list.
	list := mustIQ(t, alice, stanza.TypeGet, roomJID(s, "stage", ""), stanza.New(muc.NSAdmin, "query").Append(muc.Item{Role: "participant"}.Element(muc.NSAdmin)))
	if it := list.Payload().ChildrenNamed(muc.NSAdmin, "item"); len(it) != 1 || it[0].Get("nick") != "bob" {
		t.Fatalf("participant list: %s", list)
	}
	// Admin for bob makes him a moderator; he cannot kick the owner.
	if res := admin(t, s, alice, "stage", muc.Item{JID: "bob@" + s.Domain(), Affiliation: "admin"}); res.Type() != stanza.TypeResult {
		t.Fatal(res)
	}
	if st := xmpptest.Expect(t, bob, "promotion", func(st *stanza.Element) bool {
		return presenceFrom(roomJID(s, "stage", "bob"), "")(st) && item(st).Affiliation == "admin"
	}); item(st).Role != "moderator" || !hasCodes(st, muc.StatusSelf) {
		t.Fatalf("admin promotion: %s", st)
	}
	if res := admin(t, s, bob, "stage", muc.Item{Nick: "al", Role: "none"}); errCond(res) != stanza.NotAllowed {
		t.Fatalf("an admin kicked the owner: %s", res)
	}
	if res := admin(t, s, bob, "stage", muc.Item{JID: "carol@" + s.Domain(), Affiliation: "owner"}); errCond(res) != stanza.Forbidden {
		t.Fatalf("an admin made an owner: %s", res)
	}
	// Kick carol.
	if res := admin(t, s, bob, "stage", muc.Item{Nick: "carol", Role: "none", Reason: "noise"}); res.Type() != stanza.TypeResult {
		t.Fatal(res)
	}
	if st := xmpptest.Expect(t, carol, "kick", presenceFrom(roomJID(s, "stage", "carol"), stanza.TypeUnavailable)); !hasCodes(st, muc.StatusSelf, muc.StatusKicked) || item(st).Reason != "noise" {
		t.Fatalf("kick: %s", st)
	}
	if st := xmpptest.Expect(t, alice, "kick seen", presenceFrom(roomJID(s, "stage", "carol"), stanza.TypeUnavailable)); !hasCodes(st, muc.StatusKicked) {
		t.Fatalf("kick seen: %s", st)
	}
	if res := admin(t, s, bob, "stage", muc.Item{Nick: "nobody", Role: "none"}); errCond(res) != stanza.ItemNotFound {
		t.Fatalf("kicking nobody: %s", res)
	}
	// The last owner cannot leave the owner list.
	if res := admin(t, s, alice, "stage", muc.Item{JID: "alice@" + s.Domain(), Affiliation: "member"}); errCond(res) != stanza.Conflict {
		t.Fatalf("removing the last owner: %s", res)
	}
	owners := mustIQ(t, alice, stanza.TypeGet, roomJID(s, "stage", ""), stanza.New(muc.NSAdmin, "query").Append(muc.Item{Affiliation: "owner"}.Element(muc.NSAdmin)))
	if it := owners.Payload().ChildrenNamed(muc.NSAdmin, "item"); len(it) != 1 || it[0].Get("jid") != "alice@"+s.Domain() {
		t.Fatalf("owner list: %s", owners)
	}
	// Destroy with an alternate venue.
	dq := stanza.New(muc.NSOwner, "query").Append(stanza.New(muc.NSOwner, "destroy", "jid", roomJID(s, "elsewhere", "")).
		Append(stanza.New(muc.NSOwner, "reason").AppendText("moving")))
	if res := iq(t, bob, stanza.TypeSet, roomJID(s, "stage", ""), dq.Clone()); errCond(res) != stanza.Forbidden {
		t.Fatalf("an admin destroyed the room: %s", res)
	}
	mustIQ(t, alice, stanza.TypeSet, roomJID(s, "stage", ""), dq)
	st := xmpptest.Expect(t, bob, "destroy", presenceFrom(roomJID(s, "stage", "bob"), stanza.TypeUnavailable))
	d := st.Child(muc.NSUser, "x").Child(muc.NSUser, "destroy")
	if d == nil || d.Get("jid") != roomJID(s, "elsewhere", "") || d.ChildText(muc.NSUser, "reason") != "moving" {
		t.Fatalf("destroy presence: %s", st)
	}
	if res := iq(t, alice, stanza.TypeGet, roomJID(s, "stage", ""), stanza.New(disco.NSInfo, "query")); errCond(res) != stanza.ItemNotFound {
		t.Fatalf("destroyed room still answers: %s", res)
	}
}

func TestSessionEndLeavesRooms(t *testing.T) {
	s := xmpptest.NewServer(t)
	s.AddUser(t, "alice", "pw")
	s.AddUser(t, "bob", "pw")
	alice := s.Client(t, "alice", "pw", "desk")
	create(t, s, alice, "hall", "al", nil)
	for i, abort := range []bool{false, true} {
		bob := s.Dial(t, s.ClientConfig(t, "bob", "pw", "phone"))
		nick := []string{"closer", "breaker"}[i]
		joinSubject(t, s, bob, "hall", nick)
		xmpptest.Expect(t, alice, "join", presenceFrom(roomJID(s, "hall", nick), ""))
		// The session ends without unavailable presence to the room:
		// closed, or cut off.
		if abort {
			bob.Abort()
		} else {
			_ = bob.Close()
		}
		xmpptest.Expect(t, alice, "departure", presenceFrom(roomJID(s, "hall", nick), stanza.TypeUnavailable))
	}
	list := mustIQ(t, alice, stanza.TypeGet, roomJID(s, "hall", ""), stanza.New(muc.NSAdmin, "query").Append(muc.Item{Role: "participant"}.Element(muc.NSAdmin)))
	if n := len(list.Payload().ChildrenNamed(muc.NSAdmin, "item")); n != 0 {
		t.Fatalf("%d participants left behind: %s", n, list)
	}
}

func TestKickOnErrorAndSelfPing(t *testing.T) {
	s := xmpptest.NewServer(t)
	s.AddUser(t, "alice", "pw")
	s.AddUser(t, "bob", "pw")
	alice := s.Client(t, "alice", "pw", "desk")
	bob := s.Client(t, "bob", "pw", "phone")
	create(t, s, alice, "ping", "al", nil)
	joinSubject(t, s, bob, "ping", "bob")
	// XEP-0410: the room answers a ping to one's own occupant JID.
	ping := stanza.New("urn:xmpp:ping", "ping")
	if res := iq(t, bob, stanza.TypeGet, roomJID(s, "ping", "bob"), ping); res.Type() != stanza.TypeResult || res.From() != roomJID(s, "ping", "bob") {
		t.Fatalf("self-ping: %s", res)
	}
	outsider := s.Client(t, "alice", "pw", "other")
	if res := iq(t, outsider, stanza.TypeGet, roomJID(s, "ping", "bob"), stanza.New("urn:xmpp:ping", "ping")); errCond(res) != stanza.NotAcceptable {
		t.Fatalf("ping from a non-occupant: %s", res)
	}
	// Bob's client bounces a groupchat message: he is removed with 333.
	bounce := stanza.New(stanza.NSClient, "message", "to", roomJID(s, "ping", ""), "type", "error").
		Append(stanza.Err(stanza.ServiceUnavailable).Element())
	xmpptest.Send(t, bob, bounce)
	if st := xmpptest.Expect(t, alice, "removal", presenceFrom(roomJID(s, "ping", "bob"), stanza.TypeUnavailable)); !hasCodes(st, muc.StatusTechnicalError) || hasCodes(st, muc.StatusKicked) {
		t.Fatalf("kick on error: %s", st)
	}
}

func TestInvitations(t *testing.T) {
	s := xmpptest.NewServer(t)
	for _, u := range []string{"alice", "bob", "carol"} {
		s.AddUser(t, u, "pw")
	}
	alice := s.Client(t, "alice", "pw", "desk")
	bob := s.Client(t, "bob", "pw", "phone")
	carol := s.Client(t, "carol", "pw", "tab")
	create(t, s, alice, "party", "al", map[string][]string{"muc#roomconfig_membersonly": {"1"}})
	// Invitations go to bare JIDs: the invitees are available.
	for _, c := range []*client.Client{alice, bob, carol} {
		xmpptest.Send(t, c, stanza.New(stanza.NSClient, "presence"))
	}
	inv := stanza.New(stanza.NSClient, "message", "to", roomJID(s, "party", "")).Append(
		stanza.New(muc.NSUser, "x").Append(stanza.New(muc.NSUser, "invite", "to", "bob@"+s.Domain()).
			Append(stanza.New(muc.NSUser, "reason").AppendText("come"))))
	xmpptest.Send(t, alice, inv)
	got := xmpptest.Expect(t, bob, "invitation", func(st *stanza.Element) bool { return st.Child(muc.NSUser, "x") != nil })
	i := got.Child(muc.NSUser, "x").Child(muc.NSUser, "invite")
	if got.From() != roomJID(s, "party", "") || i == nil || i.Get("from") != alice.JID().String() || i.ChildText(muc.NSUser, "reason") != "come" {
		t.Fatalf("mediated invitation: %s", got)
	}
	// Invited to a members-only room, bob became a member.
	if st := join(t, s, bob, "party", "bob", "", nil); st.Type() == stanza.TypeError || item(st).Affiliation != "member" {
		t.Fatalf("invitee joining: %s", st)
	}
	// Decline goes back to the inviter.
	dec := stanza.New(stanza.NSClient, "message", "to", roomJID(s, "party", "")).Append(
		stanza.New(muc.NSUser, "x").Append(stanza.New(muc.NSUser, "decline", "to", alice.JID().Bare().String())))
	xmpptest.Send(t, carol, dec)
	got = xmpptest.Expect(t, alice, "decline", func(st *stanza.Element) bool {
		x := st.Child(muc.NSUser, "x")
		return x != nil && x.Child(muc.NSUser, "decline") != nil
	})
	if got.Child(muc.NSUser, "x").Child(muc.NSUser, "decline").Get("from") != "carol@"+s.Domain() {
		t.Fatalf("decline: %s", got)
	}
	// A direct invitation (XEP-0249) passes from user to user.
	di := stanza.NewMessage("", "carol@"+s.Domain(), "")
	di.Append(muc.DirectInvite{Room: jid.MustParse(roomJID(s, "party", "")), Reason: "join us"}.Element())
	xmpptest.Send(t, alice, di)
	got = xmpptest.Expect(t, carol, "direct invitation", func(st *stanza.Element) bool { return st.Child(muc.NSConference, "x") != nil })
	if x := got.Child(muc.NSConference, "x"); x.Get("jid") != roomJID(s, "party", "") || x.Get("reason") != "join us" || got.From() != alice.JID().String() {
		t.Fatalf("direct invitation: %s", got)
	}
}

func TestPersistentRoomSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	sameDir := func(c *config.Config) { c.DataDir = dir }
	t.Run("before", func(t *testing.T) {
		s := xmpptest.NewServer(t, sameDir)
		for _, u := range []string{"alice", "bob"} {
			s.AddUser(t, u, "pw")
		}
		alice := s.Client(t, "alice", "pw", "desk")
		create(t, s, alice, "keep", "al", map[string][]string{
			"muc#roomconfig_persistentroom": {"1"}, "muc#roomconfig_roomname": {"Kept"}, "muc#roomconfig_membersonly": {"1"},
		})
		create(t, s, alice, "temp", "al", nil)
		if res := admin(t, s, alice, "keep", muc.Item{JID: "bob@" + s.Domain(), Affiliation: "member", Nick: "bobby"}); res.Type() != stanza.TypeResult {
			t.Fatal(res)
		}
		subj := stanza.New(stanza.NSClient, "message", "to", roomJID(s, "keep", ""), "type", "groupchat").
			Append(stanza.New(stanza.NSClient, "subject").AppendText("Still here"))
		xmpptest.Send(t, alice, subj)
		xmpptest.Expect(t, alice, "subject", isSubject)
		// The owner leaves: a persistent room stays.
		xmpptest.Send(t, alice, stanza.New(stanza.NSClient, "presence", "to", roomJID(s, "keep", "al"), "type", "unavailable"))
		xmpptest.Expect(t, alice, "leave", presenceFrom(roomJID(s, "keep", "al"), stanza.TypeUnavailable))
		mustIQ(t, alice, stanza.TypeGet, roomJID(s, "keep", ""), stanza.New(disco.NSInfo, "query"))
	})
	s := xmpptest.NewServer(t, sameDir)
	bob := s.Client(t, "bob", "pw", "phone")
	items, err := disco.ParseItems(mustIQ(t, bob, stanza.TypeGet, service(s), stanza.New(disco.NSItems, "query")).Payload())
	if err != nil || len(items.Items) != 1 || items.Items[0].Name != "Kept" {
		t.Fatalf("rooms after restart: %+v (%v)", items, err)
	}
	self := join(t, s, bob, "keep", "bobby", "", nil)
	if self.Type() == stanza.TypeError || item(self).Affiliation != "member" || hasCodes(self, muc.StatusCreated) {
		t.Fatalf("member joining after restart: %s", self)
	}
	if st := xmpptest.Expect(t, bob, "subject", isSubject); st.ChildText(stanza.NSClient, "subject") != "Still here" || st.From() != roomJID(s, "keep", "al") {
		t.Fatalf("subject after restart: %s", st)
	}
	// The temporary room is gone: joining creates it afresh.
	if st := join(t, s, bob, "temp", "bobby", "", nil); !hasCodes(st, muc.StatusCreated) {
		t.Fatalf("temporary room after restart: %s", st)
	}
	// The owner is still the owner.
	alice := s.Client(t, "alice", "pw", "desk")
	mustIQ(t, alice, stanza.TypeGet, roomJID(s, "keep", ""), stanza.New(muc.NSOwner, "query"))
}
