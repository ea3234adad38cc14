package carbons

import (
	"errors"
	"testing"

	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

func parse(t *testing.T, s string) *stanza.Element {
	t.Helper()
	el, err := stream.ParseElement([]byte(s), stream.DefaultLimits())
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return el
}

func TestEligible(t *testing.T) {
	for _, c := range []struct {
		msg  string
		d    Direction
		want bool
	}{
		{`<message xmlns='jabber:client' type='chat'><body>x</body></message>`, Sent, true},
		{`<message xmlns='jabber:client' type='chat'/>`, Received, true},
		{`<message xmlns='jabber:client'><body>x</body></message>`, Received, true},
		{`<message xmlns='jabber:client' type='normal'/>`, Received, false},
		{`<message xmlns='jabber:client' type='headline'><body>x</body></message>`, Received, false},
		{`<message xmlns='jabber:client' type='headline'/>`, Received, false},
		{`<message xmlns='jabber:client'><received xmlns='urn:xmpp:receipts' id='1'/></message>`, Sent, true},
		{`<message xmlns='jabber:client' type='groupchat'><body>x</body></message>`, Received, false},
		{`<message xmlns='jabber:client' type='error'><body>x</body></message>`, Received, false},
		{`<message xmlns='jabber:client' type='chat'><body>x</body><private xmlns='urn:xmpp:carbons:2'/></message>`, Sent, false},
		{`<message xmlns='jabber:client' type='chat'><body>x</body><no-copy xmlns='urn:xmpp:hints'/></message>`, Received, false},
		{`<message xmlns='jabber:client' type='chat'><x xmlns='http://jabber.org/protocol/muc#user'/><body>pm</body></message>`, Received, false},
		{`<message xmlns='jabber:client' type='chat'><x xmlns='http://jabber.org/protocol/muc#user'/><body>pm</body></message>`, Sent, true},
		{`<message xmlns='jabber:client'><x xmlns='http://jabber.org/protocol/muc#user'><invite from='a@b'/></x></message>`, Received, true},
		{`<message xmlns='jabber:client'><x xmlns='jabber:x:conference' jid='room@muc'/></message>`, Received, true},
	} {
		if got := Eligible(parse(t, c.msg), c.d); got != c.want {
			t.Errorf("Eligible(%s, %v) = %v, want %v", c.msg, c.d, got, c.want)
		}
	}
}

func TestWrapUnwrap(t *testing.T) {
	romeo := jid.MustParse("romeo@montague.example")
	to := jid.MustParse("romeo@montague.example/garden")
	msg := stanza.NewMessage("chat", "juliet@capulet.example/balcony", "Neither, fair saint")
	msg.Set("from", "romeo@montague.example/home")
	w := Wrap(Sent, romeo, to, msg)
	// Through the wire and back.
	got := parse(t, w.String())
	if got.From() != "romeo@montague.example" || got.To() != to.String() || got.Type() != "chat" {
		t.Fatalf("wrapper attributes: %s", got)
	}
	d, inner, err := Unwrap(got, to)
	if err != nil || d != Sent || inner.ChildText("", "body") != "Neither, fair saint" {
		t.Fatalf("Unwrap = %v, %v, %v", d, inner, err)
	}
	// A carbon from anyone but the account is a forgery (§11).
	forged := Wrap(Received, jid.MustParse("tybalt@capulet.example"), romeo, msg)
	if _, _, err := Unwrap(parse(t, forged.String()), romeo); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Unwrap(forged) = %v, want ErrInvalid", err)
	}
	if _, _, err := Unwrap(msg, romeo); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Unwrap(plain message) = %v", err)
	}
}
