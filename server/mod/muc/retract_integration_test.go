package muc_test

import (
	"testing"

	"github.com/parley-xmpp/parley/xmpp/disco"
	"github.com/parley-xmpp/parley/xmpp/mam"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stanzaid"
	"github.com/parley-xmpp/parley/xmpptest"
)

const (
	nsRetract  = "urn:xmpp:message-retract:1"
	nsModerate = "urn:xmpp:message-moderate:1"
)

// isTombstone reports whether an archived or replayed message is a
// tombstone: <retracted/>, no body.
func isTombstone(msg *stanza.Element) bool {
	return msg.Child(nsRetract, "retracted") != nil && msg.Child(stanza.NSClient, "body") == nil
}

// Retraction in rooms: an author retracts its own message (XEP-0424) and
// no one else's; a moderator retracts anyone's (XEP-0425), a participant
// no one's. Every occupant gets the retraction; the retracted message is
// a tombstone in the archive and in the history new occupants get.
func TestRoomRetraction(t *testing.T) {
	s := xmpptest.NewServer(t)
	for _, u := range []string{"alice", "bob", "carol"} {
		s.AddUser(t, u, "pw")
	}
	alice := s.Client(t, "alice", "pw", "desk")
	bob := s.Client(t, "bob", "pw", "phone")
	create(t, s, alice, "town", "al", map[string][]string{"muc#roomconfig_persistentroom": {"1"}})
	xmpptest.Expect(t, alice, "subject", isSubject)
	joinSubject(t, s, bob, "town", "bob")
	room := roomJID(s, "town", "")
	info, _ := disco.ParseInfo(mustIQ(t, alice, stanza.TypeGet, room, stanza.New(disco.NSInfo, "query")).Payload())
	for _, f := range []string{nsRetract, nsRetract + "#tombstone", nsModerate} {
		if !info.HasFeature(f) {
			t.Fatalf("room does not advertise %s", f)
		}
	}
	hello := stanzaid.Find(say(t, alice, room, "hello"), room)
	oops := stanzaid.Find(say(t, bob, room, "oops"), room)
	spam := stanzaid.Find(say(t, bob, room, "spam"), room)

	retract := func(id string) *stanza.Element {
		return stanza.NewMessage(stanza.TypeGroupchat, room, "retracted").Append(stanza.New(nsRetract, "retract", "id", id))
	}
	// Not his message.
	xmpptest.Send(t, bob, retract(hello))
	if got := xmpptest.Expect(t, bob, "refusal", func(st *stanza.Element) bool { return st.Type() == stanza.TypeError }); errCond(got) != stanza.Forbidden {
		t.Fatalf("retracting another's message: %s", got)
	}
	// His own.
	xmpptest.Send(t, bob, retract(oops))
	got := xmpptest.Expect(t, alice, "bob's retraction", func(st *stanza.Element) bool { return st.Child(nsRetract, "retract") != nil })
	if got.From() != roomJID(s, "town", "bob") || got.Child(nsRetract, "retract").Get("id") != oops {
		t.Fatalf("retraction as alice sees it: %s", got)
	}

	moderate := func(id, reason string) *stanza.Element {
		q := stanza.New(nsModerate, "moderate", "id", id).Append(stanza.New(nsRetract, "retract"))
		if reason != "" {
			q.Append(stanza.New(nsModerate, "reason").AppendText(reason))
		}
		return q
	}
	if res := iq(t, bob, stanza.TypeSet, room, moderate(hello, "")); errCond(res) != stanza.Forbidden {
		t.Fatalf("a participant moderating: %s", res)
	}
	if res := iq(t, alice, stanza.TypeSet, room, moderate("no-such-id", "")); errCond(res) != stanza.ItemNotFound {
		t.Fatalf("moderating an unknown message: %s", res)
	}
	mustIQ(t, alice, stanza.TypeSet, room, moderate(spam, "no ads"))
	got = xmpptest.Expect(t, bob, "the moderation", func(st *stanza.Element) bool {
		r := st.Child(nsRetract, "retract")
		return r != nil && r.Child(nsModerate, "moderated") != nil
	})
	r := got.Child(nsRetract, "retract")
	mod := r.Child(nsModerate, "moderated")
	if got.From() != room || r.Get("id") != spam || mod == nil || mod.Get("by") != roomJID(s, "town", "al") ||
		r.ChildText(nsRetract, "reason") != "no ads" || stanzaid.Find(got, room) == "" {
		t.Fatalf("moderation announced as %s", got)
	}

	res, _, e := roomArchive(t, alice, room, mam.NewQuery(), 5)
	if e != nil {
		t.Fatal(e)
	}
	byID := map[string]*stanza.Element{}
	for _, r := range res {
		byID[r.ID] = r.Message
	}
	if m := byID[oops]; m == nil || !isTombstone(m) {
		t.Fatalf("the author's retracted message in the archive: %v", m)
	}
	if m := byID[spam]; m == nil || !isTombstone(m) || m.Child(nsRetract, "retracted").Child(nsModerate, "moderated") == nil {
		t.Fatalf("the moderated message in the archive: %v", m)
	}
	if m := byID[hello]; m == nil || m.ChildText(stanza.NSClient, "body") != "hello" {
		t.Fatalf("a message nobody retracted: %v", m)
	}

	carol := s.Client(t, "carol", "pw", "pc")
	tombstones := 0
	for _, st := range joinHistory(t, s, carol, "town", "carol") {
		switch stanzaid.Find(st, room) {
		case oops, spam:
			if !isTombstone(st) {
				t.Fatalf("retracted message replayed: %s", st)
			}
			tombstones++
		}
	}
	if tombstones != 2 {
		t.Fatalf("%d tombstones in the history, want 2", tombstones)
	}
}

