package router_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/router"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// recordingRoute is a router.Route that keeps what it is given and
// answers with err.
type recordingRoute struct {
	got []routed
	err error
}

type routed struct {
	from, to jid.JID
	st       *stanza.Element
}

func (rt *recordingRoute) Deliver(_ context.Context, from, to jid.JID, st *stanza.Element) error {
	rt.got = append(rt.got, routed{from, to, st})
	return rt.err
}

// routesFixture is a router with a component route for
// component.localhost, a remote route and a session route, and alice
// online to send through it.
type routesFixture struct {
	r                           *router.Router
	component, remote, sessions *recordingRoute
	alice                       *sink
	send                        func(st *stanza.Element)
}

func newRoutesFixture(t *testing.T, mods ...module.Module) *routesFixture {
	t.Helper()
	f := &routesFixture{component: &recordingRoute{}, remote: &recordingRoute{}, sessions: &recordingRoute{}}
	f.r = newRouter(t, mods)
	if err := f.r.AddDomainRoute("component.localhost", f.component); err != nil {
		t.Fatal(err)
	}
	if err := f.r.SetRemoteRoute(f.remote); err != nil {
		t.Fatal(err)
	}
	if err := f.r.SetSessionRoute(f.sessions); err != nil {
		t.Fatal(err)
	}
	from, alice := bind(t, f.r, "alice@localhost/a", 0)
	f.alice = alice
	f.send = func(st *stanza.Element) {
		st.Set("from", from.JID().String())
		f.r.RouteFrom(context.Background(), from, st)
	}
	return f
}

func TestRoutesTakeWhatIsNotLocal(t *testing.T) {
	f := newRoutesFixture(t)
	_, bob := bind(t, f.r, "bob@localhost/b", 0)

	// A remote domain, bare and full: the remote route.
	f.send(stanza.NewMessage("chat", "romeo@example.net", "to a remote bare JID"))
	f.send(stanza.NewIQ("get", "1", "example.net", stanza.New("urn:xmpp:ping", "ping")))
	// A component's domain: its own route, not the remote one.
	f.send(stanza.NewMessage("chat", "room@component.localhost/nick", "to a component"))
	// A full JID of a served domain bound nowhere here: the session route.
	f.send(stanza.NewIQ("get", "2", "bob@localhost/elsewhere", stanza.New("urn:xmpp:ping", "ping")))
	f.send(stanza.NewMessage("chat", "bob@localhost/elsewhere", "to another node"))
	f.send(stanza.New(stanza.NSClient, "presence", "to", "bob@localhost/elsewhere"))
	// A full JID bound here stays local.
	f.send(stanza.NewMessage("chat", "bob@localhost/b", "local"))

	check := func(name string, rt *recordingRoute, want ...string) {
		t.Helper()
		if len(rt.got) != len(want) {
			t.Fatalf("%s route got %d stanzas, want %d", name, len(rt.got), len(want))
		}
		for i, w := range want {
			g := rt.got[i]
			if g.to.String() != w || g.st.To() != w || g.from.String() != "alice@localhost/a" {
				t.Errorf("%s route stanza %d: from %s to %s (%s), want to %s", name, i, g.from, g.to, g.st.To(), w)
			}
		}
	}
	check("remote", f.remote, "romeo@example.net", "example.net")
	check("component", f.component, "room@component.localhost/nick")
	check("session", f.sessions, "bob@localhost/elsewhere", "bob@localhost/elsewhere", "bob@localhost/elsewhere")
	if f.sessions.got[1].st.Name.Local != "message" || f.sessions.got[2].st.Name.Local != "presence" {
		t.Fatalf("session route got %s, %s", f.sessions.got[1].st.Name.Local, f.sessions.got[2].st.Name.Local)
	}
	if bob.n.Load() != 1 || bob.last.Load().ChildText(stanza.NSClient, "body") != "local" {
		t.Fatalf("bob got %d stanzas, last %v", bob.n.Load(), bob.last.Load())
	}
	if f.alice.n.Load() != 0 {
		t.Fatalf("alice got a reply no route sent: %v", f.alice.last.Load())
	}
}

// Inbound hooks run for a full JID of a served domain before the session
// route takes it, as they would before a local delivery.
func TestSessionRouteAfterInboundHooks(t *testing.T) {
	blocker := &inboundBlocker{}
	f := newRoutesFixture(t, blocker)
	bind(t, f.r, "bob@localhost/b", 0) // bob's account is known
	f.send(stanza.NewMessage("chat", "bob@localhost/elsewhere", "blocked"))
	if len(f.sessions.got) != 0 || blocker.n != 1 {
		t.Fatalf("session route got %d stanzas, hook saw %d", len(f.sessions.got), blocker.n)
	}
}

// inboundBlocker consumes every inbound message.
type inboundBlocker struct{ n int }

func (b *inboundBlocker) Name() string { return "inbound-blocker" }

func (b *inboundBlocker) Register(r module.Registrar) error {
	r.Hook(module.PhaseInbound, stanza.KindMessage, 0, func(context.Context, *module.Packet) module.Verdict {
		b.n++
		return module.Handled
	})
	return nil
}

