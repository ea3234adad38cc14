package roster

import (
	"testing"

	"github.com/parley-xmpp/parley/server/session"
	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
	xroster "github.com/parley-xmpp/parley/xmpp/roster"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

func rosterQuery(items ...*stanza.Element) *stanza.Element {
	return stanza.New(xroster.NS, "query").Append(items...)
}

func pushes(sts []*stanza.Element) []*xroster.Query {
	var out []*xroster.Query
	for _, st := range find(sts, "iq", stanza.TypeSet, "") {
		q, err := xroster.Decode(st.Payload())
		if err == nil {
			out = append(out, q)
		}
	}
	return out
}

func condition(st *stanza.Element) stanza.Condition {
	if e := stanza.ParseError(st); e != nil {
		return e.Condition
	}
	return ""
}

func (h *harness) item(user, contact jid.JID) (storage.RosterItem, bool) {
	h.t.Helper()
	it, err := h.db.Stores().Roster.RosterItem(h.ctx, user, contact)
	if err != nil {
		return it, false
	}
	return it, true
}

func TestRosterGetSetRemove(t *testing.T) {
	h := newHarness(t)
	alice := h.user("alice")
	a1 := h.login(alice, "one")
	a2 := h.login(alice, "two")
	a3 := h.login(alice, "three") // never asks for the roster

	res, _ := h.iq(a1, stanza.TypeGet, "", stanza.New(xroster.NS, "query"))
	q, err := xroster.Decode(res.Payload())
	if err != nil || len(q.Items) != 0 || q.Ver != "0" {
		t.Fatalf("empty roster get = %s (%v)", res, err)
	}
	h.iq(a2, stanza.TypeGet, "", stanza.New(xroster.NS, "query"))
	h.take(a3)

	add := rosterQuery(stanza.New(xroster.NS, "item", "jid", "nurse@example.com", "name", "Nurse", "subscription", "both").
		Append(stanza.New(xroster.NS, "group").AppendText("Servants")))
	res, other := h.iq(a1, stanza.TypeSet, "", add)
	if res.Type() != stanza.TypeResult {
		t.Fatalf("roster set: %s", res)
	}
	p1, p2 := pushes(other), pushes(h.take(a2))
	if len(p1) != 1 || len(p2) != 1 {
		t.Fatalf("pushes: %d to one, %d to two, want 1 each", len(p1), len(p2))
	}
	it := p2[0].Items[0]
	if it.JID.String() != "nurse@example.com" || it.Name != "Nurse" || it.Subscription != "none" || len(it.Groups) != 1 || it.Groups[0] != "Servants" {
		t.Errorf("pushed item %+v: subscription must stay none", it)
	}
	if p1[0].Ver == "" || p1[0].Ver != p2[0].Ver {
		t.Errorf("push versions %q and %q", p1[0].Ver, p2[0].Ver)
	}
	if got := pushes(h.take(a3)); len(got) != 0 {
		t.Errorf("an uninterested resource got %d pushes", len(got))
	}
	ver := p1[0].Ver

	// XEP-0237: the current version gets an empty result.
	res, _ = h.iq(a1, stanza.TypeGet, "", (&xroster.Query{Ver: ver}).Element())
	if res.Type() != stanza.TypeResult || res.Payload() != nil {
		t.Errorf("get with the current ver = %s, want an empty result", res)
	}
	res, _ = h.iq(a1, stanza.TypeGet, "", (&xroster.Query{HasVer: true}).Element())
	if q, err := xroster.Decode(res.Payload()); err != nil || len(q.Items) != 1 || q.Ver != ver {
		t.Errorf("get with ver='' = %s", res)
	}

	// Errors of RFC 6121 §2.3.3 and §2.5.3.
	two := rosterQuery(stanza.New(xroster.NS, "item", "jid", "a@example.com"), stanza.New(xroster.NS, "item", "jid", "b@example.com"))
	if res, _ := h.iq(a1, stanza.TypeSet, "", two); condition(res) != stanza.BadRequest {
		t.Errorf("two items: %s", res)
	}
	empty := rosterQuery(stanza.New(xroster.NS, "item", "jid", "a@example.com").Append(stanza.New(xroster.NS, "group")))
	if res, _ := h.iq(a1, stanza.TypeSet, "", empty); condition(res) != stanza.NotAcceptable {
		t.Errorf("empty group: %s", res)
	}
	gone := rosterQuery(stanza.New(xroster.NS, "item", "jid", "nobody@example.com", "subscription", "remove"))
	if res, _ := h.iq(a1, stanza.TypeSet, "", gone); condition(res) != stanza.ItemNotFound {
		t.Errorf("removing an absent item: %s", res)
	}

	rm := rosterQuery(stanza.New(xroster.NS, "item", "jid", "nurse@example.com", "subscription", "remove"))
	res, other = h.iq(a1, stanza.TypeSet, "", rm)
	if res.Type() != stanza.TypeResult {
		t.Fatalf("remove: %s", res)
	}
	p1, p2 = pushes(other), pushes(h.take(a2))
	if len(p1) != 1 || len(p2) != 1 || p2[0].Items[0].Subscription != xroster.SubRemove {
		t.Fatalf("remove pushes: %v %v", p1, p2)
	}
	if p2[0].Ver == ver {
		t.Errorf("version unchanged by remove")
	}
	if _, ok := h.item(alice, jid.MustParse("nurse@example.com")); ok {
		t.Error("item still stored after remove")
	}
}

func TestRosterOfOthers(t *testing.T) {
	h := newHarness(t)
	alice, bob := h.user("alice"), h.user("bob")
	_ = alice
	b := h.login(bob, "r")
	res, _ := h.iq(b, stanza.TypeGet, "alice@example.com", stanza.New(xroster.NS, "query"))
	if condition(res) != stanza.ServiceUnavailable {
		t.Errorf("get of another roster: %s", res)
	}
	res, _ = h.iq(b, stanza.TypeSet, "alice@example.com", rosterQuery(stanza.New(xroster.NS, "item", "jid", "x@example.com")))
	if condition(res) != stanza.Forbidden {
		t.Errorf("set of another roster: %s", res)
	}
}

// online logs a resource in, fetches the roster and sends initial presence.
func (h *harness) online(user jid.JID, res string) *session.Session {
	s := h.login(user, res)
	h.iq(s, stanza.TypeGet, "", stanza.New(xroster.NS, "query"))
	h.send(s, presence("", ""))
	return s
}
