package mam

import (
	"errors"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/rsm"
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

func TestQueryRoundTrip(t *testing.T) {
	q := NewQuery()
	q.QueryID = "f27"
	q.With = jid.MustParse("juliet@capulet.lit")
	q.Start = time.Date(2010, 6, 7, 0, 0, 0, 0, time.UTC)
	q.End = time.Date(2010, 7, 7, 13, 23, 54, 500000000, time.UTC)
	q.AfterID, q.BeforeID, q.IDs = "a", "b", []string{"x", "y"}
	q.RSM.Max, q.RSM.Before, q.RSM.HasBefore = 10, "", true
	q.FlipPage = true
	got, err := ParseQuery(parse(t, q.Element().String()))
	if err != nil {
		t.Fatal(err)
	}
	if got.QueryID != "f27" || !got.With.Equal(q.With) || !got.Start.Equal(q.Start) || !got.End.Equal(q.End) ||
		got.AfterID != "a" || got.BeforeID != "b" || len(got.IDs) != 2 || got.RSM != q.RSM || !got.FlipPage {
		t.Fatalf("round trip: %+v", got)
	}
	empty, err := ParseQuery(parse(t, `<query xmlns='urn:xmpp:mam:2'/>`))
	if err != nil || empty.RSM.Max != -1 || !empty.With.IsZero() {
		t.Fatalf("empty query = %+v, %v", empty, err)
	}
}

func TestQueryErrors(t *testing.T) {
	form := func(fields string) string {
		return `<query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data' type='submit'>` +
			`<field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field>` + fields + `</x></query>`
	}
	for _, c := range []struct {
		q    string
		want stanza.Condition
	}{
		{form(`<field var='start'><value>yesterday</value></field>`), stanza.NotAcceptable},
		{form(`<field var='with'><value>@@</value></field>`), stanza.NotAcceptable},
		{form(`<field var='with'/>`), stanza.NotAcceptable},
		{form(`<field var='{urn:x}fulltext'><value>x</value></field>`), stanza.FeatureNotImplemented},
		{`<query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>urn:other</value></field></x></query>`, stanza.BadRequest},
		{`<query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data' type='form'/></query>`, stanza.BadRequest},
		{`<query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data' type='nonsense'/></query>`, stanza.BadRequest},
		{`<query xmlns='urn:xmpp:mam:2'><set xmlns='http://jabber.org/protocol/rsm'><max>-3</max></set></query>`, stanza.BadRequest},
		{`<query xmlns='urn:xmpp:mam:2' node='n'/>`, stanza.FeatureNotImplemented},
	} {
		_, err := ParseQuery(parse(t, c.q))
		var se *stanza.Error
		if !errors.As(err, &se) || se.Condition != c.want {
			t.Errorf("ParseQuery(%s) = %v, want %s", c.q, err, c.want)
		}
	}
}

func TestResultAndFin(t *testing.T) {
	msg := stanza.NewMessage("chat", "romeo@montague.lit", "hail")
	stamp := time.Date(2010, 7, 10, 23, 8, 25, 123000000, time.UTC)
	el := Result{QueryID: "q", ID: "id1", Stamp: stamp, Message: msg}.Element("juliet@capulet.lit", "juliet@capulet.lit/x", "m1")
	r, ok, err := ParseResult(parse(t, el.String()))
	if !ok || err != nil || r.ID != "id1" || r.QueryID != "q" || !r.Stamp.Equal(stamp) || r.Message.ChildText("", "body") != "hail" {
		t.Fatalf("ParseResult = %+v, %v, %v", r, ok, err)
	}
	if _, ok, _ := ParseResult(msg); ok {
		t.Fatal("a plain message parsed as a result")
	}
	fin := Fin{Complete: true, Set: rsm.Result{First: "a", FirstIndex: 0, Last: "b", Count: 2}}
	got, err := ParseFin(parse(t, fin.Element().String()))
	if err != nil || got != fin {
		t.Fatalf("ParseFin = %+v, %v", got, err)
	}
}

func TestPrefs(t *testing.T) {
	p := Prefs{Default: DefaultRoster, Always: []jid.JID{jid.MustParse("romeo@montague.lit")}, Never: []jid.JID{jid.MustParse("montague@montague.lit")}}
	got, err := ParsePrefs(parse(t, p.Element().String()))
	if err != nil || got.Default != "roster" || len(got.Always) != 1 || len(got.Never) != 1 {
		t.Fatalf("ParsePrefs = %+v, %v", got, err)
	}
	if s := (Prefs{Default: DefaultAlways}).Element().String(); s != `<prefs xmlns="urn:xmpp:mam:2" default="always"><always/><never/></prefs>` {
		t.Fatalf("empty lists: %s", s)
	}
	var se *stanza.Error
	if _, err := ParsePrefs(parse(t, `<prefs xmlns='urn:xmpp:mam:2' default='sometimes'/>`)); !errors.As(err, &se) || se.Condition != stanza.BadRequest {
		t.Fatalf("bad default: %v", err)
	}
}

func TestMetadata(t *testing.T) {
	if s := (Metadata{}).Element().String(); s != `<metadata xmlns="urn:xmpp:mam:2"/>` {
		t.Fatalf("empty metadata: %s", s)
	}
	m := Metadata{Start: Bound{"a", time.Unix(1, 0).UTC()}, End: Bound{"b", time.Unix(2, 0).UTC()}}
	got, err := ParseMetadata(parse(t, m.Element().String()))
	if err != nil || got != m {
		t.Fatalf("ParseMetadata = %+v, %v", got, err)
	}
}
