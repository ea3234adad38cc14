package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/modules"
	"github.com/parley-xmpp/parley/server/router"
	"github.com/parley-xmpp/parley/server/storage/sqlite"
)

// ServiceDomains returns the domains the server cfg describes serves
// besides cfg.Domains, sorted: those its enabled modules register
// (conference., upload., proxy., pubsub. …, as their sections name them)
// and the external components'. The modules register on a throwaway
// router over a temporary SQLite database, so nothing of cfg's data
// folder or storage is read or changed; "parley check certs", "check
// dns" and "cert import" ask it which names need a certificate and
// records.
func ServiceDomains(ctx context.Context, cfg *config.Config) ([]string, error) {
	tmp, err := os.MkdirTemp("", "parley-services-")
	if err != nil {
		return nil, fmt.Errorf("listing service domains: %w", err)
	}
	defer os.RemoveAll(tmp)
	c := *cfg
	c.DataDir = tmp
	c.Storage = config.Storage{Kind: config.StorageSQLite}
	db, err := sqlite.Open(ctx, filepath.Join(tmp, "services.db"), nil)
	if err != nil {
		return nil, fmt.Errorf("listing service domains: %w", err)
	}
	defer db.Close()
	r := router.New(router.Options{Domains: c.Domains, Stores: db.Stores()})
	mods := modules.Default(&c)
	if err := c.Modules.Configure(module.ConfigDecoders(mods)); err != nil {
		return nil, fmt.Errorf("configuring modules: %w", err)
	}
	for _, m := range mods {
		if c.Modules.IsDisabled(m.Name()) {
			continue
		}
		if err := r.Register(m); err != nil {
			return nil, fmt.Errorf("listing service domains: %w", err)
		}
	}
	out := slices.Clone(r.Services())
	for _, comp := range cfg.Components {
		if !slices.Contains(out, comp.Domain) {
			out = append(out, comp.Domain)
		}
	}
	slices.Sort(out)
	return out, nil
}
