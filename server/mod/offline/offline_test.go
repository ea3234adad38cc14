package offline

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/router"
	"github.com/parley-xmpp/parley/server/session"
	"github.com/parley-xmpp/parley/server/storage/sqlite"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

type fakeConn struct {
	mu   sync.Mutex
	got  []*stanza.Element
	fail int // fail after this many deliveries; 0: never
}

func (c *fakeConn) Deliver(st *stanza.Element) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail > 0 && len(c.got) >= c.fail {
		return errors.New("queue full")
	}
	c.got = append(c.got, st.Clone())
	return nil
}

func (c *fakeConn) Close(*stream.Error) {}
func (c *fakeConn) RemoteAddr() string  { return "test" }

func (c *fakeConn) take() []*stanza.Element {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.got
	c.got = nil
	return out
}

type harness struct {
	t     *testing.T
	ctx   context.Context
	r     *router.Router
	table *session.Table
	db    *sqlite.DB
	now   time.Time
}

func newHarness(t *testing.T, limit int) *harness {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "parley.db"), nil)
	if err != nil {
		t.Fatalf("sqlite: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	h := &harness{t: t, ctx: ctx, table: session.NewTable(0), db: db, now: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)}
	h.r = router.New(router.Options{
		Domains: []string{"example.com"}, Stores: db.Stores(), Table: h.table,
		Limits: module.Limits{OfflineMessages: limit}, Now: func() time.Time { return h.now },
	})
	if err := h.r.Register(New(Options{})); err != nil {
		t.Fatalf("register: %v", err)
	}
	for _, u := range []string{"alice", "bob"} {
		if err := db.Stores().Accounts.CreateAccount(ctx, jid.MustParse(u+"@example.com"), nil); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

func (h *harness) login(full string, c *fakeConn) *session.Session {
	s := session.NewSession(jid.MustParse(full), c)
	if _, err := h.table.Bind(s); err != nil {
		h.t.Fatal(err)
	}
	return s
}

// online makes a session available the way the presence module does.
func (h *harness) online(s *session.Session, prio int) {
	s.SetPresence(stanza.New(stanza.NSClient, "presence"), prio)
	h.r.Emit(h.ctx, module.SessionAvailable, s)
}

func (h *harness) send(from *session.Session, st *stanza.Element) {
	st.Set("from", from.JID().String())
	h.r.RouteFrom(h.ctx, from, st)
}

func msg(typ, body string) *stanza.Element {
	return stanza.NewMessage(typ, "alice@example.com", body)
}

func TestStoreAndFlush(t *testing.T) {
	h := newHarness(t, 0)
	bc := &fakeConn{}
	b := h.login("bob@example.com/b", bc)
	h.send(b, msg(stanza.TypeChat, "one"))
	h.now = h.now.Add(time.Second)
	h.send(b, msg(stanza.TypeNormal, "two"))
	h.send(b, msg(stanza.TypeHeadline, "news"))
	h.send(b, msg(stanza.TypeChat, "").Append(stanza.New(nsChatStates, "composing")))
	h.send(b, stanza.NewMessage("", "alice@example.com/gone", "three"))
	if got := bc.take(); len(got) != 0 {
		t.Fatalf("sender got %v, want nothing (stored or dropped)", got)
	}
	if n, _ := h.db.Stores().Offline.OfflineCount(h.ctx, jid.MustParse("alice@example.com")); n != 3 {
		t.Fatalf("%d messages stored, want 3 (no headline, no bare chat state)", n)
	}

	// A negative priority takes nothing.
	neg := &fakeConn{}
	an := h.login("alice@example.com/neg", neg)
	h.online(an, -1)
	if got := neg.take(); len(got) != 0 {
		t.Fatalf("negative priority resource got %d messages", len(got))
	}

	ac := &fakeConn{}
	a := h.login("alice@example.com/a", ac)
	h.online(a, 0)
	got := ac.take()
	if len(got) != 3 {
		t.Fatalf("flushed %d messages, want 3", len(got))
	}
	for i, want := range []string{"one", "two", "three"} {
		if body := got[i].ChildText("", "body"); body != want {
			t.Errorf("message %d = %q, want %q", i, body, want)
		}
		d := got[i].Child(NSDelay, "delay")
		if d == nil || d.Get("from") != "example.com" {
			t.Fatalf("message %d has no delay: %s", i, got[i])
		}
	}
	if s := got[0].Child(NSDelay, "delay").Get("stamp"); s != "2024-05-01T12:00:00.000Z" {
		t.Errorf("stamp = %q", s)
	}
	if s := got[1].Child(NSDelay, "delay").Get("stamp"); s != "2024-05-01T12:00:01.000Z" {
		t.Errorf("stamp = %q", s)
	}
	if n, _ := h.db.Stores().Offline.OfflineCount(h.ctx, jid.MustParse("alice@example.com")); n != 0 {
		t.Errorf("%d messages left after delivery", n)
	}
}

func TestFailedDeliveryKeepsMessages(t *testing.T) {
	h := newHarness(t, 0)
	b := h.login("bob@example.com/b", &fakeConn{})
	for _, body := range []string{"1", "2", "3"} {
		h.send(b, msg(stanza.TypeChat, body))
	}
	ac := &fakeConn{fail: 1}
	a := h.login("alice@example.com/a", ac)
	h.online(a, 0)
	if got := ac.take(); len(got) != 1 || got[0].ChildText("", "body") != "1" {
		t.Fatalf("delivered %v", got)
	}
	msgs, err := h.db.Stores().Offline.OfflineMessages(h.ctx, jid.MustParse("alice@example.com"))
	if err != nil || len(msgs) != 2 {
		t.Fatalf("%d messages kept after a failed delivery, want 2 (%v)", len(msgs), err)
	}
	ac2 := &fakeConn{}
	a2 := h.login("alice@example.com/a2", ac2)
	h.online(a2, 1)
	if got := ac2.take(); len(got) != 2 || got[0].ChildText("", "body") != "2" {
		t.Errorf("second flush delivered %v", got)
	}
}

func TestQuota(t *testing.T) {
	h := newHarness(t, 2)
	bc := &fakeConn{}
	b := h.login("bob@example.com/b", bc)
	for _, body := range []string{"1", "2", "3"} {
		h.send(b, msg(stanza.TypeChat, body))
	}
	got := bc.take()
	if len(got) != 1 || got[0].Type() != stanza.TypeError {
		t.Fatalf("sender got %v, want one error", got)
	}
	if e := stanza.ParseError(got[0]); e == nil || e.Condition != stanza.ServiceUnavailable {
		t.Errorf("bounce = %s", got[0])
	}
	if got[0].From() != "alice@example.com" || got[0].ChildText("", "body") != "3" {
		t.Errorf("bounce addressing/payload: %s", got[0])
	}
}

func TestStampReplacesOwnDelay(t *testing.T) {
	m := msg(stanza.TypeChat, "x")
	m.Append(stanza.New(NSDelay, "delay", "from", "example.com", "stamp", "old"))
	m.Append(stanza.New(NSDelay, "delay", "from", "elsewhere.org", "stamp", "kept"))
	out := Stamp(m, "example.com", time.Unix(0, 0))
	ds := out.ChildrenNamed(NSDelay, "delay")
	if len(ds) != 2 || ds[0].Get("stamp") != "kept" || ds[1].Get("stamp") != "1970-01-01T00:00:00.000Z" {
		t.Errorf("delays after Stamp: %s", out)
	}
	if len(m.ChildrenNamed(NSDelay, "delay")) != 2 {
		t.Error("Stamp modified its input")
	}
}
