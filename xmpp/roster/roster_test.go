package roster

import (
	"errors"
	"slices"
	"testing"

	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

func item(attrs ...string) *stanza.Element { return stanza.New(NS, "item", attrs...) }

func group(name string) *stanza.Element { return stanza.New(NS, "group").AppendText(name) }

func TestDecodeValid(t *testing.T) {
	q := stanza.New(NS, "query", "ver", "7").Append(
		item("jid", "romeo@example.net", "name", "Romeo", "subscription", "both").Append(group("Friends"), group("Lovers")),
		item("jid", "nurse@example.com", "ask", "subscribe", "approved", "true"),
		stanza.New("urn:other", "ignored"),
	)
	got, err := Decode(q)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if got.Ver != "7" || !got.HasVer {
		t.Errorf("ver = %q/%v, want 7/true", got.Ver, got.HasVer)
	}
	if len(got.Items) != 2 {
		t.Fatalf("%d items, want 2", len(got.Items))
	}
	r := got.Items[0]
	if r.JID != jid.MustParse("romeo@example.net") || r.Name != "Romeo" || r.Subscription != SubBoth || !slices.Equal(r.Groups, []string{"Friends", "Lovers"}) {
		t.Errorf("item 0 = %+v", r)
	}
	n := got.Items[1]
	if n.Ask != AskSub || !n.Approved || n.Subscription != "" || len(n.Groups) != 0 {
		t.Errorf("item 1 = %+v", n)
	}
}

func TestDecodeVerPresence(t *testing.T) {
	el := (&Query{HasVer: true}).Element()
	if !el.Has("ver") || el.Get("ver") != "" {
		t.Fatalf("empty ver not written: %s", el)
	}
	q, err := Decode(el)
	if err != nil || !q.HasVer || q.Ver != "" {
		t.Fatalf("Decode(%s) = %+v, %v", el, q, err)
	}
	q, err = Decode(stanza.New(NS, "query"))
	if err != nil || q.HasVer {
		t.Fatalf("absent ver read as present: %+v, %v", q, err)
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		el   *stanza.Element
		want stanza.Condition
	}{
		{"wrong element", stanza.New("jabber:iq:private", "query"), stanza.BadRequest},
		{"no jid", stanza.New(NS, "query").Append(item("name", "x")), stanza.BadRequest},
		{"bad jid", stanza.New(NS, "query").Append(item("jid", "@example.com")), stanza.BadRequest},
		{"unknown subscription", stanza.New(NS, "query").Append(item("jid", "a@b", "subscription", "maybe")), stanza.BadRequest},
		{"duplicate group", stanza.New(NS, "query").Append(item("jid", "a@b").Append(group("X"), group("X"))), stanza.BadRequest},
		{"empty group", stanza.New(NS, "query").Append(item("jid", "a@b").Append(group(""))), stanza.NotAcceptable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(tt.el)
			var se *stanza.Error
			if !errors.As(err, &se) {
				t.Fatalf("Decode error = %v, want a stanza error", err)
			}
			if se.Condition != tt.want {
				t.Errorf("condition = %s, want %s", se.Condition, tt.want)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	in := &Query{Ver: "42", Items: []Item{
		{JID: jid.MustParse("a@example.com"), Name: "A", Subscription: SubTo, Groups: []string{"G1", "G2"}},
		{JID: jid.MustParse("b@example.com"), Subscription: SubNone, Ask: AskSub, Approved: true},
	}}
	out, err := Decode(in.Element())
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if out.Ver != "42" || len(out.Items) != 2 {
		t.Fatalf("round trip = %+v", out)
	}
	for i := range in.Items {
		a, b := in.Items[i], out.Items[i]
		if a.JID != b.JID || a.Name != b.Name || a.Subscription != b.Subscription || a.Ask != b.Ask || a.Approved != b.Approved || !slices.Equal(a.Groups, b.Groups) {
			t.Errorf("item %d: %+v != %+v", i, b, a)
		}
	}
	// Absent optional attributes are not written.
	el := Item{JID: jid.MustParse("c@example.com")}.Element()
	for _, a := range []string{"name", "subscription", "ask", "approved"} {
		if el.Has(a) {
			t.Errorf("attribute %s written for an empty value: %s", a, el)
		}
	}
}

func TestSingle(t *testing.T) {
	if _, err := (&Query{}).Single(); err == nil {
		t.Error("Single on no items succeeded")
	}
	two := &Query{Items: []Item{{JID: jid.MustParse("a@b")}, {JID: jid.MustParse("c@d")}}}
	var se *stanza.Error
	if _, err := two.Single(); !errors.As(err, &se) || se.Condition != stanza.BadRequest {
		t.Errorf("Single on two items: %v", err)
	}
	one := &Query{Items: []Item{{JID: jid.MustParse("a@b")}}}
	if it, err := one.Single(); err != nil || it.JID.String() != "a@b" {
		t.Errorf("Single = %v, %v", it, err)
	}
}
