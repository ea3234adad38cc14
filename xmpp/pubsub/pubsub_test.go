package pubsub_test

import (
	"errors"
	"testing"

	"github.com/parley-xmpp/parley/xmpp/form"
	"github.com/parley-xmpp/parley/xmpp/pubsub"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

func reparse(t *testing.T, el *stanza.Element) *stanza.Element {
	t.Helper()
	out, err := stream.ParseElement(el.Bytes(), stream.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestEventRoundTrip(t *testing.T) {
	cases := []pubsub.Event{
		{Node: "n", Items: []pubsub.Item{{ID: "1", Payload: stanza.New("urn:x", "p").AppendText("hi")}}},
		{Node: "n", Retract: []string{"1", "2"}},
		{Node: "n", Delete: true},
		{Node: "n", Purge: true},
	}
	for _, ev := range cases {
		msg := stanza.New(stanza.NSClient, "message").Append(ev.Element())
		got, err := pubsub.ParseEvent(reparse(t, msg))
		if err != nil {
			t.Fatal(err)
		}
		if got.Node != "n" || got.Delete != ev.Delete || got.Purge != ev.Purge || len(got.Items) != len(ev.Items) || len(got.Retract) != len(ev.Retract) {
			t.Fatalf("round trip of %+v = %+v", ev, got)
		}
		if len(ev.Items) == 1 && got.Items[0].Payload.Text() != "hi" {
			t.Fatalf("payload = %s", got.Items[0].Payload)
		}
	}
	if _, err := pubsub.ParseEvent(stanza.New(stanza.NSClient, "message")); !errors.Is(err, pubsub.ErrInvalid) {
		t.Fatalf("no event: %v", err)
	}
	two := stanza.New(pubsub.NS, "item").Append(stanza.New("a", "a"), stanza.New("b", "b"))
	if _, err := pubsub.ParseItem(two); !errors.Is(err, pubsub.ErrInvalid) {
		t.Fatalf("two payloads: %v", err)
	}
}

func TestConfigFormAndPreconditions(t *testing.T) {
	c := pubsub.DefaultPEP()
	if c.AccessModel != pubsub.AccessPresence || c.SendLastPublishedItem != pubsub.SendOnSubAndPresence {
		t.Fatalf("PEP defaults = %+v", c)
	}
	f, err := form.Parse(reparse(t, c.Form(pubsub.NSNodeConfig, form.TypeForm).Element()))
	if err != nil || f.Field("pubsub#access_model").Value() != "presence" {
		t.Fatalf("form: %v %+v", err, f)
	}
	sub := form.New(form.TypeSubmit, pubsub.NSPublishOptions).
		Add(form.Field{Var: "pubsub#access_model", Values: []string{"whitelist"}}).
		Add(form.Field{Var: "pubsub#max_items", Values: []string{"max"}}).
		Add(form.Field{Var: "pubsub#persist_items", Values: []string{"true"}})
	if _, ok := c.Meets(sub); ok {
		t.Fatal("defaults meet a whitelist precondition")
	}
	if err := c.Apply(sub); err != nil {
		t.Fatal(err)
	}
	if field, ok := c.Meets(sub); !ok {
		t.Fatalf("applied config fails its own precondition %s", field)
	}
	if c.MaxItems != pubsub.MaxItemsMax || c.AccessModel != pubsub.AccessWhitelist {
		t.Fatalf("applied = %+v", c)
	}
	// "1" and "true" are the same boolean.
	one := form.New(form.TypeSubmit, pubsub.NSPublishOptions).Add(form.Field{Var: "pubsub#persist_items", Values: []string{"1"}})
	if _, ok := c.Meets(one); !ok {
		t.Fatal("boolean spelled 1 does not match true")
	}
	for _, bad := range []form.Field{
		{Var: "pubsub#unknown", Values: []string{"x"}},
		{Var: "pubsub#max_items", Values: []string{"-3"}},
		{Var: "pubsub#access_model", Values: []string{"authorize"}},
		{Var: "pubsub#persist_items", Values: []string{"maybe"}},
	} {
		f := form.New(form.TypeSubmit, pubsub.NSNodeConfig).Add(bad)
		before := c
		if err := c.Apply(f); !errors.Is(err, pubsub.ErrInvalid) {
			t.Errorf("Apply(%s) = %v", bad.Var, err)
		}
		if c.AccessModel != before.AccessModel || c.MaxItems != before.MaxItems {
			t.Errorf("a failed Apply changed the config")
		}
		if _, ok := c.Meets(f); ok {
			t.Errorf("Meets(%s) accepted", bad.Var)
		}
	}
	back := pubsub.ConfigFromValues(pubsub.DefaultService(), c.Values())
	if back.AccessModel != c.AccessModel || back.MaxItems != c.MaxItems || back.SendLastPublishedItem != c.SendLastPublishedItem {
		t.Fatalf("values round trip = %+v", back)
	}
}

func TestErrors(t *testing.T) {
	e := pubsub.Unsupported("persistent-items")
	if c, f := pubsub.AppCondition(e); e.Condition != stanza.FeatureNotImplemented || c != "unsupported" || f != "persistent-items" {
		t.Fatalf("unsupported = %v %s %s", e, c, f)
	}
	e = pubsub.Error(stanza.Conflict, pubsub.CondPreconditionNotMet, "")
	if c, _ := pubsub.AppCondition(e); c != "precondition-not-met" {
		t.Fatalf("app = %s", c)
	}
}
