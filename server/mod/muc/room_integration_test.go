package muc_test

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/disco"
	"github.com/parley-xmpp/parley/xmpp/form"
	"github.com/parley-xmpp/parley/xmpp/muc"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

func TestServiceAndRoomDisco(t *testing.T) {
	s := xmpptest.NewServer(t)
	s.AddUser(t, "alice", "pw")
	alice := s.Client(t, "alice", "pw", "desk")

	items, err := disco.ParseItems(mustIQ(t, alice, stanza.TypeGet, s.Domain(), stanza.New(disco.NSItems, "query")).Payload())
	if err != nil || !slices.ContainsFunc(items.Items, func(it disco.Item) bool { return it.JID.String() == service(s) }) {
		t.Fatalf("server disco#items %v does not list %s (%v)", items.Items, service(s), err)
	}
	info, err := disco.ParseInfo(mustIQ(t, alice, stanza.TypeGet, service(s), stanza.New(disco.NSInfo, "query")).Payload())
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Identities) != 1 || info.Identities[0].Category != "conference" || info.Identities[0].Type != "text" ||
		!slices.Contains(info.Features, muc.NS) {
		t.Fatalf("service disco#info = %+v", info)
	}
	if res := iq(t, alice, stanza.TypeGet, roomJID(s, "nowhere", ""), stanza.New(disco.NSInfo, "query")); errCond(res) != stanza.ItemNotFound {
		t.Fatalf("disco#info of a missing room = %s", res)
	}

	create(t, s, alice, "coven", "crone", map[string][]string{
		"muc#roomconfig_roomname": {"The Coven"}, "muc#roomconfig_roomdesc": {"Witches"},
		"muc#roomconfig_membersonly": {"0"}, "muc#roomconfig_passwordprotectedroom": {"0"},
	})
	info, err = disco.ParseInfo(mustIQ(t, alice, stanza.TypeGet, roomJID(s, "coven", ""), stanza.New(disco.NSInfo, "query")).Payload())
	if err != nil {
		t.Fatal(err)
	}
	if info.Identities[0].Category != "conference" || info.Identities[0].Name != "The Coven" {
		t.Fatalf("room identities = %+v", info.Identities)
	}
	for _, f := range []string{muc.NS, "muc_public", "muc_temporary", "muc_open", "muc_unmoderated", "muc_semianonymous", "muc_unsecured"} {
		if !slices.Contains(info.Features, f) {
			t.Errorf("room features %v lack %s", info.Features, f)
		}
	}
	if len(info.Forms) != 1 {
		t.Fatalf("room info has %d forms, want the muc#roominfo one", len(info.Forms))
	}
	f, err := form.Parse(info.Forms[0])
	if err != nil || f.FormType() != muc.NSRoomInfo || f.Field("muc#roominfo_occupants").Value() != "1" ||
		f.Field("muc#roominfo_description").Value() != "Witches" {
		t.Fatalf("muc#roominfo form = %+v (%v)", f, err)
	}
	items, err = disco.ParseItems(mustIQ(t, alice, stanza.TypeGet, service(s), stanza.New(disco.NSItems, "query")).Payload())
	if err != nil || len(items.Items) != 1 || items.Items[0].JID.String() != roomJID(s, "coven", "") || items.Items[0].Name != "The Coven" {
		t.Fatalf("service disco#items = %+v (%v)", items, err)
	}
}

