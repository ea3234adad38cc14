package module

import (
	"context"
	"net"

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
