package cluster

import (
	"testing"

	"github.com/parley-xmpp/parley/server/session"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

func TestDirectoryMergesNodes(t *testing.T) {
	tab := session.NewTable(0)
	d := NewDirectory(tab)
	bare := jid.MustParse("u@example.com")
	loc := session.NewSession(jid.MustParse("u@example.com/here"), nil)
	if _, err := tab.Bind(loc); err != nil {
		t.Fatal(err)
	}
	loc.SetPresence(stanza.New(stanza.NSClient, "presence"), 0)
	// Local only: the table's own list.
	if got := d.Sessions(bare); len(got) != 1 || &got[0] != &tab.Sessions(bare)[0] {
		t.Fatalf("local only: %v", got)
	}
	rem := session.NewSession(jid.MustParse("u@example.com/there"), nil)
	rem.SetPresence(stanza.New(stanza.NSClient, "presence"), 1)
	d.put(rem)
	got := d.Sessions(bare)
	if len(got) != 2 || got[0] != loc || got[1] != rem {
		t.Fatalf("merged: %v", got)
	}
	if d.Get(rem.JID()) != rem || d.Get(loc.JID()) != loc || d.Get(jid.MustParse("u@example.com/none")) != nil {
		t.Error("Get")
	}
	// The merged list is kept while neither side changes: no allocation.
	if n := testing.AllocsPerRun(100, func() { d.Sessions(bare); d.Available(bare) }); n != 0 {
		t.Errorf("lookups allocated %v times", n)
	}
	// A local change is seen at once.
	loc2 := session.NewSession(jid.MustParse("u@example.com/here2"), nil)
	tab.Bind(loc2)
	if got := d.Sessions(bare); len(got) != 3 {
		t.Errorf("after a local bind: %v", got)
	}
	if got := d.Available(bare); len(got) != 2 {
		t.Errorf("available: %v", got)
	}
	if all := d.All(); len(all) != 3 || all[0] != loc || all[1] != loc2 || all[2] != rem {
		t.Errorf("All = %v", all)
	}
	// Replacing a remote session (moved to another node) and removing it.
	rem2 := session.NewSession(rem.JID(), nil)
	d.put(rem2)
	if d.Get(rem.JID()) != rem2 || len(d.All()) != 3 {
		t.Error("put did not replace")
	}
	if d.remove(rem) || !d.remove(rem2) || d.Get(rem.JID()) != nil {
		t.Error("remove")
	}
	if got := d.Sessions(bare); len(got) != 2 {
		t.Errorf("after remove: %v", got)
	}
}
