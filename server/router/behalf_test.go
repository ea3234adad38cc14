package router_test

import (
	"context"
	"encoding/xml"
	"testing"

	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// seamRecorder records what the outbound and server-IQ phases see, and
// takes the server IQs of one namespace before their handler.
type seamRecorder struct {
	outbound []*module.Packet
	serverIQ []string // ids
	handled  []string // ids the IQ handler answered
}

func (s *seamRecorder) Name() string { return "seams" }

func (s *seamRecorder) Register(r module.Registrar) error {
	r.Hook(module.PhaseOutbound, stanza.KindMessage, 0, func(_ context.Context, p *module.Packet) module.Verdict {
		s.outbound = append(s.outbound, p)
		return module.Continue
	})
	r.Hook(module.PhaseServerIQ, stanza.KindIQ, 0, func(_ context.Context, p *module.Packet) module.Verdict {
		s.serverIQ = append(s.serverIQ, p.Stanza.ID())
		if p.Stanza.Payload().Name.Space == "urn:example:taken" {
			return module.Handled
		}
		return module.Continue
	})
	for _, ns := range []string{"urn:example:taken", "urn:example:left"} {
		r.HandleIQ(module.IQKey{Type: stanza.TypeGet, Name: xml.Name{Space: ns, Local: "q"}, Target: module.TargetServer},
			func(_ context.Context, q *module.IQ) (*stanza.Element, error) {
				s.handled = append(s.handled, q.Stanza.ID())
				return nil, nil
			})
	}
	return nil
}

// TestRouteOnBehalf: a stanza routed on a user's behalf meets the
// outbound hooks, marked and without an origin session; one routed for
// the server does not.
func TestRouteOnBehalf(t *testing.T) {
	rec := &seamRecorder{}
	r := newRouter(t, []module.Module{rec})
	_, bob := bind(t, r, "bob@localhost/b", 0)
	m := stanza.NewMessage(stanza.TypeChat, "bob@localhost", "on behalf")
	m.Set("from", "alice@localhost")
	r.RouteOnBehalf(context.Background(), m)
	plain := stanza.NewMessage(stanza.TypeChat, "bob@localhost", "from the server")
	plain.Set("from", "localhost")
	r.Route(context.Background(), plain)
	if len(rec.outbound) != 1 || !rec.outbound[0].OnBehalf || rec.outbound[0].Origin != nil || rec.outbound[0].From.String() != "alice@localhost" {
		t.Fatalf("outbound hooks saw %+v", rec.outbound)
	}
	if bob.n.Load() != 2 {
		t.Fatalf("bob got %d messages", bob.n.Load())
	}
}

// TestPhaseServerIQ: requests to a served domain meet the PhaseServerIQ
// hooks before their handler, which runs only if the hooks let them
// through; requests to an account do not meet them.
func TestPhaseServerIQ(t *testing.T) {
	rec := &seamRecorder{}
	r := newRouter(t, []module.Module{rec})
	alice, _ := bind(t, r, "alice@localhost/a", 0)
	for _, tc := range []struct{ id, ns, to string }{
		{"taken", "urn:example:taken", "localhost"},
		{"left", "urn:example:left", "localhost"},
		{"account", "urn:example:left", "alice@localhost"},
	} {
		iq := stanza.NewIQ(stanza.TypeGet, tc.id, tc.to, stanza.New(tc.ns, "q"))
		iq.Set("from", alice.JID().String())
		r.RouteFrom(context.Background(), alice, iq)
	}
	if len(rec.serverIQ) != 2 || rec.serverIQ[0] != "taken" || rec.serverIQ[1] != "left" {
		t.Fatalf("PhaseServerIQ saw %v", rec.serverIQ)
	}
	if len(rec.handled) != 1 || rec.handled[0] != "left" {
		t.Fatalf("the handler answered %v", rec.handled)
	}
}
