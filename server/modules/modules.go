// Package modules is the explicit, ordered list of the server's modules.
// Nothing registers itself: adding a feature means adding a line here.
package modules

import (
	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/module"
)

// Default returns the modules of a standard server, in registration order.
func Default(cfg *config.Config) []module.Module {
	_ = cfg
	return []module.Module{}
}
