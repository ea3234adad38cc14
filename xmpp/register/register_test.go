package register

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

func TestParse(t *testing.T) {
	q, err := Parse(parse(t, `<query xmlns='jabber:iq:register'><username>bill</username><password/><x xmlns='jabber:x:data' type='submit'/></query>`))
	if err != nil {
		t.Fatal(err)
	}
	if q.Username != "bill" || !q.HasUsername || !q.HasPassword || q.Password != "" || q.Remove || len(q.Other) != 1 {
		t.Fatalf("parsed %+v", q)
	}
	back, err := Parse(parse(t, q.Element().String()))
	if err != nil || back.Username != "bill" || !back.HasPassword || len(back.Other) != 1 {
		t.Fatalf("round trip %+v %v", back, err)
	}
	if _, err := Parse(parse(t, `<query xmlns='other'/>`)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("foreign query: %v", err)
	}
}

func TestOnlyRemove(t *testing.T) {
	if !OnlyRemove(parse(t, `<query xmlns='jabber:iq:register'><remove/></query>`)) {
		t.Error("lone remove refused")
	}
	if OnlyRemove(parse(t, `<query xmlns='jabber:iq:register'><remove/><username>a</username></query>`)) {
		t.Error("remove with username accepted")
	}
}
