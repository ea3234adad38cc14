package stream

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/xmpp/stanza"
)

func TestStreamErrorElement(t *testing.T) {
	app := stanza.New("urn:example:app", "too-many")
	e := &Error{Condition: PolicyViolation, Text: "stop <that>", App: app}
	got := e.Element().String()
	want := `<error xmlns="http://etherx.jabber.org/streams"><policy-violation xmlns="urn:ietf:params:xml:ns:xmpp-streams"/>` +
		`<text xmlns="urn:ietf:params:xml:ns:xmpp-streams" xml:lang="en">stop &lt;that&gt;</text><too-many xmlns="urn:example:app"/></error>`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	// A received stream error parses back, through the decoder.
	in := "<stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>no</text><x xmlns='urn:app'/></stream:error>"
	d := NewDecoder(stringsReader(in), Limits{})
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	el, err := d.Next()
	if err != nil {
		t.Fatal(err)
	}
	pe := ParseStreamError(el)
	if pe == nil || pe.Condition != HostUnknown || pe.Text != "no" || pe.App == nil || pe.App.Name.Space != "urn:app" {
		t.Fatalf("ParseStreamError: %+v", pe)
	}
	back := ParseStreamError(e.Element())
	if back.Condition != PolicyViolation || back.Text != e.Text || back.App.Name != app.Name {
		t.Fatalf("round trip: %+v", back)
	}
	unknown := stanza.New(stanza.NSStream, "error").Append(stanza.New(NSStreamErrors, "made-up"))
	if pe := ParseStreamError(unknown); pe.Condition != UndefinedCondition {
		t.Fatalf("unknown condition: %v", pe.Condition)
	}
	if ParseStreamError(stanza.New(stanza.NSClient, "error")) != nil {
		t.Fatal("stanza error parsed as a stream error")
	}
	if (&Error{}).Element().FirstElement().Name.Local != string(UndefinedCondition) {
		t.Fatal("empty condition not written as undefined-condition")
	}
}

func TestErrorIsAndMessage(t *testing.T) {
	err := fmt.Errorf("c2s: %w", errorf(RestrictedXML, "comments are not allowed"))
	if !errors.Is(err, &Error{Condition: RestrictedXML}) || errors.Is(err, &Error{Condition: NotWellFormed}) {
		t.Fatal("errors.Is by condition")
	}
	if s := err.Error(); s != "c2s: stream error: restricted-xml: comments are not allowed" {
		t.Fatalf("message %q", s)
	}
	for _, c := range []Condition{BadFormat, BadNamespacePrefix, Conflict, ConnectionTimeout, HostGone, HostUnknown,
		ImproperAddressing, InternalServerError, InvalidFrom, InvalidNamespace, InvalidXML, NotAuthorized, NotWellFormed,
		PolicyViolation, RemoteConnectionFailed, Reset, ResourceConstraint, RestrictedXML, SeeOtherHost, SystemShutdown,
		UndefinedCondition, UnsupportedEncoding, UnsupportedFeature, UnsupportedStanzaType, UnsupportedVersion} {
		el := (&Error{Condition: c}).Element()
		if pe := ParseStreamError(el); pe.Condition != c {
			t.Fatalf("%s parsed as %s", c, pe.Condition)
		}
	}
}

func TestAppendHeader(t *testing.T) {
	h := Header{
		To: "example.com", From: "a'b\"<c>&d@x", ID: "id\t1", Version: "1.0", Lang: "en", ContentNS: stanza.NSServer,
		Attr: []stanza.Attr{
			{Name: xmlName("xmlns", "db"), Value: "jabber:server:dialback"},
			{Name: xmlName("", "extra"), Value: "v"},
			{Name: xmlName("", "to"), Value: "ignored duplicate"},
			{Name: xmlName("urn:x", "y"), Value: "z"},
			{Name: xmlName("", "bad name"), Value: "skipped"},
			{Name: xmlName("xmlns", "stream"), Value: "urn:wrong"},
		},
	}
	out := string(AppendHeader(nil, h))
	if !strings.HasPrefix(out, "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'") {
		t.Fatalf("prefix: %s", out)
	}
	d := NewDecoder(strings.NewReader(out+"<db:result/>"+Close), Limits{})
	got, err := d.ReadHeader()
	if err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	if got.To != h.To || got.From != h.From || got.ID != h.ID || got.Version != h.Version || got.Lang != h.Lang || got.ContentNS != h.ContentNS {
		t.Fatalf("got %+v from %s", got, out)
	}
	want := map[string]string{"extra": "v", "urn:x y": "z", "xmlns db": "jabber:server:dialback", "xmlns ns1": "urn:x"}
	if len(got.Attr) != len(want) {
		t.Fatalf("attrs %v from %s", got.Attr, out)
	}
	for _, a := range got.Attr {
		k := strings.TrimSpace(a.Name.Space + " " + a.Name.Local)
		if want[k] != a.Value {
			t.Fatalf("attr %v from %s", a, out)
		}
	}
	el, err := d.Next()
	if err != nil || el.Name != xmlName("jabber:server:dialback", "result") {
		t.Fatalf("%v %v", el, err)
	}
	if _, err := d.Next(); err == nil || err.Error() != "EOF" {
		t.Fatalf("close: %v", err)
	}
	if s := string(AppendHeader(nil, Header{})); !strings.Contains(s, "xmlns='jabber:client'") {
		t.Fatalf("default content namespace: %s", s)
	}
}

// see-other-host carries the other host as its content (RFC 6120
// §4.9.3.19), both ways.
func TestSeeOtherHost(t *testing.T) {
	e := &Error{Condition: SeeOtherHost, OtherHost: "[2001:db8::1]:9552"}
	want := `<error xmlns="http://etherx.jabber.org/streams"><see-other-host xmlns="urn:ietf:params:xml:ns:xmpp-streams">[2001:db8::1]:9552</see-other-host></error>`
	if got := e.Element().String(); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if back := ParseStreamError(e.Element()); back.Condition != SeeOtherHost || back.OtherHost != e.OtherHost {
		t.Fatalf("round trip: %+v", back)
	}
	// Only see-other-host has content.
	if got := (&Error{Condition: SystemShutdown, OtherHost: "x"}).Element().String(); strings.Contains(got, ">x<") {
		t.Fatalf("content on another condition: %s", got)
	}
}
