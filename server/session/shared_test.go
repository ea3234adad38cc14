package session

import (
	"slices"
	"testing"

	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

func TestFlagsAndObserver(t *testing.T) {
	s := NewSession(jid.MustParse("u@example.com/r"), nil)
	var calls int
	s.SetObserver(func(got *Session) {
		if got != s {
			t.Error("observer called with another session")
		}
		if s.mu.TryLock() {
			s.mu.Unlock()
		} else {
			t.Error("observer called with the session locked")
		}
		calls++
	})
	s.SetFlag("carbons", true)
	s.SetFlag("carbons", true) // no change, no call
	s.SetFlag("roster", true)
	flags := s.Flags()
	s.SetFlag("carbons", false)
	if !slices.Equal(flags, []string{"carbons", "roster"}) {
		t.Errorf("a slice Flags returned changed after SetFlag: %q", flags)
	}
	if s.Flag("carbons") || !s.Flag("roster") {
		t.Errorf("flags = %q", s.Flags())
	}
	s.SetPresence(stanza.New(stanza.NSClient, "presence"), 3)
	if calls != 4 {
		t.Errorf("observer called %d times, want 4", calls)
	}
	s.SetObserver(nil)
	s.SetFlags([]string{"a", "b"})
	s.SetPresence(nil, 0)
	if calls != 4 || !slices.Equal(s.Flags(), []string{"a", "b"}) {
		t.Errorf("after SetFlags: calls %d, flags %q", calls, s.Flags())
	}
	for i := range MaxFlags + 2 {
		s.SetFlag(string(rune('c'+i)), true)
	}
	if len(s.Flags()) != MaxFlags {
		t.Errorf("%d flags, want at most %d", len(s.Flags()), MaxFlags)
	}
}

func TestAnyLocal(t *testing.T) {
	loc := NewSession(jid.MustParse("u@example.com/a"), nil)
	rem := NewRemote(jid.MustParse("u@example.com/b"), nil)
	if loc.Remote() || !rem.Remote() {
		t.Fatal("Remote")
	}
	for _, tc := range []struct {
		list []*Session
		want bool
	}{{nil, false}, {[]*Session{rem}, false}, {[]*Session{rem, loc}, true}, {[]*Session{loc}, true}} {
		if got := AnyLocal(tc.list); got != tc.want {
			t.Errorf("AnyLocal(%d sessions) = %v", len(tc.list), got)
		}
	}
}
