package session

import (
	"testing"

	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

type keyA struct{}
type keyB struct{}
type keyC struct{ n int }

// Per-session values: set, read, replaced, updated from the old value and
// deleted, each key apart from the others.
func TestSessionValues(t *testing.T) {
	s := NewSession(jid.MustParse("a@example.org/r"), nil)
	if v := s.Value(keyA{}); v != nil {
		t.Fatalf("unset value: %v", v)
	}
	s.SetValue(keyA{}, "a")
	s.SetValue(keyB{}, 1)
	s.SetValue(keyC{1}, "c1")
	s.SetValue(keyC{2}, "c2")
	s.SetValue(keyA{}, "a2")
	s.Update(keyB{}, func(old any) any { return old.(int) + 1 })
	want := map[any]any{keyA{}: "a2", keyB{}: 2, keyC{1}: "c1", keyC{2}: "c2"}
	for k, w := range want {
		if got := s.Value(k); got != w {
			t.Errorf("Value(%#v) = %v, want %v", k, got, w)
		}
	}
	s.SetValue(keyA{}, nil)
	s.Update(keyC{1}, func(any) any { return nil })
	s.SetValue(keyA{}, nil) // deleting an absent key
	for k, w := range map[any]any{keyA{}: nil, keyB{}: 2, keyC{1}: nil, keyC{2}: "c2"} {
		if got := s.Value(k); got != w {
			t.Errorf("after deletes: Value(%#v) = %v, want %v", k, got, w)
		}
	}
	if len(s.values) != 2 {
		t.Errorf("%d values kept, want 2", len(s.values))
	}
}

// A session keeps its presence without the 'from' that names it and gives
// it back with that 'from', the same stanza on the wire; a presence from
// another address is kept as it came.
func TestPresenceFrom(t *testing.T) {
	full := jid.MustParse("alice@example.com/phone")
	s := NewSession(full, nil)
	p := stanza.New(stanza.NSClient, "presence", "from", full.String(), "id", "p1")
	p.Append(stanza.New(stanza.NSClient, "show").AppendText("away"))
	want := string(p.Clone().Bytes())
	s.SetPresence(p, 5)
	if got := s.presence.Get("from"); got != "" {
		t.Errorf("stored presence has from %q, want none", got)
	}
	got := s.Presence()
	if got.Get("from") != full.String() || got.Get("id") != "p1" || got.ChildText(stanza.NSClient, "show") != "away" {
		t.Errorf("Presence() = %s, want %s", got.Bytes(), want)
	}
	if len(got.Attr) != 2 || s.Priority() != 5 {
		t.Errorf("Presence() attributes %v, priority %d", got.Attr, s.Priority())
	}

	bare := stanza.New(stanza.NSClient, "presence")
	s.SetPresence(bare, 0)
	if got := s.Presence(); got.Get("from") != full.String() || len(got.Attr) != 1 {
		t.Errorf("presence set without from: Presence() = %s", got.Bytes())
	}

	other := stanza.New(stanza.NSClient, "presence", "from", "bob@example.com/x")
	s.SetPresence(other, 0)
	if got := s.Presence(); got != other {
		t.Errorf("presence from another address: Presence() = %s, want it as set", got.Bytes())
	}

	s.SetPresence(nil, 0)
	if s.Presence() != nil || s.Available() {
		t.Error("after SetPresence(nil): still a presence")
	}
}
