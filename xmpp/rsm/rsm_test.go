package rsm

import (
	"errors"
	"testing"

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

func TestRequestRoundTrip(t *testing.T) {
	r := NewRequest()
	r.Max, r.After, r.HasAfter = 10, "abc", true
	got, err := ParseRequest(parse(t, r.Element().String()))
	if err != nil || got != r {
		t.Fatalf("round trip = %+v, %v; want %+v", got, err, r)
	}
	last, err := ParseRequest(parse(t, `<set xmlns='http://jabber.org/protocol/rsm'><max>5</max><before/></set>`))
	if err != nil || !last.HasBefore || last.Before != "" || last.Max != 5 || last.Index != -1 {
		t.Fatalf("last page request = %+v, %v", last, err)
	}
}

func TestRequestErrors(t *testing.T) {
	for _, s := range []string{
		`<set xmlns='http://jabber.org/protocol/rsm'><max>-1</max></set>`,
		`<set xmlns='http://jabber.org/protocol/rsm'><max>ten</max></set>`,
		`<set xmlns='http://jabber.org/protocol/rsm'><index>x</index></set>`,
		`<set xmlns='http://jabber.org/protocol/rsm'><after/></set>`,
		`<set xmlns='urn:other'/>`,
	} {
		if _, err := ParseRequest(parse(t, s)); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseRequest(%s) = %v, want ErrInvalid", s, err)
		}
	}
}

func TestResultRoundTrip(t *testing.T) {
	r := Result{First: "a", FirstIndex: 3, Last: "b", Count: 20}
	got, err := ParseResult(parse(t, r.Element().String()))
	if err != nil || got != r {
		t.Fatalf("round trip = %+v, %v", got, err)
	}
	empty := Result{FirstIndex: -1, Count: 0}
	if s := empty.Element().String(); s != `<set xmlns="http://jabber.org/protocol/rsm"><count>0</count></set>` {
		t.Fatalf("empty page = %s", s)
	}
}
