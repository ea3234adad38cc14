package muc

import (
	"testing"
	"time"

	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

func TestRolesAndAffiliations(t *testing.T) {
	for _, s := range []string{"none", "visitor", "participant", "moderator"} {
		r, err := ParseRole(s)
		if err != nil || r.String() != s {
			t.Errorf("role %q: %v %v", s, r, err)
		}
	}
	for _, s := range []string{"outcast", "none", "member", "admin", "owner"} {
		a, err := ParseAffiliation(s)
		if err != nil || a.String() != s {
			t.Errorf("affiliation %q: %v %v", s, a, err)
		}
	}
	if _, err := ParseRole("king"); err == nil {
		t.Error("unknown role accepted")
	}
	if _, err := ParseAffiliation("king"); err == nil {
		t.Error("unknown affiliation accepted")
	}
	if !(AffOwner > AffAdmin && AffAdmin > AffMember && AffMember > AffNone && AffNone > AffOutcast) {
		t.Error("affiliations are not ordered by privilege")
	}
}

func TestItemAndStatus(t *testing.T) {
	it := Item{Affiliation: "member", Role: "participant", JID: "a@b/c", Nick: "n", Reason: "r & <s>", Actor: "mod"}
	x := UserX([]Item{it}, StatusSelf, StatusKicked)
	want := `<x xmlns="http://jabber.org/protocol/muc#user"><item affiliation="member" jid="a@b/c" nick="n" role="participant"><actor nick="mod"/><reason>r &amp; &lt;s&gt;</reason></item><status code="110"/><status code="307"/></x>`
	if x.String() != want {
		t.Fatalf("UserX = %s\nwant %s", x, want)
	}
	if got := ParseItem(x.Child(NSUser, "item")); got != it {
		t.Fatalf("ParseItem = %+v, want %+v", got, it)
	}
	if got := StatusCodes(x); len(got) != 2 || got[0] != 110 || got[1] != 307 {
		t.Fatalf("StatusCodes = %v", got)
	}
}

func TestHistory(t *testing.T) {
	h, err := ParseHistory(nil)
	if err != nil || h.MaxStanzas != NoLimit || h.MaxChars != NoLimit || h.Seconds != NoLimit || !h.Since.IsZero() {
		t.Fatalf("no <x/>: %+v %v", h, err)
	}
	since := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p := Join(jid.MustParse("r@s/n"), "pw", &History{MaxStanzas: 3, MaxChars: NoLimit, Seconds: 60, Since: since})
	x := p.Child(NS, "x")
	if x.ChildText(NS, "password") != "pw" || p.To() != "r@s/n" {
		t.Fatalf("join = %s", p)
	}
	h, err = ParseHistory(x)
	if err != nil || h.MaxStanzas != 3 || h.MaxChars != NoLimit || h.Seconds != 60 || !h.Since.Equal(since) {
		t.Fatalf("round trip: %+v %v", h, err)
	}
	for _, bad := range []*stanza.Element{
		stanza.New(NS, "history", "maxstanzas", "-1"),
		stanza.New(NS, "history", "maxchars", "many"),
		stanza.New(NS, "history", "since", "yesterday"),
	} {
		if _, err := ParseHistory(stanza.New(NS, "x").Append(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

func TestDirectInvite(t *testing.T) {
	el := DirectInvite{Room: jid.MustParse("r@s"), Password: "p", Reason: "come", Continue: true, Thread: "t1"}.Element()
	want := `<x xmlns="jabber:x:conference" jid="r@s" password="p" reason="come" continue="true" thread="t1"/>`
	if el.String() != want {
		t.Fatalf("DirectInvite = %s\nwant %s", el, want)
	}
}
