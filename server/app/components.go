package app

import (
	"context"
	"fmt"
	"net"

	"github.com/parley-xmpp/parley/server/component"
	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// startComponents registers the configured external components'
// domains as router routes; it must run before anything is routed.
func (a *App) startComponents() error {
	if len(a.cfg.Components) == 0 {
		return nil
	}
	comps := make([]component.Component, 0, len(a.cfg.Components))
	for _, c := range a.cfg.Components {
		comps = append(comps, component.Component{Domain: c.Domain, Secret: c.Secret})
	}
	a.components = component.New(component.Options{
		Components: comps,
		Router:     a.router,
		Limits:     stream.Limits{MaxStanzaBytes: a.cfg.Limits.MaxStanzaBytes, MaxDepth: a.cfg.Limits.MaxDepth},
		Log:        a.log.With("component", "components"),
	})
	for domain, rt := range a.components.Routes() {
		if err := a.router.AddDomainRoute(domain, rt); err != nil {
			return fmt.Errorf("components: %w", err)
		}
	}
	return nil
}

// componentListeners are the configured component listeners, or the
// default one when components are configured and none is.
func (a *App) componentListeners() []config.Listener {
	var out []config.Listener
	for _, l := range a.cfg.Listeners {
		if l.Type == config.ListenerComponent {
			out = append(out, l)
		}
	}
	if len(out) == 0 && len(a.cfg.Components) > 0 {
		out = append(out, config.Listener{Type: config.ListenerComponent, Address: config.DefaultComponentAddress})
	}
	return out
}

// serveComponents accepts component connections on ln.
func (a *App) serveComponents(ctx context.Context, ln net.Listener) {
	if a.components == nil {
		a.log.Warn("component listener without configured components: every connection will be refused", "address", ln.Addr().String())
		a.components = component.New(component.Options{Router: a.router, Log: a.log.With("component", "components")})
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		if err := a.components.Serve(ctx, ln); err != nil {
			a.log.Error("component listener failed", "address", ln.Addr().String(), "err", err)
			select {
			case a.failed <- fmt.Errorf("component listener %s failed: %w", ln.Addr(), err):
			default:
			}
		}
	}()
}
