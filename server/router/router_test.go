package router_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/metrics"
	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/modules"
	"github.com/parley-xmpp/parley/server/router"
	"github.com/parley-xmpp/parley/server/session"
	"github.com/parley-xmpp/parley/server/storage/sqlite"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// sink is a session.Conn that keeps what it is given.
type sink struct {
	n    atomic.Int64
	last atomic.Pointer[stanza.Element]
}

func (s *sink) Deliver(st *stanza.Element) error {
	s.n.Add(1)
	s.last.Store(st)
	return nil
}
func (s *sink) Close(*stream.Error) {}
func (s *sink) RemoteAddr() string  { return "test" }

func newRouter(tb testing.TB, mods []module.Module) *router.Router {
	tb.Helper()
	return newRouterMetrics(tb, mods, nil)
}

// newRouterMetrics is newRouter with the router timing routing into m.
func newRouterMetrics(tb testing.TB, mods []module.Module, m *metrics.Metrics) *router.Router {
	tb.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, tb.TempDir()+"/db", nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	r := router.New(router.Options{Domains: []string{"localhost"}, Stores: db.Stores(), Metrics: m})
	for _, m := range mods {
		if err := r.Register(m); err != nil {
			tb.Fatal(err)
		}
	}
	return r
}

func bind(tb testing.TB, r *router.Router, full string, prio int) (*session.Session, *sink) {
	tb.Helper()
	c := &sink{}
	s := session.NewSession(jid.MustParse(full), c)
	if _, err := r.Sessions().Bind(s); err != nil {
		tb.Fatal(err)
	}
	s.SetPresence(stanza.New(stanza.NSClient, "presence"), prio)
	return s, c
}

func TestBareJIDMessageGoesToHighestPriority(t *testing.T) {
	r := newRouter(t, nil)
	from, _ := bind(t, r, "alice@localhost/a", 0)
	_, low := bind(t, r, "bob@localhost/low", 1)
	_, hi1 := bind(t, r, "bob@localhost/hi1", 5)
	_, hi2 := bind(t, r, "bob@localhost/hi2", 5)
	_, neg := bind(t, r, "bob@localhost/neg", -1)
	for _, typ := range []string{"chat", "normal"} {
		m := stanza.NewMessage(typ, "bob@localhost", "hi")
		m.Set("from", from.JID().String())
		r.RouteFrom(context.Background(), from, m)
	}
	if low.n.Load() != 0 || neg.n.Load() != 0 || hi1.n.Load() != 2 || hi2.n.Load() != 2 {
		t.Fatalf("deliveries low=%d hi1=%d hi2=%d neg=%d", low.n.Load(), hi1.n.Load(), hi2.n.Load(), neg.n.Load())
	}
	// Headline goes to every non-negative resource.
	m := stanza.NewMessage("headline", "bob@localhost", "news")
	m.Set("from", from.JID().String())
	r.RouteFrom(context.Background(), from, m)
	if low.n.Load() != 1 || neg.n.Load() != 0 || hi1.n.Load() != 3 {
		t.Fatalf("headline deliveries low=%d hi1=%d neg=%d", low.n.Load(), hi1.n.Load(), neg.n.Load())
	}
}

func TestOnlyNegativePriorityMeansUndeliverable(t *testing.T) {
	r := newRouter(t, nil)
	from, fromSink := bind(t, r, "alice@localhost/a", 0)
	_, neg := bind(t, r, "bob@localhost/neg", -5)
	m := stanza.NewMessage("chat", "bob@localhost", "hi")
	m.Set("from", from.JID().String())
	r.RouteFrom(context.Background(), from, m)
	if neg.n.Load() != 0 {
		t.Fatal("a negative-priority resource got a bare-JID message")
	}
	// Without an offline module the sender gets service-unavailable.
	got := fromSink.last.Load()
	if got == nil || got.Type() != "error" || stanza.ParseError(got).Condition != stanza.ServiceUnavailable {
		t.Fatalf("sender got %v", got)
	}
}

