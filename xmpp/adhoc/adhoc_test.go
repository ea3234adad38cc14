package adhoc

import (
	"errors"
	"testing"

	"github.com/parley-xmpp/parley/xmpp/form"
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

func TestRoundTrip(t *testing.T) {
	f := form.New(form.TypeForm, "http://jabber.org/protocol/admin")
	c := &Command{Node: "n", SessionID: "s1", Status: StatusExecuting,
		Actions: &Actions{Execute: ActionComplete, Allowed: []Action{ActionComplete}},
		Notes:   []Note{{Type: NoteWarn, Text: "careful"}}, Form: f}
	got, err := Parse(parse(t, c.Element().String()))
	if err != nil {
		t.Fatal(err)
	}
	if got.Node != "n" || got.SessionID != "s1" || got.Status != StatusExecuting ||
		got.Actions == nil || got.Actions.Execute != ActionComplete || len(got.Actions.Allowed) != 1 ||
		len(got.Notes) != 1 || got.Notes[0].Type != NoteWarn || got.Notes[0].Text != "careful" ||
		got.Form == nil || got.Form.FormType() != "http://jabber.org/protocol/admin" {
		t.Fatalf("round trip: %+v", got)
	}
}

func TestParseErrors(t *testing.T) {
	for _, s := range []string{
		`<command xmlns='http://jabber.org/protocol/commands'/>`,
		`<command xmlns='http://jabber.org/protocol/commands' node='a' sessionid=''/>`,
		`<command xmlns='http://jabber.org/protocol/commands' node='a' status='weird'/>`,
		`<command xmlns='http://jabber.org/protocol/commands' node='a'><note type='fatal'/></command>`,
		`<command xmlns='http://jabber.org/protocol/commands' node='a'><x xmlns='jabber:x:data' type='nope'/></command>`,
		`<command xmlns='other' node='a'/>`,
	} {
		if _, err := Parse(parse(t, s)); !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%s) = %v, want ErrInvalid", s, err)
		}
	}
	_, err := Parse(parse(t, `<command xmlns='http://jabber.org/protocol/commands' node='a' action='jump'/>`))
	if !errors.Is(err, ErrMalformedAction) {
		t.Errorf("unknown action: %v", err)
	}
}

func TestError(t *testing.T) {
	e := Error(SessionExpired, "")
	if e.Condition != stanza.NotAllowed || e.Type != stanza.ErrCancel || e.App.Name.Local != SessionExpired {
		t.Fatalf("session-expired: %+v", e)
	}
	e = Error(BadAction, "x")
	if e.Condition != stanza.BadRequest || e.Type != stanza.ErrModify || e.App.Name.Space != NS {
		t.Fatalf("bad-action: %+v", e)
	}
}