// Clients of XEP-0425 version 0.2 moderate with <apply-to/> (XEP-0422)
// and urn:xmpp:message-moderate:0: the room takes that request too, and
// announces every moderation in both forms.
func TestRoomModerationVersion02(t *testing.T) {
	const (
		nsFasten    = "urn:xmpp:fasten:0"
		nsModerate0 = "urn:xmpp:message-moderate:0"
	)
	s := xmpptest.NewServer(t)
	for _, u := range []string{"alice", "bob"} {
		s.AddUser(t, u, "pw")
	}
	alice := s.Client(t, "alice", "pw", "desk")
	bob := s.Client(t, "bob", "pw", "phone")
	create(t, s, alice, "old", "al", nil)
	xmpptest.Expect(t, alice, "subject", isSubject)
	joinSubject(t, s, bob, "old", "bob")
	room := roomJID(s, "old", "")
	info, _ := disco.ParseInfo(mustIQ(t, alice, stanza.TypeGet, room, stanza.New(disco.NSInfo, "query")).Payload())
	if !info.HasFeature(nsModerate0) {
		t.Fatalf("room does not advertise %s", nsModerate0)
	}
	spam := stanzaid.Find(say(t, bob, room, "spam"), room)
	req := stanza.New(nsFasten, "apply-to", "id", spam).Append(
		stanza.New(nsModerate0, "moderate").Append(stanza.New("urn:xmpp:message-retract:0", "retract"),
			stanza.New(nsModerate0, "reason").AppendText("old client")))
	mustIQ(t, alice, stanza.TypeSet, room, req)
	got := xmpptest.Expect(t, bob, "the moderation", func(st *stanza.Element) bool { return st.Child(nsFasten, "apply-to") != nil })
	mod := got.Child(nsFasten, "apply-to").Child(nsModerate0, "moderated")
	if got.Child(nsFasten, "apply-to").Get("id") != spam || mod == nil || mod.Get("by") != roomJID(s, "old", "al") ||
		mod.ChildText(nsModerate0, "reason") != "old client" || got.Child(nsRetract, "retract").Get("id") != spam {
		t.Fatalf("moderation announced as %s", got)
	}
	other := s.Client(t, "alice", "pw", "other")
	found := false
	for _, st := range joinHistory(t, s, other, "old", "al") {
		if stanzaid.Find(st, room) == spam {
			found = true
			if !isTombstone(st) {
				t.Fatalf("moderated message replayed: %s", st)
			}
		}
	}
	if !found {
		t.Fatal("the moderated message's tombstone is not in the history")
	}
}
