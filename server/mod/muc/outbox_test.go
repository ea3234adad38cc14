package muc

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/router"
	"github.com/parley-xmpp/parley/server/session"
	"github.com/parley-xmpp/parley/server/storage/sqlite"
	"github.com/parley-xmpp/parley/xmpp/form"
	"github.com/parley-xmpp/parley/xmpp/jid"
	xmuc "github.com/parley-xmpp/parley/xmpp/muc"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// recorder is a session transport that keeps what it is given.
type recorder struct {
	mu  sync.Mutex
	got []*stanza.Element
}

func (r *recorder) Deliver(st *stanza.Element) error {
	r.mu.Lock()
	r.got = append(r.got, st)
	r.mu.Unlock()
	return nil
}
func (r *recorder) Close(*stream.Error) {}
func (r *recorder) RemoteAddr() string  { return "test" }

func (r *recorder) take() []*stanza.Element {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.got
	r.got = nil
	return out
}

// newRouter returns a router serving example.com over SQLite with the
// module built from opts, and a session of full bound to it whose
// deliveries a recorder keeps.
func newRouter(t *testing.T, opts Options, full jid.JID) (*router.Router, *Module, *session.Session, *recorder) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "parley.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	table := session.NewTable(0)
	r := router.New(router.Options{Domains: []string{"example.com"}, Stores: db.Stores(), Table: table})
	m := New(opts)
	if err := r.Register(m); err != nil {
		t.Fatal(err)
	}
	conn := &recorder{}
	sess := session.NewSession(full, conn)
	if _, err := table.Bind(sess); err != nil {
		t.Fatal(err)
	}
	r.Emit(ctx, module.SessionBound, sess)
	return r, m, sess, conn
}

// A room whose outbox holds more than QueueBytes refuses new messages
// with <resource-constraint/> (type wait) instead of queueing them, and
// takes them again once the backlog is routed.
func TestBacklogBoundRefusesMessages(t *testing.T) {
	ctx := context.Background()
	full := jid.MustParse("alice@example.com/desk")
	r, m, sess, conn := newRouter(t, Options{QueueBytes: 1000}, full)
	rj := jid.MustParse("room@conference.example.com")
	r.RouteFrom(ctx, sess, xmuc.Join(jid.MustParse("room@conference.example.com/al"), "", nil).Set("from", full.String()))
	cfg := stanza.NewIQ(stanza.TypeSet, "cfg", rj.String(), stanza.New(xmuc.NSOwner, "query").Append((&form.Form{Type: form.TypeSubmit}).Element()))
	r.RouteFrom(ctx, sess, cfg.Set("from", full.String()))
	conn.take()

	// Another goroutine is routing the room's outbox, which holds more
	// than the bound.
	rm := m.loaded(rj)
	rm.mu.Lock()
	rm.out.flushing = true
	big := stanza.NewMessage(stanza.TypeChat, "nobody@example.com", string(make([]byte, 2000)))
	rm.post(big, approxSize(big))
	rm.mu.Unlock()

	msg := stanza.NewMessage(stanza.TypeGroupchat, rj.String(), "hello").Set("from", full.String())
	r.RouteFrom(ctx, sess, msg)
	if got := conn.take(); len(got) != 0 {
		t.Fatalf("delivered while another goroutine routes the room: %v", got)
	}
	rm.mu.Lock()
	rm.out.flushing = false
	m.release(ctx, rm)
	got := conn.take()
	if len(got) != 1 || got[0].Type() != stanza.TypeError {
		t.Fatalf("after the backlog: %v, want one error", got)
	}
	if e := stanza.ParseError(got[0]); e == nil || e.Condition != stanza.ResourceConstraint || e.Type != stanza.ErrWait {
		t.Fatalf("error = %s, want wait/resource-constraint", got[0])
	}

	// Drained: the room takes messages again.
	r.RouteFrom(ctx, sess, msg.Clone())
	got = conn.take()
	if len(got) != 1 || got[0].ChildText(stanza.NSClient, "body") != "hello" || got[0].Type() != stanza.TypeGroupchat {
		t.Fatalf("after draining: %v, want the reflected message", got)
	}
}
