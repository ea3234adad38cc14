package adhoc_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/mod/adhoc"
	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/xmpp/form"
)

// TestLinksFormRoundTrip: the s2s-list result form reads back as the
// links it was made of, through its XML.
func TestLinksFormRoundTrip(t *testing.T) {
	since := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	links := []module.FederationLink{
		{Local: "a.example", Remote: "b.example", State: "ready", Auth: "SASL EXTERNAL", TLS: "TLS 1.3", Since: since},
		{Local: "a.example", Remote: "b.example", Incoming: true, State: "ready", Auth: "dialback", TLS: "TLS 1.2", Since: since.Add(time.Minute)},
		{Local: "a.example", Remote: "c.example", State: "connecting"},
	}
	f, err := form.Parse(adhoc.LinksForm(links).Element())
	if err != nil {
		t.Fatal(err)
	}
	got, err := adhoc.ParseLinks(f)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, links) {
		t.Errorf("got %+v\nwant %+v", got, links)
	}
	if got, err := adhoc.ParseLinks(adhoc.LinksForm(nil)); err != nil || len(got) != 0 {
		t.Errorf("no links: %+v, %v", got, err)
	}

	// A column shorter than the others, another form type.
	bad := adhoc.LinksForm(links)
	bad.Field("tls").Values = bad.Field("tls").Values[:1]
	if _, err := adhoc.ParseLinks(bad); err == nil {
		t.Error("a short column was accepted")
	}
	if _, err := adhoc.ParseLinks(form.New(form.TypeResult, "urn:example:other")); err == nil {
		t.Error("another FORM_TYPE was accepted")
	}
}
