package version

import (
	"context"
	"encoding/xml"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// NS is the XEP-0092 namespace and disco feature.
const NS = "jabber:iq:version"

// Module answers software version queries.
type Module struct {
	name, version string
	hide          bool
}

// New returns the version module. name is the software name (e.g.
// "Parley"), version its version; with hide the version is left empty.
func New(name, version string, hide bool) *Module {
	return &Module{name: name, version: version, hide: hide}
}

var _ module.Configurable = (*Module)(nil)

// Configure implements module.Configurable: the section modules.version,
// whose one key, hide (false when left out), replaces the hide the module
// was built with. Call it before Register.
func (m *Module) Configure(s config.Section) error {
	hide := false
	if err := s.Decode(config.Fields{"hide": func(v config.Value) { v.Bool(&hide) }}, nil); err != nil {
		return err
	}
	m.hide = hide
	return nil
}

// Name implements module.Module.
func (*Module) Name() string { return "version" }

// Register implements module.Module.
func (m *Module) Register(r module.Registrar) error {
	r.Feature(module.TargetServer, NS)
	r.HandleIQ(module.IQKey{Type: stanza.TypeGet, Name: xml.Name{Space: NS, Local: "query"}, Target: module.TargetServer}, m.query)
	return nil
}

func (m *Module) query(context.Context, *module.IQ) (*stanza.Element, error) {
	v := m.version
	if m.hide {
		v = ""
	}
	return stanza.New(NS, "query").Append(
		stanza.New(NS, "name").AppendText(m.name),
		stanza.New(NS, "version").AppendText(v),
	), nil
}
