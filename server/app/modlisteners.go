package app

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/module"
)

// listenerServer returns the enabled module that serves listeners of
// type t, or nil.
func (a *App) listenerServer(t config.ListenerType) module.ListenerServer {
	for _, m := range a.modules {
		if ls, ok := m.(module.ListenerServer); ok && module.Serves(ls, t) {
			return ls
		}
	}
	return nil
}

// serveModuleListener has srv serve ln until ctx ends; a failure of the
// listener stops the server, as a failed component listener does.
func (a *App) serveModuleListener(ctx context.Context, ln net.Listener, srv module.ListenerServer) {
	a.serveModule(srv.Name(), ln.Addr().String(), func() error { return srv.ServeListener(ctx, ln) })
}

// servePacket has srv serve pc until ctx ends; a failure stops the server.
func (a *App) servePacket(ctx context.Context, pc net.PacketConn, srv module.PacketServer) {
	a.serveModule(srv.Name(), "udp "+pc.LocalAddr().String(), func() error { return srv.ServePacket(ctx, pc) })
}

// serveModule runs serve, a module's serving of a listener at address,
// and stops the server when it fails.
func (a *App) serveModule(name, address string, serve func() error) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		if err := serve(); err != nil {
			a.log.Error("listener failed", "module", name, "address", address, "err", err)
			select {
			case a.failed <- fmt.Errorf("%s listener %s failed: %w", name, address, err):
			default:
			}
		}
	}()
}

// startModuleListener hands ln, a listener of a type a module serves, to
// that module: wrapped in TLS with the server's certificates for a direct
// TLS type, and with a UDP socket on the same address and port for a
// datagram type (the UDP socket takes the TCP listener's port when the
// configured one is 0).
func (a *App) startModuleListener(ctx context.Context, l config.Listener, ln net.Listener) error {
	srv := a.listenerServer(l.Type)
	var pc net.PacketConn
	if l.Datagram() {
		_, ok := srv.(module.PacketServer)
		if !ok {
			ln.Close()
			return fmt.Errorf("listener %s on %s: module %s does not take datagrams", l.Type, l.Address, srv.Name())
		}
		host, _, _ := net.SplitHostPort(l.Address)
		port := ln.Addr().(*net.TCPAddr).Port
		var err error
		if pc, err = net.ListenPacket("udp", net.JoinHostPort(host, strconv.Itoa(port))); err != nil {
			ln.Close()
			return fmt.Errorf("listener %s on %s (UDP): %w", l.Type, l.Address, err)
		}
	}
	if w, ok := srv.(module.ListenerWatcher); ok {
		w.Listening(l.Type, ln.Addr())
		if pc != nil {
			w.Listening(l.Type, pc.LocalAddr())
		}
	}
	if pc != nil {
		a.servePacket(ctx, pc, srv.(module.PacketServer))
	}
	a.mu.Lock()
	a.listeners = append(a.listeners, ln)
	a.addrs[l.Type] = append(a.addrs[l.Type], ln.Addr())
	if pc != nil {
		a.addrs[l.Type] = append(a.addrs[l.Type], pc.LocalAddr())
	}
	a.mu.Unlock()
	served := ln
	if l.DirectTLS() {
		served = tls.NewListener(ln, a.tls)
	}
	a.serveModuleListener(ctx, served, srv)
	return nil
}