func TestFullJIDFallsBackToBare(t *testing.T) {
	r := newRouter(t, nil)
	from, _ := bind(t, r, "alice@localhost/a", 0)
	_, other := bind(t, r, "bob@localhost/other", 0)
	m := stanza.NewMessage("chat", "bob@localhost/gone", "hi")
	m.Set("from", from.JID().String())
	r.RouteFrom(context.Background(), from, m)
	if other.n.Load() != 1 {
		t.Fatal("message to a gone resource did not fall back to the bare JID")
	}
	iq := stanza.NewIQ("get", "1", "bob@localhost/gone", stanza.New("urn:xmpp:ping", "ping"))
	iq.Set("from", from.JID().String())
	r.RouteFrom(context.Background(), from, iq)
	if other.n.Load() != 1 {
		t.Fatal("an IQ to a gone resource was delivered elsewhere")
	}
}

// BenchmarkRouteLocalMessage measures routing a chat message between two
// online local users through the bare router: no storage is touched.
func BenchmarkRouteLocalMessage(b *testing.B) {
	benchRoute(b, nil)
}

// BenchmarkRouteLocalMessageMetrics is BenchmarkRouteLocalMessage with
// the server's metrics on: the routing histogram's cost.
func BenchmarkRouteLocalMessageMetrics(b *testing.B) {
	benchRouteWith(b, newRouterMetrics(b, nil, metrics.New(metrics.State{})))
}

// BenchmarkRouteLocalMessageModules is the same with the default modules
// (blocking, roster, offline … hooks) registered.
// BenchmarkRouteLocalMessageModules routes through the default modules,
// message archiving (MAM) included: each message is two committed rows in
// the test's SQLite database, which is most of the time measured.
func BenchmarkRouteLocalMessageModules(b *testing.B) {
	benchRoute(b, modules.Default(config.Default()))
}

// BenchmarkRouteLocalMessageModulesNoMAM is the same without the archive,
// as bench/compare.sh runs Parley: the cost of routing and module hooks.
func BenchmarkRouteLocalMessageModulesNoMAM(b *testing.B) {
	var mods []module.Module
	for _, m := range modules.Default(config.Default()) {
		if m.Name() != "mam" {
			mods = append(mods, m)
		}
	}
	benchRoute(b, mods)
}

func benchRoute(b *testing.B, mods []module.Module) {
	benchRouteWith(b, newRouter(b, mods))
}

func benchRouteWith(b *testing.B, r *router.Router) {
	from, _ := bind(b, r, "alice@localhost/a", 0)
	_, to := bind(b, r, "bob@localhost/b", 0)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m := stanza.NewMessage("chat", "bob@localhost/b", "hello there")
		m.Set("from", "alice@localhost/a")
		r.RouteFrom(ctx, from, m)
	}
	b.StopTimer()
	if to.n.Load() != int64(b.N) {
		b.Fatalf("delivered %d of %d", to.n.Load(), b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "stanzas/s")
}

// An answer to a server-originated IQ counts only from the entity the
// request went to: another local user guessing the id is ignored.
func TestSendIQAnswerOnlyFromAddressee(t *testing.T) {
	r := newRouter(t, nil)
	alice, _ := bind(t, r, "alice@localhost/a", 0)
	bob, bobConn := bind(t, r, "bob@localhost/b", 0)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	type answer struct {
		res *stanza.Element
		err error
	}
	done := make(chan answer, 1)
	go func() {
		iq := stanza.NewIQ(stanza.TypeGet, "", "bob@localhost/b", stanza.New("urn:xmpp:ping", "ping"))
		iq.Set("from", "localhost")
		res, err := r.SendIQ(ctx, iq)
		done <- answer{res, err}
	}()
	var req *stanza.Element
	for req == nil {
		if ctx.Err() != nil {
			t.Fatal("the request never reached bob")
		}
		req = bobConn.last.Load()
		time.Sleep(time.Millisecond)
	}
	answerFrom := func(s *session.Session, text string) {
		res := stanza.Result(req, stanza.New("urn:test", "who").AppendText(text))
		res.Set("from", s.JID().String())
		r.RouteFrom(ctx, s, res)
	}
	answerFrom(alice, "alice")
	select {
	case a := <-done:
		t.Fatalf("SendIQ took an answer from alice: %v %v", a.res, a.err)
	case <-time.After(50 * time.Millisecond):
	}
	answerFrom(bob, "bob")
	a := <-done
	if a.err != nil {
		t.Fatal(a.err)
	}
	if got := a.res.ChildText("urn:test", "who"); got != "bob" {
		t.Fatalf("answer from %q, want bob", got)
	}
}
