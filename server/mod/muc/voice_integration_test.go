package muc_test

import (
	"testing"

	"github.com/parley-xmpp/parley/xmpp/form"
	"github.com/parley-xmpp/parley/xmpp/muc"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

// voiceRequest is a visitor's request for voice (XEP-0045 §7.13).
func voiceRequest(room string) *stanza.Element {
	f := form.New(form.TypeSubmit, muc.NSRequest).Add(form.Field{Var: "muc#role", Values: []string{"participant"}})
	return stanza.New(stanza.NSClient, "message", "to", room).Append(f.Element())
}

// A visitor of a moderated room asks for voice: every moderator gets the
// approval form (§8.6); a moderator submitting it with
// muc#request_allow grants voice, and the visitor speaks. A visitor
// asking again at once is refused with wait/resource-constraint, another
// visitor approving with <forbidden/>.
func TestVoiceRequest(t *testing.T) {
	s := xmpptest.NewServer(t)
	for _, u := range []string{"alice", "bob", "carol"} {
		s.AddUser(t, u, "pw")
	}
	alice := s.Client(t, "alice", "pw", "desk")
	bob := s.Client(t, "bob", "pw", "phone")
	carol := s.Client(t, "carol", "pw", "pc")
	create(t, s, alice, "stage", "al", map[string][]string{"muc#roomconfig_moderatedroom": {"1"}})
	xmpptest.Expect(t, alice, "subject", isSubject)
	room := roomJID(s, "stage", "")
	if self := joinSubject(t, s, bob, "stage", "bob"); item(self).Role != "visitor" {
		t.Fatalf("bob enters a moderated room as %q", item(self).Role)
	}
	joinSubject(t, s, carol, "stage", "carol")

	xmpptest.Send(t, bob, voiceRequest(room))
	got := xmpptest.Expect(t, alice, "approval form", func(st *stanza.Element) bool { return form.Find(st, muc.NSRequest) != nil })
	f, err := form.Parse(form.Find(got, muc.NSRequest))
	if err != nil || got.From() != room || f.Type != form.TypeForm || f.Field("muc#roomnick").Value() != "bob" ||
		f.Field("muc#jid").Value() != bob.JID().String() || f.Field("muc#request_allow") == nil {
		t.Fatalf("approval form (%v): %s", err, got)
	}
	xmpptest.Send(t, bob, voiceRequest(room))
	if got := xmpptest.Expect(t, bob, "refusal", func(st *stanza.Element) bool { return st.Type() == stanza.TypeError }); errCond(got) != stanza.ResourceConstraint {
		t.Fatalf("a second request at once: %s", got)
	}

	f.Type = form.TypeSubmit
	f.Field("muc#request_allow").Values = []string{"true"}
	answer := stanza.New(stanza.NSClient, "message", "to", room).Append(f.Element())
	// Another visitor may not answer.
	xmpptest.Send(t, carol, answer)
	if got := xmpptest.Expect(t, carol, "refusal", func(st *stanza.Element) bool { return st.Type() == stanza.TypeError }); errCond(got) != stanza.Forbidden {
		t.Fatalf("a visitor answering: %s", got)
	}
	xmpptest.Send(t, alice, answer.Clone())
	pres := xmpptest.Expect(t, bob, "voice", presenceFrom(roomJID(s, "stage", "bob"), ""))
	if item(pres).Role != "participant" {
		t.Fatalf("after approval: %s", pres)
	}
	say(t, bob, room, "thank you")
}
