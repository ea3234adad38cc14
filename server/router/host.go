package router

import (
	"context"
	"log/slog"
	"time"

	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/session"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// host is the module.Host a module receives: the router with the module's
// own logger and config section.
type host struct {
	*Router
	name   string
	log    *slog.Logger
	stores module.Stores
}

var _ module.Host = (*host)(nil)

func (r *Router) hostFor(name string) *host {
	return &host{Router: r, name: name, log: r.log.With("module", name), stores: module.FeatureStores(r.opts.Stores)}
}

// Sessions returns the session directory, not the local table: modules
// find sessions wherever the directory knows them.
func (h *host) Sessions() session.Directory { return h.dir }

func (h *host) Stores() module.Stores { return h.stores }
func (h *host) Logger() *slog.Logger  { return h.log }
func (h *host) Now() time.Time        { return h.opts.Now() }
func (h *host) Limits() module.Limits { return h.opts.Limits }
func (h *host) Domains() []string     { return h.opts.Domains }

// Accounts returns the account service (module.AccountService).
func (h *host) Accounts() module.AccountService { return h.opts.Accounts }

// Federation returns the federation service (module.FederationService),
// one listing no link when none was given.
func (h *host) Federation() module.FederationService {
	if h.opts.Federation == nil {
		return noFederation{}
	}
	return h.opts.Federation
}

// noFederation is the federation service of a server without federation.
type noFederation struct{}

func (noFederation) Links() []module.FederationLink { return nil }

// Roster returns the roster service a module provided, else the roster
// store.
func (h *host) Roster() module.RosterService {
	if h.roster != nil {
		return h.roster
	}
	return h.opts.Stores.Roster
}

// Invalidate hands a cache invalidation to the cluster, if any
// (module.Host.Invalidate).
func (h *host) Invalidate(topic string, user jid.JID) {
	if h.opts.Invalidator != nil {
		h.opts.Invalidator.Invalidate(topic, user.Bare())
	}
}

// Go runs fn in the background group (module.Host.Go).
func (h *host) Go(fn func(ctx context.Context)) {
	if !h.opts.Background.Go(fn) {
		h.log.Warn("router: background work refused: the server is stopping")
	}
}

func (h *host) AccountExists(ctx context.Context, user jid.JID) (bool, error) {
	return h.opts.Stores.Accounts.AccountExists(ctx, user.Bare())
}
