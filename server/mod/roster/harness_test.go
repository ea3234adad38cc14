package roster

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/router"
	"github.com/parley-xmpp/parley/server/session"
	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/server/storage/sqlite"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// fakeConn records what the server delivers to a session.
type fakeConn struct {
	mu     sync.Mutex
	got    []*stanza.Element
	closed bool
}

func (c *fakeConn) Deliver(st *stanza.Element) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errors.New("closed")
	}
	c.got = append(c.got, st.Clone())
	return nil
}

func (c *fakeConn) Close(*stream.Error) {}
func (c *fakeConn) RemoteAddr() string  { return "test" }

// take returns what was delivered since the last call.
func (c *fakeConn) take() []*stanza.Element {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.got
	c.got = nil
	return out
}

// harness is a real router and SQLite store with the roster module and
// fake transports.
type harness struct {
	t     testing.TB
	ctx   context.Context
	r     *router.Router
	table *session.Table
	db    *sqlite.DB
	conns map[*session.Session]*fakeConn
	// available counts SessionAvailable events per session.
	mu        sync.Mutex
	available map[*session.Session]int
	// mod is the roster module under test; reads counts its store reads.
	mod   *Module
	reads *countingRoster
}

// countingRoster counts the reads of a roster store.
type countingRoster struct {
	storage.Roster
	items, item, requests atomic.Int64
}

func (c *countingRoster) RosterItems(ctx context.Context, user jid.JID) ([]storage.RosterItem, int64, error) {
	c.items.Add(1)
	return c.Roster.RosterItems(ctx, user)
}

func (c *countingRoster) RosterItem(ctx context.Context, user, contact jid.JID) (storage.RosterItem, error) {
	c.item.Add(1)
	return c.Roster.RosterItem(ctx, user, contact)
}

func (c *countingRoster) SubscriptionRequests(ctx context.Context, user jid.JID) ([]storage.SubscriptionRequest, error) {
	c.requests.Add(1)
	return c.Roster.SubscriptionRequests(ctx, user)
}

// reset zeroes the counts.
func (c *countingRoster) reset() {
	c.items.Store(0)
	c.item.Store(0)
	c.requests.Store(0)
}

type eventProbe struct{ h *harness }

func (eventProbe) Name() string { return "probe" }
func (p eventProbe) Register(r module.Registrar) error {
	r.OnSession(module.SessionAvailable, func(_ context.Context, s *session.Session) {
		p.h.mu.Lock()
		p.h.available[s]++
		p.h.mu.Unlock()
	})
	return nil
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "parley.db"), nil)
	if err != nil {
		t.Fatalf("sqlite: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	table := session.NewTable(0)
	stores := db.Stores()
	reads := &countingRoster{Roster: stores.Roster}
	stores.Roster = reads
	r := router.New(router.Options{Domains: []string{"example.com"}, Stores: stores, Table: table})
	h := &harness{t: t, ctx: ctx, r: r, table: table, db: db, conns: map[*session.Session]*fakeConn{}, available: map[*session.Session]int{},
		mod: New(Options{}).(*Module), reads: reads}
	if err := r.Register(h.mod); err != nil {
		t.Fatalf("register: %v", err)
	}
	if err := r.Register(eventProbe{h}); err != nil {
		t.Fatalf("register: %v", err)
	}
	return h
}

func (h *harness) user(local string) jid.JID {
	h.t.Helper()
	j := jid.MustParse(local + "@example.com")
	if err := h.db.Stores().Accounts.CreateAccount(h.ctx, j, nil); err != nil {
		h.t.Fatalf("create %s: %v", j, err)
	}
	return j
}

func (h *harness) login(user jid.JID, res string) *session.Session {
	h.t.Helper()
	full, err := user.WithResource(res)
	if err != nil {
		h.t.Fatal(err)
	}
	c := &fakeConn{}
	s := session.NewSession(full, c)
	if _, err := h.table.Bind(s); err != nil {
		h.t.Fatal(err)
	}
	h.conns[s] = c
	h.r.Emit(h.ctx, module.SessionBound, s)
	return s
}

// end ends a session the way a transport does, whether it closed
// gracefully or broke.
func (h *harness) end(s *session.Session) {
	h.conns[s].mu.Lock()
	h.conns[s].closed = true
	h.conns[s].mu.Unlock()
	h.table.Unbind(s)
	h.r.Emit(h.ctx, module.SessionEnded, s)
}

func (h *harness) send(s *session.Session, st *stanza.Element) {
	st.Set("from", s.JID().String())
	h.r.RouteFrom(h.ctx, s, st)
}

func (h *harness) take(s *session.Session) []*stanza.Element { return h.conns[s].take() }

func presence(typ, to string) *stanza.Element {
	p := stanza.New(stanza.NSClient, "presence")
	p.Set("type", typ)
	p.Set("to", to)
	return p
}

// iq sends an IQ and returns the reply delivered to s, and everything else
// delivered meanwhile.
func (h *harness) iq(s *session.Session, typ, to string, payload *stanza.Element) (reply *stanza.Element, other []*stanza.Element) {
	h.t.Helper()
	h.take(s)
	iq := stanza.NewIQ(typ, "q1", to, payload)
	h.send(s, iq)
	for _, st := range h.take(s) {
		if st.Name.Local == "iq" && st.ID() == "q1" && (st.Type() == stanza.TypeResult || st.Type() == stanza.TypeError) {
			reply = st
			continue
		}
		other = append(other, st)
	}
	if reply == nil {
		h.t.Fatalf("no reply to the IQ %s", iq)
	}
	return reply, other
}

// find returns the delivered stanzas of a kind, type and sender.
func find(sts []*stanza.Element, local, typ, from string) []*stanza.Element {
	var out []*stanza.Element
	for _, st := range sts {
		if st.Name.Local == local && st.Type() == typ && (from == "" || st.From() == from) {
			out = append(out, st)
		}
	}
	return out
}

func (h *harness) jid(local string) jid.JID { return jid.MustParse(local + "@example.com") }
