package roster

import (
	"testing"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

func TestHandshakeAndPresence(t *testing.T) {
	h := newHarness(t)
	alice, bob := h.user("alice"), h.user("bob")
	a := h.online(alice, "a")
	b := h.online(bob, "b")
	h.take(a)
	h.take(b)

	// Alice asks; the server stamps her bare JID and pushes ask=subscribe.
	h.send(a, presence(stanza.TypeSubscribe, "bob@example.com"))
	ps := pushes(h.take(a))
	if len(ps) != 1 || ps[0].Items[0].Ask != "subscribe" || ps[0].Items[0].Subscription != "none" {
		t.Fatalf("alice's push after subscribe: %+v", ps)
	}
	got := find(h.take(b), "presence", stanza.TypeSubscribe, "alice@example.com")
	if len(got) != 1 {
		t.Fatalf("bob did not get alice's request from her bare JID")
	}

	h.send(b, presence(stanza.TypeSubscribed, "alice@example.com"))
	bs := h.take(b)
	if ps := pushes(bs); len(ps) != 1 || ps[0].Items[0].Subscription != "from" {
		t.Fatalf("bob's push after approving: %+v", ps)
	}
	as := h.take(a)
	if len(find(as, "presence", stanza.TypeSubscribed, "bob@example.com")) != 1 {
		t.Error("alice did not get subscribed")
	}
	if len(find(as, "presence", "", "bob@example.com/b")) != 1 {
		t.Error("alice did not get bob's presence after the approval")
	}
	if ps := pushes(as); len(ps) != 1 || ps[0].Items[0].Subscription != "to" || ps[0].Items[0].Ask != "" {
		t.Errorf("alice's push after approval: %+v", ps)
	}

	h.send(b, presence(stanza.TypeSubscribe, "alice@example.com"))
	h.send(a, presence(stanza.TypeSubscribed, "bob@example.com"))
	if len(find(h.take(b), "presence", "", "alice@example.com/a")) != 1 {
		t.Error("bob did not get alice's presence")
	}
	h.take(a)
	for _, pair := range [][2]string{{"alice", "bob"}, {"bob", "alice"}} {
		it, ok := h.item(h.jid(pair[0]), h.jid(pair[1]))
		if !ok || it.Subscription != storage.SubBoth || it.AskOut {
			t.Errorf("%s's item for %s = %+v, want both", pair[0], pair[1], it)
		}
	}

	// Presence updates now flow both ways, to every resource.
	a2 := h.online(alice, "a2")
	bs = h.take(b)
	if len(find(bs, "presence", "", "alice@example.com/a2")) != 1 {
		t.Error("bob did not see alice's second resource")
	}
	as2 := h.take(a2)
	if len(find(as2, "presence", "", "bob@example.com/b")) != 1 {
		t.Error("probe on login did not bring bob's presence")
	}
	if len(find(as2, "presence", "", "alice@example.com/a")) != 1 {
		t.Error("alice's new resource did not get her other resource's presence")
	}
	if len(find(h.take(a), "presence", "", "alice@example.com/a2")) != 1 {
		t.Error("alice's first resource did not see the second")
	}

	// Abrupt end: bob sees unavailable, last activity is recorded once
	// alice's last session is gone.
	h.end(a)
	if len(find(h.take(b), "presence", stanza.TypeUnavailable, "alice@example.com/a")) != 1 {
		t.Error("no unavailable for a session that ended without one")
	}
	if _, _, err := h.db.Stores().Last.LastActivity(h.ctx, alice); err == nil {
		t.Error("last activity recorded while a session remains")
	}
	unav := presence(stanza.TypeUnavailable, "")
	unav.Append(stanza.New(stanza.NSClient, "status").AppendText("gone fishing"))
	h.send(a2, unav)
	if len(find(h.take(b), "presence", stanza.TypeUnavailable, "alice@example.com/a2")) != 1 {
		t.Error("no unavailable broadcast")
	}
	h.end(a2)
	if got := h.take(b); len(got) != 0 {
		t.Errorf("a second unavailable after the broadcast one: %v", got)
	}
	if _, status, err := h.db.Stores().Last.LastActivity(h.ctx, alice); err != nil || status != "gone fishing" {
		t.Errorf("last activity = %q, %v", status, err)
	}
}

func TestRequestWhileOffline(t *testing.T) {
	h := newHarness(t)
	alice, bob := h.user("alice"), h.user("bob")
	a := h.online(alice, "a")
	h.send(a, presence(stanza.TypeSubscribe, "bob@example.com"))

	b := h.login(bob, "b")
	if got := find(h.take(b), "presence", stanza.TypeSubscribe, ""); len(got) != 0 {
		t.Fatal("a request delivered before initial presence")
	}
	h.send(b, presence("", ""))
	got := find(h.take(b), "presence", stanza.TypeSubscribe, "alice@example.com")
	if len(got) != 1 {
		t.Fatal("stored request not delivered at initial presence")
	}
	if h.available[b] != 1 {
		t.Errorf("SessionAvailable emitted %d times", h.available[b])
	}
	// Still pending: delivered again at the next login until answered.
	h.end(b)
	b2 := h.online(bob, "b2")
	if got := find(h.take(b2), "presence", stanza.TypeSubscribe, "alice@example.com"); len(got) != 1 {
		t.Fatal("request not redelivered while pending")
	}
	h.send(b2, presence(stanza.TypeUnsubscribed, "alice@example.com"))
	if got := find(h.take(a), "presence", stanza.TypeUnsubscribed, "bob@example.com"); len(got) != 1 {
		t.Error("alice not told of the refusal")
	}
	if it, _ := h.item(alice, bob); it.AskOut || it.Subscription != storage.SubNone {
		t.Errorf("alice's item after refusal: %+v", it)
	}
	h.end(b2)
	b3 := h.online(bob, "b3")
	if got := find(h.take(b3), "presence", stanza.TypeSubscribe, ""); len(got) != 0 {
		t.Error("an answered request was redelivered")
	}
}

func TestPreApproval(t *testing.T) {
	h := newHarness(t)
	alice, bob := h.user("alice"), h.user("bob")
	a := h.online(alice, "a")
	b := h.online(bob, "b")
	h.take(a)

	h.send(b, presence(stanza.TypeSubscribed, "alice@example.com"))
	if got := h.take(a); len(got) != 0 {
		t.Fatalf("a pre-approval was routed: %v", got)
	}
	ps := pushes(h.take(b))
	if len(ps) != 1 || !ps[0].Items[0].Approved || ps[0].Items[0].Subscription != "none" {
		t.Fatalf("pre-approval push: %+v", ps)
	}

	h.send(a, presence(stanza.TypeSubscribe, "bob@example.com"))
	as := h.take(a)
	if len(find(as, "presence", stanza.TypeSubscribed, "bob@example.com")) != 1 {
		t.Error("no automatic approval")
	}
	if len(find(as, "presence", "", "bob@example.com/b")) != 1 {
		t.Error("no presence after the automatic approval")
	}
	bs := h.take(b)
	if len(find(bs, "presence", stanza.TypeSubscribe, "")) != 0 {
		t.Error("a pre-approved request reached bob")
	}
	if ps := pushes(bs); len(ps) != 1 || ps[0].Items[0].Subscription != "from" || ps[0].Items[0].Approved {
		t.Errorf("bob's push: %+v", ps)
	}
	if it, _ := h.item(alice, bob); it.Subscription != storage.SubTo {
		t.Errorf("alice's item: %+v", it)
	}
}

func TestDirectedPresenceAndProbes(t *testing.T) {
	h := newHarness(t)
	alice, carol := h.user("alice"), h.user("carol")
	c := h.online(carol, "c")
	a := h.online(alice, "a")
	h.take(c)

	// Directed presence reaches a non-contact.
	h.send(a, presence("", "carol@example.com/c"))
	if len(find(h.take(c), "presence", "", "alice@example.com/a")) != 1 {
		t.Fatal("directed presence not delivered")
	}
	// Carol probes alice: she is not subscribed, so she gets no presence
	// (the unsubscribed answer is consumed by her server: she had no
	// subscription to cancel, Appendix A.3.4).
	h.send(c, presence(stanza.TypeProbe, "alice@example.com"))
	if cs := h.take(c); len(cs) != 0 {
		t.Errorf("unauthorised probe answered with %v", cs)
	}
	// Alice leaves without unavailable: carol is told.
	h.end(a)
	if len(find(h.take(c), "presence", stanza.TypeUnavailable, "alice@example.com/a")) != 1 {
		t.Error("directed presence recipient not told of the logout")
	}
}

func TestPriority(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int
	}{{"", 0}, {"5", 5}, {" -1 ", -1}, {"127", 127}, {"-128", -128}, {"128", 0}, {"x", 0}} {
		p := presence("", "")
		if tt.in != "" {
			p.Append(stanza.New(stanza.NSClient, "priority").AppendText(tt.in))
		}
		if got := parsePriority(p); got != tt.want {
			t.Errorf("priority %q = %d, want %d", tt.in, got, tt.want)
		}
	}
	h := newHarness(t)
	alice := h.user("alice")
	a := h.login(alice, "a")
	p := presence("", "")
	p.Append(stanza.New(stanza.NSClient, "priority").AppendText("-5"))
	h.send(a, p)
	if !a.Available() || a.Priority() != -5 {
		t.Errorf("session available=%v priority=%d", a.Available(), a.Priority())
	}
	// RFC 6121 §8.5.2.1.1: a negative priority never gets bare-JID messages.
	b := h.login(h.user("bob"), "b")
	h.take(a)
	h.send(b, stanza.NewMessage(stanza.TypeChat, "alice@example.com", "hi"))
	if got := find(h.take(a), "message", stanza.TypeChat, ""); len(got) != 0 {
		t.Error("a negative-priority resource got a bare-JID message")
	}
}