func TestRouteErrorsBounce(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		to   string
		want stanza.Condition
	}{
		{"stanza error from the remote route", stanza.Err(stanza.RemoteServerTimeout), "romeo@example.net", stanza.RemoteServerTimeout},
		{"wrapped stanza error", fmt.Errorf("dial: %w", stanza.Err(stanza.RemoteServerNotFound)), "example.net", stanza.RemoteServerNotFound},
		{"other error from the component route", errors.New("component gone"), "room@component.localhost", stanza.InternalServerError},
		{"stanza error from the session route", stanza.Err(stanza.RecipientUnavailable), "bob@localhost/elsewhere", stanza.RecipientUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newRoutesFixture(t)
			bind(t, f.r, "bob@localhost/b", 0) // bob's account is known
			f.remote.err, f.component.err, f.sessions.err = tc.err, tc.err, tc.err
			iq := stanza.NewIQ("get", "q1", tc.to, stanza.New("urn:xmpp:ping", "ping"))
			f.send(iq)
			got := f.alice.last.Load()
			if got == nil || got.Type() != stanza.TypeError || got.ID() != "q1" {
				t.Fatalf("alice got %v, want an error reply to q1", got)
			}
			if e := stanza.ParseError(got); e == nil || e.Condition != tc.want {
				t.Fatalf("error %v, want %s", e, tc.want)
			}
			if got.From() != tc.to || got.To() != "alice@localhost/a" {
				t.Fatalf("error from %q to %q", got.From(), got.To())
			}
			// An error stanza is never bounced (RFC 6120 §8.3.1).
			n := f.alice.n.Load()
			e := stanza.NewMessage(stanza.TypeError, tc.to, "")
			f.send(e)
			if f.alice.n.Load() != n {
				t.Fatalf("an error stanza was bounced: %v", f.alice.last.Load())
			}
		})
	}
}

// A route that knows no way to an address leaves the stanza to what the
// router does without it: the remote route after a component route, the
// RFC's errors after the remote route, the fallback to the bare JID after
// the session route.
func TestNoRouteFallsThrough(t *testing.T) {
	f := newRoutesFixture(t)
	_, bob := bind(t, f.r, "bob@localhost/b", 0)
	f.component.err = router.ErrNoRoute
	f.remote.err = fmt.Errorf("no such server: %w", router.ErrNoRoute)
	f.sessions.err = router.ErrNoRoute

	f.send(stanza.NewIQ("get", "c1", "room@component.localhost", stanza.New("urn:xmpp:ping", "ping")))
	if len(f.component.got) != 1 || len(f.remote.got) != 1 {
		t.Fatalf("component route got %d, remote route %d", len(f.component.got), len(f.remote.got))
	}
	expectError(t, f.alice, "c1", stanza.RemoteServerNotFound)

	f.send(stanza.NewMessage("chat", "bob@localhost/elsewhere", "falls back"))
	if len(f.sessions.got) != 1 || bob.n.Load() != 1 {
		t.Fatalf("session route got %d, bob %d", len(f.sessions.got), bob.n.Load())
	}
	f.send(stanza.NewIQ("get", "s1", "bob@localhost/elsewhere", stanza.New("urn:xmpp:ping", "ping")))
	expectError(t, f.alice, "s1", stanza.ServiceUnavailable)
}

func expectError(t *testing.T, s *sink, id string, want stanza.Condition) {
	t.Helper()
	got := s.last.Load()
	if got == nil || got.Type() != stanza.TypeError || got.ID() != id {
		t.Fatalf("got %v, want an error reply to %s", got, id)
	}
	if e := stanza.ParseError(got); e == nil || e.Condition != want {
		t.Fatalf("error %v, want %s", e, want)
	}
}

// Without routes, what is not local bounces as before.
func TestNoRoutesBounce(t *testing.T) {
	r := newRouter(t, nil)
	from, alice := bind(t, r, "alice@localhost/a", 0)
	send := func(st *stanza.Element) {
		st.Set("from", from.JID().String())
		r.RouteFrom(context.Background(), from, st)
	}
	send(stanza.NewIQ("get", "r1", "example.net", stanza.New("urn:xmpp:ping", "ping")))
	expectError(t, alice, "r1", stanza.RemoteServerNotFound)
	send(stanza.NewIQ("get", "r2", "room@component.localhost", stanza.New("urn:xmpp:ping", "ping")))
	expectError(t, alice, "r2", stanza.RemoteServerNotFound)
	send(stanza.NewIQ("get", "r3", "alice@localhost/elsewhere", stanza.New("urn:xmpp:ping", "ping")))
	expectError(t, alice, "r3", stanza.ServiceUnavailable)
}

func TestRouteRegistrationConflicts(t *testing.T) {
	svc := &serviceModule{domain: "pubsub.localhost"}
	r := newRouter(t, []module.Module{svc})
	rt := &recordingRoute{}
	for _, d := range []string{"localhost", "pubsub.localhost"} {
		if err := r.AddDomainRoute(d, rt); err == nil {
			t.Errorf("a route for %s was accepted", d)
		}
	}
	if r.Serves("component.localhost") {
		t.Error("an unknown domain is served")
	}
	if err := r.AddDomainRoute("component.localhost", rt); err != nil {
		t.Fatal(err)
	}
	// A component's domain is reachable over server-to-server, as the
	// served and service domains are.
	for _, d := range []string{"localhost", "pubsub.localhost", "component.localhost"} {
		if !r.Serves(d) {
			t.Errorf("%s is not served", d)
		}
	}
	if err := r.AddDomainRoute("component.localhost", rt); err == nil {
		t.Error("a domain routed twice was accepted")
	}
	if err := r.Register(&serviceModule{domain: "component.localhost"}); err == nil {
		t.Error("a module served a routed domain")
	}
	if err := r.SetRemoteRoute(rt); err != nil {
		t.Fatal(err)
	}
	if err := r.SetRemoteRoute(rt); err == nil {
		t.Error("a second remote route was accepted")
	}
	if err := r.SetSessionRoute(nil); err == nil {
		t.Error("a nil session route was accepted")
	}
}
