package session

import (
	"testing"

	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

func TestAvailableSharesOrFilters(t *testing.T) {
	tab := NewTable(0)
	var ss []*Session
	for _, r := range []string{"a", "b", "c"} {
		s := NewSession(jid.MustParse("u@example.com/"+r), nil)
		if _, err := tab.Bind(s); err != nil {
			t.Fatal(err)
		}
		s.SetPresence(stanza.New(stanza.NSClient, "presence"), 0)
		ss = append(ss, s)
	}
	bare := jid.MustParse("u@example.com")
	all := tab.Available(bare)
	if len(all) != 3 || &all[0] != &tab.Sessions(bare)[0] {
		t.Fatalf("all available: got %d sessions, shared %v", len(all), len(all) > 0 && &all[0] == &tab.Sessions(bare)[0])
	}
	if n := testing.AllocsPerRun(100, func() { tab.Available(bare) }); n != 0 {
		t.Fatalf("Available allocated %v times with every session available", n)
	}
	for _, off := range []int{0, 1, 2} {
		ss[off].SetPresence(nil, 0)
		got := tab.Available(bare)
		if len(got) != 2 {
			t.Fatalf("resource %d unavailable: got %d sessions", off, len(got))
		}
		for _, s := range got {
			if s == ss[off] {
				t.Fatalf("resource %d unavailable but listed", off)
			}
		}
		ss[off].SetPresence(stanza.New(stanza.NSClient, "presence"), 0)
	}
}
