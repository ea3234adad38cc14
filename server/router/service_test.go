package router_test

import (
	"context"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// serviceModule serves one service domain and records what reached it.
type serviceModule struct {
	domain string
	got    []*module.Packet
	handle bool
}

func (m *serviceModule) Name() string { return "svc-" + m.domain }

func (m *serviceModule) Register(r module.Registrar) error {
	r.ServiceDomain(m.domain, func(_ context.Context, p *module.Packet) module.Verdict {
		m.got = append(m.got, p)
		if m.handle {
			return module.Handled
		}
		return module.Continue
	})
	return nil
}

func TestServiceDomainReceivesItsStanzas(t *testing.T) {
	svc := &serviceModule{domain: "pubsub.localhost", handle: true}
	r := newRouter(t, []module.Module{svc})
	from, fromSink := bind(t, r, "alice@localhost/a", 0)
	for _, to := range []string{"pubsub.localhost", "node@pubsub.localhost", "pubsub.localhost/res"} {
		iq := stanza.NewIQ("get", "1", to, stanza.New("urn:example", "q"))
		iq.Set("from", from.JID().String())
		r.RouteFrom(context.Background(), from, iq)
	}
	if len(svc.got) != 3 || svc.got[1].To.Local() != "node" {
		t.Fatalf("service got %d stanzas", len(svc.got))
	}
	if fromSink.n.Load() != 0 {
		t.Fatalf("sender got a reply the module did not send: %v", fromSink.last.Load())
	}
	if got := r.Services(); len(got) != 1 || got[0] != "pubsub.localhost" {
		t.Fatalf("Services() = %v", got)
	}
}

func TestServiceDomainUnhandledBounces(t *testing.T) {
	svc := &serviceModule{domain: "pubsub.localhost"}
	r := newRouter(t, []module.Module{svc})
	from, fromSink := bind(t, r, "alice@localhost/a", 0)
	iq := stanza.NewIQ("get", "1", "pubsub.localhost", stanza.New("urn:example", "q"))
	iq.Set("from", from.JID().String())
	r.RouteFrom(context.Background(), from, iq)
	got := fromSink.last.Load()
	if got == nil || stanza.ParseError(got) == nil || stanza.ParseError(got).Condition != stanza.ServiceUnavailable {
		t.Fatalf("sender got %v, want service-unavailable", got)
	}
	if got.From() != "pubsub.localhost" {
		t.Fatalf("error from %q", got.From())
	}
}

func TestServiceDomainTwiceFails(t *testing.T) {
	r := newRouter(t, nil)
	if err := r.Register(&serviceModule{domain: "pubsub.localhost"}); err != nil {
		t.Fatal(err)
	}
	err := r.Register(&serviceModule{domain: "pubsub.localhost"})
	if err == nil || !strings.Contains(err.Error(), "already served") {
		t.Fatalf("second registration: %v", err)
	}
	if err := newRouter(t, nil).Register(&serviceModule{domain: "localhost"}); err == nil {
		t.Fatal("an account domain accepted as a service domain")
	}
}
