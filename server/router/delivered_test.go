package router_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/session"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// deliveredRecorder records the sessions PhaseDelivered reports.
type deliveredRecorder struct {
	calls [][]string
}

func (d *deliveredRecorder) Name() string { return "delivered-recorder" }

func (d *deliveredRecorder) Register(r module.Registrar) error {
	r.Hook(module.PhaseDelivered, stanza.KindMessage, 0, func(_ context.Context, p *module.Packet) module.Verdict {
		var js []string
		for _, s := range p.Delivered {
			js = append(js, s.JID().String())
		}
		slices.Sort(js)
		d.calls = append(d.calls, js)
		return module.Continue
	})
	return nil
}

func TestPhaseDeliveredListsRecipients(t *testing.T) {
	rec := &deliveredRecorder{}
	r := newRouter(t, []module.Module{rec})
	from, _ := bind(t, r, "alice@localhost/a", 0)
	bind(t, r, "bob@localhost/hi1", 5)
	bind(t, r, "bob@localhost/hi2", 5)
	bind(t, r, "bob@localhost/low", 1)
	send := func(to string) {
		m := stanza.NewMessage("chat", to, "hi")
		m.Set("from", from.JID().String())
		r.RouteFrom(context.Background(), from, m)
	}
	send("bob@localhost")     // tied priorities: both top resources
	send("bob@localhost/low") // a full JID: that resource only
	send("bob@localhost/gone")
	send("carol@localhost") // no such user: bounced, nothing delivered
	want := [][]string{
		{"bob@localhost/hi1", "bob@localhost/hi2"},
		{"bob@localhost/low"},
		{"bob@localhost/hi1", "bob@localhost/hi2"},
	}
	if len(rec.calls) != len(want) {
		t.Fatalf("PhaseDelivered ran %d times: %v", len(rec.calls), rec.calls)
	}
	for i := range want {
		if !slices.Equal(rec.calls[i], want[i]) {
			t.Fatalf("call %d: delivered to %v, want %v", i, rec.calls[i], want[i])
		}
	}
	// Presence does not run the phase.
	p := stanza.New(stanza.NSClient, "presence", "to", "bob@localhost", "from", from.JID().String())
	r.RouteFrom(context.Background(), from, p)
	if len(rec.calls) != len(want) {
		t.Fatal("PhaseDelivered ran for a presence")
	}
}

// failing is a session.Conn that refuses every stanza (a closed connection).
type failing struct{ sink }

func (f *failing) Deliver(*stanza.Element) error { return errors.New("closed") }

// A resource that refuses a message is left out of PhaseDelivered, wherever
// it is among the targets, and the table's session list is not modified.
func TestPhaseDeliveredOmitsRefusingResource(t *testing.T) {
	for _, bad := range []int{0, 1, 2} {
		rec := &deliveredRecorder{}
		r := newRouter(t, []module.Module{rec})
		from, _ := bind(t, r, "alice@localhost/a", 0)
		names := []string{"r0", "r1", "r2"}
		var sinks []*sink
		for i, n := range names {
			var c session.Conn
			s := &sink{}
			if i == bad {
				c = &failing{}
			} else {
				c, sinks = s, append(sinks, s)
			}
			sess := session.NewSession(jid.MustParse("bob@localhost/"+n), c)
			if _, err := r.Sessions().Bind(sess); err != nil {
				t.Fatal(err)
			}
			sess.SetPresence(stanza.New(stanza.NSClient, "presence"), 0)
		}
		before := slices.Clone(r.Sessions().Sessions(jid.MustParse("bob@localhost")))
		m := stanza.NewMessage("chat", "bob@localhost", "hi")
		m.Set("from", from.JID().String())
		r.RouteFrom(context.Background(), from, m)
		var want []string
		for i, n := range names {
			if i != bad {
				want = append(want, "bob@localhost/"+n)
			}
		}
		if len(rec.calls) != 1 || !slices.Equal(rec.calls[0], want) {
			t.Fatalf("refusing r%d: PhaseDelivered %v, want [%v]", bad, rec.calls, want)
		}
		if !slices.Equal(before, r.Sessions().Sessions(jid.MustParse("bob@localhost"))) {
			t.Fatalf("refusing r%d: the session table's list was modified", bad)
		}
		for _, s := range sinks {
			if s.n.Load() != 1 {
				t.Fatalf("refusing r%d: a resource got %d copies", bad, s.n.Load())
			}
		}
	}
}

// A message for several resources is serialised once, before delivery.
func TestMessageToSeveralResourcesSerialisedOnce(t *testing.T) {
	r := newRouter(t, nil)
	from, _ := bind(t, r, "alice@localhost/a", 0)
	_, c1 := bind(t, r, "bob@localhost/1", 0)
	_, c2 := bind(t, r, "bob@localhost/2", 0)
	m := stanza.NewMessage("chat", "bob@localhost", "hi")
	m.Set("from", from.JID().String())
	r.RouteFrom(context.Background(), from, m)
	if c1.last.Load() != m || c2.last.Load() != m {
		t.Fatal("not delivered to both resources")
	}
	// Serialised by the router: Bytes returns the cached bytes.
	if n := testing.AllocsPerRun(1, func() { m.Bytes() }); n != 0 {
		t.Fatal("a message for two resources was not serialised before delivery")
	}
}
