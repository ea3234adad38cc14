package sm

import (
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

func parse(t *testing.T, s string) *stanza.Element {
	t.Helper()
	el, err := stream.ParseElement([]byte(s), stream.DefaultLimits())
	if err != nil {
		t.Fatalf("parse %s: %v", s, err)
	}
	return el
}

func TestEnableRoundTrip(t *testing.T) {
	e, err := ParseEnable(parse(t, `<enable xmlns='urn:xmpp:sm:3' resume='1' max='300'/>`))
	if err != nil || !e.Resume || e.Max != 300 {
		t.Fatalf("ParseEnable = %+v, %v", e, err)
	}
	if _, err := ParseEnable(parse(t, `<enable xmlns='urn:xmpp:sm:3' resume='yes'/>`)); err == nil {
		t.Fatal("resume='yes' accepted")
	}
	got, err := ParseEnable(e.Element())
	if err != nil || got != e {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
}

func TestEnabledNeedsIDToResume(t *testing.T) {
	if _, err := ParseEnabled(parse(t, `<enabled xmlns='urn:xmpp:sm:3' resume='true'/>`)); err == nil {
		t.Fatal("resumable <enabled/> without id accepted")
	}
	in := Enabled{ID: "abc", Resume: true, Max: 60}
	out, err := ParseEnabled(in.Element())
	if err != nil || out != in {
		t.Fatalf("round trip: %+v, %v", out, err)
	}
}

func TestResumeAndH(t *testing.T) {
	r, err := ParseResume(parse(t, `<resume xmlns='urn:xmpp:sm:3' previd='x' h='4294967295'/>`))
	if err != nil || r.H != 1<<32-1 || r.PrevID != "x" {
		t.Fatalf("ParseResume = %+v, %v", r, err)
	}
	for _, bad := range []string{
		`<resume xmlns='urn:xmpp:sm:3' previd='x' h='4294967296'/>`,
		`<resume xmlns='urn:xmpp:sm:3' previd='x' h='-1'/>`,
		`<resume xmlns='urn:xmpp:sm:3' h='1'/>`,
		`<resume xmlns='urn:xmpp:sm:3' previd='x'/>`,
	} {
		if _, err := ParseResume(parse(t, bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
	if Delta(2, 1<<32-2) != 4 {
		t.Fatalf("Delta does not wrap: %d", Delta(2, 1<<32-2))
	}
}

func TestFailed(t *testing.T) {
	f := Failed{Condition: stanza.ItemNotFound, H: 7, HasH: true}
	s := string(f.Element().Bytes())
	if !strings.Contains(s, "h=\"7\"") && !strings.Contains(s, "h='7'") {
		t.Fatalf("no h in %s", s)
	}
	g, err := ParseFailed(parse(t, s))
	if err != nil || g != f {
		t.Fatalf("round trip %s: %+v, %v", s, g, err)
	}
}

func TestHandledCountTooHigh(t *testing.T) {
	se := stream.ParseStreamError(HandledCountTooHigh(10, 8).Element())
	if se.Condition != stream.UndefinedCondition || !Is(se.App, NameHandledCountTooHigh) ||
		se.App.Get("h") != "10" || se.App.Get("send-count") != "8" {
		t.Fatalf("stream error: %+v", se)
	}
}
