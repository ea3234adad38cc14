package app

import (
	"context"
	"log/slog"
	"testing"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/module"
)

// settingsProbe is a module with one setting, "size".
type settingsProbe struct {
	size       int
	registered bool // when Register ran, Configure had already
}

func (p *settingsProbe) Name() string { return "probe" }

func (p *settingsProbe) Configure(s config.Section) error {
	return s.Decode(config.Fields{"size": func(v config.Value) { v.Int(&p.size) }}, func(report config.Report) {
		if p.size < 0 {
			report("size", "must not be negative")
		}
	})
}

func (p *settingsProbe) Register(module.Registrar) error {
	p.registered = p.size != 0
	return nil
}

// TestStartConfiguresModules: Start hands each module its section before
// it registers, and refuses sections naming no module or failing the
// module's checks.
func TestStartConfiguresModules(t *testing.T) {
	for _, tt := range []struct {
		name    string
		section string
		values  map[string]any
		err     string
	}{
		{"decoded", "probe", map[string]any{"size": 3}, ""},
		{"invalid", "probe", map[string]any{"size": -1}, "configuring modules: modules.probe.size: must not be negative"},
		{"no such module", "nosuch", map[string]any{}, "configuring modules: modules.nosuch: unknown key (known keys: disabled, probe)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.DataDir = t.TempDir()
			cfg.Listeners = []config.Listener{{Type: config.ListenerC2S, Address: "127.0.0.1:0"}}
			cfg.Modules.SetSection(tt.section, tt.values)
			a, err := Open(context.Background(), cfg, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			p := &settingsProbe{}
			err = a.Start(context.Background(), []module.Module{p})
			if err == nil {
				a.Stop(context.Background())
			}
			switch {
			case tt.err == "" && (err != nil || p.size != 3 || !p.registered):
				t.Errorf("Start = %v; size %d, configured before Register %v", err, p.size, p.registered)
			case tt.err != "" && (err == nil || err.Error() != tt.err):
				t.Errorf("Start = %v, want %s", err, tt.err)
			}
		})
	}
}
