package session

import (
	"testing"

	"github.com/parley-xmpp/parley/xmpp/jid"
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
