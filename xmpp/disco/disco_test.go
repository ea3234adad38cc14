package disco

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

func TestInfoRoundTrip(t *testing.T) {
	form := stanza.New(NSData, "x", "type", "result")
	in := Info{
		Node: "http://jabber.org/protocol/commands",
		Identities: []Identity{
			{Category: "server", Type: "im", Name: "Parley"},
			{Category: "client", Type: "pc", Name: "Ψ", Lang: "el"},
		},
		Features: []string{NSInfo, NSItems},
		Forms:    []*stanza.Element{form},
	}
	el := in.Element()
	s := el.String()
	for _, want := range []string{
		`node="http://jabber.org/protocol/commands"`,
		`category="server"`,
		`xml:lang="el"`,
		`var="` + NSItems + `"`,
		`xmlns="jabber:x:data"`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("encoding %s lacks %s", s, want)
		}
	}
	out, err := ParseInfo(el)
	if err != nil {
		t.Fatal(err)
	}
	if out.Node != in.Node || !reflect.DeepEqual(out.Identities, in.Identities) || !reflect.DeepEqual(out.Features, in.Features) {
		t.Errorf("round trip: got %+v, want %+v", out, in)
	}
	if len(out.Forms) != 1 || out.Forms[0].Get("type") != "result" {
		t.Errorf("forms not kept: %+v", out.Forms)
	}
	if !out.HasFeature(NSItems) || out.HasFeature("urn:xmpp:ping") {
		t.Error("HasFeature wrong")
	}
}

func TestInfoEmptyRequest(t *testing.T) {
	s := Info{}.Element().String()
	if s != `<query xmlns="`+NSInfo+`"/>` && s != `<query xmlns="`+NSInfo+`"></query>` {
		t.Errorf("empty request = %s", s)
	}
}

func TestParseInfoErrors(t *testing.T) {
	cases := map[string]*stanza.Element{
		"wrong ns":       stanza.New(NSItems, "query"),
		"no category":    stanza.New(NSInfo, "query").Append(stanza.New(NSInfo, "identity", "type", "im")),
		"no type":        stanza.New(NSInfo, "query").Append(stanza.New(NSInfo, "identity", "category", "server")),
		"feature no var": stanza.New(NSInfo, "query").Append(stanza.New(NSInfo, "feature")),
		"nil":            nil,
	}
	for name, el := range cases {
		if _, err := ParseInfo(el); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
}

func TestItemsRoundTrip(t *testing.T) {
	in := Items{Node: "music", Items: []Item{
		{JID: jid.MustParse("conference.example.org"), Name: "Chatrooms"},
		{JID: jid.MustParse("catalog.example.org"), Node: "books"},
	}}
	out, err := ParseItems(in.Element())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out, in) {
		t.Errorf("got %+v, want %+v", out, in)
	}
	bad := stanza.New(NSItems, "query").Append(stanza.New(NSItems, "item", "jid", "a@b@"))
	if _, err := ParseItems(bad); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad jid: err = %v", err)
	}
	if _, err := ParseItems(stanza.New(NSInfo, "query")); !errors.Is(err, ErrInvalid) {
		t.Errorf("wrong ns: err = %v", err)
	}
}
