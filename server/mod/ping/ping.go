package ping

import (
	"context"
	"encoding/xml"

	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// NS is the XEP-0199 namespace and disco feature.
const NS = "urn:xmpp:ping"

// Module answers pings.
type Module struct{}

// New returns the ping module.
func New() *Module { return &Module{} }

var _ module.Module = (*Module)(nil)

// Name implements module.Module.
func (*Module) Name() string { return "ping" }

// Register implements module.Module.
func (*Module) Register(r module.Registrar) error {
	name := xml.Name{Space: NS, Local: "ping"}
	for _, t := range []module.Target{module.TargetServer, module.TargetAccount} {
		r.Feature(t, NS)
		r.HandleIQ(module.IQKey{Type: stanza.TypeGet, Name: name, Target: t}, pong)
	}
	return nil
}

// pong answers with an empty result (XEP-0199 §4.2).
func pong(context.Context, *module.IQ) (*stanza.Element, error) { return nil, nil }
