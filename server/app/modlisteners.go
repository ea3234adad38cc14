package app

import (
	"context"
	"fmt"
	"net"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/module"
)

// listenerServer returns the enabled module that serves listeners of
// type t, or nil.
func (a *App) listenerServer(t config.ListenerType) module.ListenerServer {
	for _, m := range a.modules {
		if ls, ok := m.(module.ListenerServer); ok && ls.ListenerType() == t {
			return ls
		}
	}
	return nil
}

// serveModuleListener has srv serve ln until ctx ends; a failure of the
// listener stops the server, as a failed component listener does.
func (a *App) serveModuleListener(ctx context.Context, ln net.Listener, srv module.ListenerServer) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		if err := srv.ServeListener(ctx, ln); err != nil {
			a.log.Error("listener failed", "module", srv.Name(), "address", ln.Addr().String(), "err", err)
			select {
			case a.failed <- fmt.Errorf("%s listener %s failed: %w", srv.Name(), ln.Addr(), err):
			default:
			}
		}
	}()
}