func TestCreateJoinChatLeave(t *testing.T) {
	s := xmpptest.NewServer(t)
	for _, u := range []string{"alice", "bob", "carol"} {
		s.AddUser(t, u, "pw")
	}
	alice := s.Client(t, "alice", "pw", "desk")
	bob := s.Client(t, "bob", "pw", "phone")
	carol := s.Client(t, "carol", "pw", "tab")

	self := join(t, s, alice, "den", "al", "", nil)
	if !hasCodes(self, muc.StatusSelf, muc.StatusCreated) || item(self).Affiliation != "owner" || item(self).Role != "moderator" {
		t.Fatalf("creator's self-presence = %s", self)
	}
	// A reserved room stays locked until it is configured (§10.1.1).
	if st := join(t, s, bob, "den", "bob", "", nil); st.Type() != stanza.TypeError || errCond(st) != stanza.ItemNotFound {
		t.Fatalf("joining a locked room: %s", st)
	}
	cfgForm := mustIQ(t, alice, stanza.TypeGet, roomJID(s, "den", ""), stanza.New(muc.NSOwner, "query"))
	if f, err := form.Parse(cfgForm.Payload().Child(form.NS, "x")); err != nil || f.FormType() != muc.NSRoomConfig || f.Field("muc#roomconfig_persistentroom") == nil {
		t.Fatalf("configuration form: %s (%v)", cfgForm, err)
	}
	if res := iq(t, bob, stanza.TypeGet, roomJID(s, "den", ""), stanza.New(muc.NSOwner, "query")); errCond(res) != stanza.Forbidden {
		t.Fatalf("a non-owner read the configuration: %s", res)
	}
	if res := configure(t, s, alice, "den", nil); res.Type() != stanza.TypeResult {
		t.Fatalf("instant room: %s", res)
	}
	xmpptest.Expect(t, alice, "subject", isSubject)

	// Bob enters: first alice's presence, then his own with 110.
	xmpptest.Send(t, bob, muc.Join(s.JID(t, roomJID(s, "den", "bob")), "", nil))
	first := xmpptest.Expect(t, bob, "presence", func(st *stanza.Element) bool { return stanza.KindOf(st) == stanza.KindPresence })
	if first.From() != roomJID(s, "den", "al") || item(first).Affiliation != "owner" || item(first).JID != "" {
		t.Fatalf("bob's first presence = %s (semi-anonymous: no real JID for participants)", first)
	}
	self = xmpptest.Expect(t, bob, "self", presenceFrom(roomJID(s, "den", "bob"), ""))
	if !hasCodes(self, muc.StatusSelf) || item(self).Role != "participant" || item(self).Affiliation != "none" {
		t.Fatalf("bob's self-presence = %s", self)
	}
	xmpptest.Expect(t, bob, "subject", isSubject)
	seen := xmpptest.Expect(t, alice, "bob's presence", presenceFrom(roomJID(s, "den", "bob"), ""))
	if item(seen).JID != bob.JID().String() || hasCodes(seen, muc.StatusSelf) {
		t.Fatalf("moderator sees %s, want bob's real JID and no 110", seen)
	}

	// Nickname conflict.
	if st := join(t, s, carol, "den", "bob", "", nil); errCond(st) != stanza.Conflict {
		t.Fatalf("nick conflict: %s", st)
	}
	// Groupchat is reflected to every occupant with the id kept.
	msg := groupchat(roomJID(s, "den", ""), "hello all")
	msg.Set("id", "m1")
	xmpptest.Send(t, bob, msg)
	for _, c := range []*client.Client{alice, bob} {
		got := xmpptest.Expect(t, c, "groupchat", func(st *stanza.Element) bool { return st.ChildText(stanza.NSClient, "body") == "hello all" })
		if got.From() != roomJID(s, "den", "bob") || got.ID() != "m1" || got.Type() != stanza.TypeGroupchat || got.To() != c.JID().String() {
			t.Fatalf("%s got %s", c.JID(), got)
		}
	}
	// Subject: participants may not change it by default; moderators may.
	subj := stanza.New(stanza.NSClient, "message", "to", roomJID(s, "den", ""), "type", "groupchat").
		Append(stanza.New(stanza.NSClient, "subject").AppendText("Potions"))
	xmpptest.Send(t, bob, subj.Clone())
	if st := xmpptest.Expect(t, bob, "subject error", func(st *stanza.Element) bool { return st.Type() == stanza.TypeError }); errCond(st) != stanza.Forbidden {
		t.Fatalf("participant subject change: %s", st)
	}
	xmpptest.Send(t, alice, subj.Clone())
	if st := xmpptest.Expect(t, bob, "new subject", isSubject); st.From() != roomJID(s, "den", "al") || st.ChildText(stanza.NSClient, "subject") != "Potions" {
		t.Fatalf("subject broadcast = %s", st)
	}
	// A non-occupant may not talk in the room.
	xmpptest.Send(t, carol, groupchat(roomJID(s, "den", ""), "let me in"))
	if st := xmpptest.Expect(t, carol, "error", func(st *stanza.Element) bool { return st.Type() == stanza.TypeError }); errCond(st) != stanza.NotAcceptable {
		t.Fatalf("non-occupant groupchat: %s", st)
	}

	// Carol joins and gets the history with delays, then the subject.
	self = join(t, s, carol, "den", "carol", "", nil)
	if self.Type() == stanza.TypeError {
		t.Fatal(self)
	}
	h := xmpptest.Expect(t, carol, "history", func(st *stanza.Element) bool { return stanza.KindOf(st) == stanza.KindMessage })
	d := h.Child(muc.NSDelay, "delay")
	if h.ChildText(stanza.NSClient, "body") != "hello all" || h.From() != roomJID(s, "den", "bob") || d == nil || d.Get("from") != roomJID(s, "den", "") {
		t.Fatalf("history message = %s", h)
	}
	h2 := xmpptest.Expect(t, carol, "subject change in history", func(st *stanza.Element) bool { return stanza.KindOf(st) == stanza.KindMessage })
	if h2.ChildText(stanza.NSClient, "subject") != "Potions" || h2.Child(muc.NSDelay, "delay") == nil {
		t.Fatalf("second history message = %s", h2)
	}
	if st := xmpptest.Expect(t, carol, "subject", isSubject); st.ChildText(stanza.NSClient, "subject") != "Potions" || st.Child(muc.NSDelay, "delay") != nil {
		t.Fatalf("subject after history = %s", st)
	}

	// Private message from carol to bob, relayed from carol's occupant JID.
	pm := stanza.NewMessage(stanza.TypeChat, roomJID(s, "den", "bob"), "psst")
	xmpptest.Send(t, carol, pm)
	got := xmpptest.Expect(t, bob, "private message", func(st *stanza.Element) bool { return st.ChildText(stanza.NSClient, "body") == "psst" })
	if got.From() != roomJID(s, "den", "carol") || got.Type() != stanza.TypeChat || got.Child(muc.NSUser, "x") == nil {
		t.Fatalf("private message = %s", got)
	}
	xmpptest.Send(t, carol, stanza.NewMessage(stanza.TypeGroupchat, roomJID(s, "den", "bob"), "wrong type"))
	if st := xmpptest.Expect(t, carol, "error", func(st *stanza.Element) bool { return st.Type() == stanza.TypeError }); errCond(st) != stanza.BadRequest {
		t.Fatalf("groupchat to an occupant: %s", st)
	}

	// Nick change: unavailable with 303 and the new nick, then available.
	xmpptest.Send(t, carol, stanza.New(stanza.NSClient, "presence", "to", roomJID(s, "den", "caz")))
	un := xmpptest.Expect(t, bob, "nick change", presenceFrom(roomJID(s, "den", "carol"), stanza.TypeUnavailable))
	if !hasCodes(un, muc.StatusNewNick) || item(un).Nick != "caz" {
		t.Fatalf("nick change presence = %s", un)
	}
	xmpptest.Expect(t, bob, "new nick", presenceFrom(roomJID(s, "den", "caz"), ""))
	xmpptest.Expect(t, carol, "own new nick", func(st *stanza.Element) bool {
		return st.From() == roomJID(s, "den", "caz") && hasCodes(st, muc.StatusSelf)
	})

	// Leaving: 110 to the leaver, plain unavailable to the others.
	xmpptest.Send(t, bob, stanza.New(stanza.NSClient, "presence", "to", roomJID(s, "den", "bob"), "type", "unavailable"))
	if st := xmpptest.Expect(t, bob, "own leave", presenceFrom(roomJID(s, "den", "bob"), stanza.TypeUnavailable)); !hasCodes(st, muc.StatusSelf) || item(st).Role != "none" {
		t.Fatalf("leave self-presence = %s", st)
	}
	if st := xmpptest.Expect(t, alice, "bob leaves", presenceFrom(roomJID(s, "den", "bob"), stanza.TypeUnavailable)); hasCodes(st, muc.StatusSelf) {
		t.Fatalf("others got %s", st)
	}

	// The temporary room vanishes with its last occupant.
	for nick, cl := range map[string]*client.Client{"al": alice, "caz": carol} {
		xmpptest.Send(t, cl, stanza.New(stanza.NSClient, "presence", "to", roomJID(s, "den", nick), "type", "unavailable"))
		xmpptest.Expect(t, cl, "leave", presenceFrom(roomJID(s, "den", nick), stanza.TypeUnavailable))
	}
	if res := iq(t, alice, stanza.TypeGet, roomJID(s, "den", ""), stanza.New(disco.NSInfo, "query")); errCond(res) != stanza.ItemNotFound {
		t.Fatalf("an emptied temporary room still answers: %s", res)
	}
}

