package router_test

import (
	"context"
	"testing"

	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/router"
	"github.com/parley-xmpp/parley/server/session"
	"github.com/parley-xmpp/parley/server/storage/sqlite"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// clusterDirectory is a session.Directory as a cluster would build one: the
// local table, plus sessions bound on other nodes (whose Conn would
// forward to their node; here a sink).
type clusterDirectory struct {
	*session.Table
	others map[jid.JID][]*session.Session // bare JID -> sessions on other nodes
}

func (d *clusterDirectory) Sessions(bare jid.JID) []*session.Session {
	return append(append([]*session.Session(nil), d.Table.Sessions(bare)...), d.others[bare]...)
}

func (d *clusterDirectory) Available(bare jid.JID) []*session.Session {
	var out []*session.Session
	for _, s := range d.Sessions(bare) {
		if s.Available() {
			out = append(out, s)
		}
	}
	return out
}

func (d *clusterDirectory) Get(full jid.JID) *session.Session {
	for _, s := range d.Sessions(full.Bare()) {
		if s.JID() == full {
			return s
		}
	}
	return nil
}

// hostKeeper keeps the module.Host it is given.
type hostKeeper struct{ host module.Host }

func (k *hostKeeper) Name() string { return "host-keeper" }

func (k *hostKeeper) Register(r module.Registrar) error {
	k.host = r.Host()
	return nil
}

// A directory given to the router replaces the table for lookups: the
// router delivers to the sessions it lists, bound here or not, and modules
// see it through module.Host.
func TestDirectoryReplacesTheTable(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, t.TempDir()+"/db", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	local := session.NewTable(0)
	remote := &sink{}
	bob := session.NewSession(jid.MustParse("bob@localhost/node2"), remote)
	bob.SetPresence(stanza.New(stanza.NSClient, "presence"), 0)
	dir := &clusterDirectory{Table: local, others: map[jid.JID][]*session.Session{bob.JID().Bare(): {bob}}}
	r := router.New(router.Options{Domains: []string{"localhost"}, Stores: db.Stores(), Table: local, Directory: dir})
	keeper := &hostKeeper{}
	if err := r.Register(keeper); err != nil {
		t.Fatal(err)
	}
	if keeper.host.Sessions() != session.Directory(dir) || r.Directory() != session.Directory(dir) {
		t.Fatal("modules do not see the router's directory")
	}
	from, _ := bind(t, r, "alice@localhost/a", 0)
	if r.Sessions() != local || local.Get(from.JID()) != from {
		t.Fatal("transports do not bind in the local table")
	}
	send := func(st *stanza.Element) {
		st.Set("from", from.JID().String())
		r.RouteFrom(ctx, from, st)
	}
	send(stanza.NewMessage("chat", "bob@localhost", "to the bare JID"))
	send(stanza.NewIQ("get", "1", "bob@localhost/node2", stanza.New("urn:xmpp:ping", "ping")))
	if remote.n.Load() != 2 || remote.last.Load().Name.Local != "iq" {
		t.Fatalf("the directory's session got %d stanzas", remote.n.Load())
	}
}
