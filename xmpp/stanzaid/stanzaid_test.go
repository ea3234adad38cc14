package stanzaid

import (
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

func TestStripAndAdd(t *testing.T) {
	msg, err := stream.ParseElement([]byte(`<message xmlns='jabber:client'><body>hi</body>`+
		`<stanza-id xmlns='urn:xmpp:sid:0' by='juliet@capulet.lit' id='forged'/>`+
		`<stanza-id xmlns='urn:xmpp:sid:0' by='room@muc.example' id='kept'/>`+
		`<origin-id xmlns='urn:xmpp:sid:0' id='o1'/></message>`), stream.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	own := func(by string) bool { return by == "juliet@capulet.lit" }
	before := msg.String()
	if !NeedsStrip(msg, own) {
		t.Fatal("NeedsStrip = false")
	}
	if n := Strip(msg, own); n != 1 {
		t.Fatalf("Strip removed %d, want 1", n)
	}
	if msg.String() == before || strings.Contains(msg.String(), "forged") {
		t.Fatalf("after strip: %s", msg)
	}
	if Find(msg, "room@muc.example") != "kept" || OriginID(msg) != "o1" {
		t.Fatalf("strip removed too much: %s", msg)
	}
	Add(msg, StanzaID{ID: "real", By: "juliet@capulet.lit"})
	Add(msg, StanzaID{ID: "real2", By: "juliet@capulet.lit"})
	if got := Find(msg, "juliet@capulet.lit"); got != "real2" || len(All(msg)) != 2 {
		t.Fatalf("after add: %s", msg)
	}
	if Strip(stanza.NewMessage("chat", "a@b", "x"), own) != 0 {
		t.Fatal("stripped a message without stanza-id")
	}
}

func TestNewUnique(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := New()
		if seen[id] || len(id) < 20 {
			t.Fatalf("bad id %q", id)
		}
		seen[id] = true
	}
}
