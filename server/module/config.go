package module

import "github.com/parley-xmpp/parley/server/config"

// Configurable is implemented by a module that has settings: its section
// "modules.<Name>" of the configuration, which it decodes itself with
// [config.Section.Decode] (unknown keys, wrong types and invalid values
// are reported with file, line and dotted key like the rest of the file).
// Configure is called before Register, and only when the configuration
// has the module's section; without one the module keeps the defaults it
// was built with. A section is decoded and checked even when the module
// is disabled.
type Configurable interface {
	Module
	Configure(s config.Section) error
}

// ConfigDecoders returns the section decoders of the configurable modules
// among mods, keyed by module name, for [config.Modules.Configure].
func ConfigDecoders(mods []Module) map[string]config.SectionDecoder {
	decs := make(map[string]config.SectionDecoder)
	for _, m := range mods {
		if c, ok := m.(Configurable); ok {
			decs[m.Name()] = c.Configure
		}
	}
	return decs
}
