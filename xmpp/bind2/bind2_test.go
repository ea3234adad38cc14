package bind2

import (
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

func TestRequestRoundTrip(t *testing.T) {
	in := Request{Tag: "Parley", Features: []*stanza.Element{stanza.New("urn:xmpp:sm:3", "enable")}}
	got, err := ParseRequest(in.Element())
	if err != nil || got.Tag != "Parley" || len(got.Features) != 1 {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	if _, err := ParseRequest(stanza.New(NS, "bind").Append(stanza.New(NS, "tag"), stanza.New(NS, "tag"))); err == nil {
		t.Fatal("two tags accepted")
	}
	vars := ParseFeature(Feature([]string{"urn:xmpp:sm:3", "urn:xmpp:csi:0"}))
	if len(vars) != 2 {
		t.Fatalf("feature vars: %v", vars)
	}
}

func TestResource(t *testing.T) {
	u := jid.MustParse("juliet@example.org")
	if r := Resource(u, "Parley", "abc"); r != "Parley/abc" {
		t.Fatalf("resource %q", r)
	}
	if r := Resource(u, strings.Repeat("x", MaxTagLen+1), "abc"); r != "abc" {
		t.Fatalf("long tag kept: %q", r)
	}
	if r := Resource(u, "bad\u0000tag", "abc"); r != "abc" {
		t.Fatalf("invalid tag kept: %q", r)
	}
}
