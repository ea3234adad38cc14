package router_test

import (
	"context"
	"slices"
	"testing"

	"github.com/parley-xmpp/parley/server/module"
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
