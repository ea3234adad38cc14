package form

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

func TestRoundTrip(t *testing.T) {
	f := New(TypeSubmit, "urn:example")
	f.Add(Field{Var: "with", Type: FieldJIDSingle, Values: []string{"juliet@capulet.lit"}})
	f.Add(Field{Var: "ids", Type: FieldTextMulti, Values: []string{"a", "b"}})
	got, err := Parse(parse(t, f.Element().String()))
	if err != nil {
		t.Fatal(err)
	}
	if got.FormType() != "urn:example" || got.Field("with").Value() != "juliet@capulet.lit" || len(got.Field("ids").Values) != 2 {
		t.Fatalf("round trip: %+v", got)
	}
	if got.Field("nope") != nil {
		t.Fatal("unknown field found")
	}
}

func TestParseErrors(t *testing.T) {
	for _, s := range []string{
		`<x xmlns='jabber:x:data'/>`,
		`<x xmlns='jabber:x:data' type='bogus'/>`,
		`<x xmlns='jabber:x:data' type='submit'><field><value>a</value></field></x>`,
		`<x xmlns='jabber:x:data' type='submit'><field var='a' type='text-single'><value>1</value><value>2</value></field></x>`,
		`<x xmlns='jabber:x:data' type='submit'><field var='a' type='boolean'><value>yes</value></field></x>`,
		`<x xmlns='jabber:x:data' type='submit'><field var='a' type='weird'/></x>`,
		`<x xmlns='jabber:x:data' type='submit'><field var='a'/><field var='a'/></x>`,
		`<y xmlns='jabber:x:data' type='submit'/>`,
	} {
		if _, err := Parse(parse(t, s)); !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%s) = %v, want ErrInvalid", s, err)
		}
	}
}

func TestFind(t *testing.T) {
	q := parse(t, `<query xmlns='q'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>other</value></field></x>`+
		`<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>mine</value></field></x></query>`)
	if x := Find(q, "mine"); x == nil {
		t.Fatal("form not found")
	} else if f, _ := Parse(x); f.FormType() != "mine" {
		t.Fatal("wrong form found")
	}
	if Find(q, "absent") != nil {
		t.Fatal("found a form that is not there")
	}
}

func TestParseBool(t *testing.T) {
	for s, want := range map[string]bool{"1": true, "true": true, "0": false, "false": false} {
		if got, err := ParseBool(s); err != nil || got != want {
			t.Errorf("ParseBool(%q) = %v, %v", s, got, err)
		}
	}
}

func TestUntypedFieldMayHaveSeveralValues(t *testing.T) {
	x := stanza.New(NS, "x", "type", "submit")
	f := stanza.New(NS, "field", "var", "accountjids")
	f.Append(stanza.New(NS, "value").AppendText("a@localhost"), stanza.New(NS, "value").AppendText("b@localhost"))
	x.Append(f)
	got, err := Parse(x)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if v := got.Fields[0].Values; len(v) != 2 || v[1] != "b@localhost" {
		t.Fatalf("values %v", v)
	}
	// A typed single-value field still may not.
	f.Set("type", FieldTextSingle)
	if _, err := Parse(x); err == nil {
		t.Fatal("text-single with two values accepted")
	}
}
