package module

import (
	"context"
	"net"
	"slices"

	"github.com/parley-xmpp/parley/server/config"
)

// ListenerServer is a module that serves network listeners of a type of
// its own (e.g. the SOCKS5 file transfer proxy): the server opens each
// listener of that type and hands it over once the module has started.
type ListenerServer interface {
	Module
	// ListenerType is the listener type the module serves.
	ListenerType() config.ListenerType
	// ServeListener serves ln until ctx ends, closing ln before it
	// returns; an error is a failure of the listener.
	ServeListener(ctx context.Context, ln net.Listener) error
}

// MultiListenerServer is a ListenerServer that serves listeners of more
// than one type (the TURN server: turn and turns); ListenerType is the
// first of ListenerTypes.
type MultiListenerServer interface {
	ListenerServer
	ListenerTypes() []config.ListenerType
}

// PacketServer is a ListenerServer whose listeners of a datagram type
// (config.Listener.Datagram) also take UDP: the server opens a UDP socket
// on each such listener's address and port too and hands it over with
// ServePacket, which serves pc until ctx ends and closes it.
type PacketServer interface {
	ListenerServer
	ServePacket(ctx context.Context, pc net.PacketConn) error
}

// ListenerWatcher is a ListenerServer that is told the address of each
// of its listeners (TCP, and UDP for a datagram type) as soon as the
// server has opened it, before the server reports it is ready: the Serve
// methods run in goroutines of their own and may start after the first
// client asks the module where its services are.
type ListenerWatcher interface {
	ListenerServer
	Listening(t config.ListenerType, addr net.Addr)
}

// Serves reports whether ls serves listeners of type t.
func Serves(ls ListenerServer, t config.ListenerType) bool {
	if m, ok := ls.(MultiListenerServer); ok {
		return slices.Contains(m.ListenerTypes(), t)
	}
	return ls.ListenerType() == t
}
