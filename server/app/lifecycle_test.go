package app

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// lifecycleProbe starts background work with Host.Go and records its Stop
// hook and the end of that work.
type lifecycleProbe struct {
	mu     sync.Mutex
	events []string
	err    error // of the storage read the background work makes at its end
}

func (p *lifecycleProbe) Name() string { return "lifecycle-probe" }

func (p *lifecycleProbe) record(ev string) {
	p.mu.Lock()
	p.events = append(p.events, ev)
	p.mu.Unlock()
}

func (p *lifecycleProbe) Register(r module.Registrar) error {
	h := r.Host()
	h.Go(func(ctx context.Context) {
		<-ctx.Done()
		time.Sleep(50 * time.Millisecond) // work still under way at shutdown
		_, err := h.AccountExists(context.Background(), jid.MustParse("someone@localhost"))
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		p.record("background done")
	})
	return nil
}

func (p *lifecycleProbe) Stop(context.Context) error {
	p.record("stop")
	return nil
}

// TestStopWaitsForModules: shutdown runs the modules' Stop hooks, then
// ends their background work (Host.Go) and waits for it, so that work
// still finds storage open.
func TestStopWaitsForModules(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Listeners = []config.Listener{{Type: config.ListenerC2S, Address: "127.0.0.1:0"}}
	a, err := Open(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	p := &lifecycleProbe{}
	if err := a.Start(context.Background(), []module.Module{p}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a.Stop(ctx)
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.events) != 2 || p.events[0] != "stop" || p.events[1] != "background done" {
		t.Fatalf("when Stop returned: %q, want the Stop hook, then the background work done", p.events)
	}
	if p.err != nil {
		t.Errorf("background work at shutdown could not read storage: %v", p.err)
	}
}