func TestHistoryRequests(t *testing.T) {
	s := xmpptest.NewServer(t)
	s.AddUser(t, "alice", "pw")
	s.AddUser(t, "bob", "pw")
	alice := s.Client(t, "alice", "pw", "desk")
	create(t, s, alice, "log", "al", map[string][]string{"muc#maxhistoryfetch": {"5"}})
	for i := range 8 {
		xmpptest.Send(t, alice, groupchat(roomJID(s, "log", ""), "msg "+strconv.Itoa(i)))
	}
	// The echo of the last message tells the room has them all.
	xmpptest.Expect(t, alice, "last echo", func(st *stanza.Element) bool { return st.ChildText(stanza.NSClient, "body") == "msg 7" })

	bodies := func(h *muc.History, nick string) []string {
		bob := s.Client(t, "bob", "pw", nick)
		self := join(t, s, bob, "log", nick, "", h)
		if self.Type() == stanza.TypeError {
			t.Fatal(self)
		}
		var out []string
		for {
			st := xmpptest.Expect(t, bob, "history or subject", func(st *stanza.Element) bool { return stanza.KindOf(st) == stanza.KindMessage })
			if isSubject(st) {
				return out
			}
			out = append(out, st.ChildText(stanza.NSClient, "body"))
		}
	}
	lim := func(stanzas, chars, secs int, since time.Time) *muc.History {
		return &muc.History{MaxStanzas: stanzas, MaxChars: chars, Seconds: secs, Since: since}
	}
	cases := []struct {
		name string
		h    *muc.History
		want []string
	}{
		{"default", nil, []string{"msg 3", "msg 4", "msg 5", "msg 6", "msg 7"}},
		{"maxstanzas", lim(2, -1, -1, time.Time{}), []string{"msg 6", "msg 7"}},
		{"maxstanzas0", lim(0, -1, -1, time.Time{}), nil},
		{"maxchars0", lim(-1, 0, -1, time.Time{}), nil},
		{"maxchars", lim(-1, 400, -1, time.Time{}), nil}, // filled below
		{"seconds", lim(-1, -1, 3600, time.Time{}), []string{"msg 3", "msg 4", "msg 5", "msg 6", "msg 7"}},
		{"since-future", lim(-1, -1, -1, time.Now().Add(time.Hour)), nil},
	}
	for i, c := range cases {
		got := bodies(c.h, "b"+strconv.Itoa(i))
		if c.name == "maxchars" {
			// Each history stanza is well over 100 characters; 400
			// characters hold a few but not all five.
			if len(got) == 0 || len(got) >= 5 || got[len(got)-1] != "msg 7" {
				t.Errorf("maxchars=400: %v", got)
			}
			continue
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: history %v, want %v", c.name, got, c.want)
		}
	}
}
