package serverinfo

import (
	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/xmpp/form"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// FormType is the FORM_TYPE of the XEP-0157 contact addresses form.
const FormType = "http://jabber.org/network/serverinfo"

// Module adds the configured forms to the server's disco#info.
type Module struct {
	contacts config.ContactAddresses
	extra    []config.InfoForm
}

var _ module.Module = (*Module)(nil)

// New returns the module for the configured contact addresses and extra
// forms.
func New(contacts config.ContactAddresses, extra []config.InfoForm) *Module {
	return &Module{contacts: contacts, extra: extra}
}

// Name implements module.Module.
func (m *Module) Name() string { return "serverinfo" }

// Register implements module.Module. Nothing is added when nothing is
// configured.
func (m *Module) Register(r module.Registrar) error {
	if fields := m.contacts.Fields(); len(fields) > 0 {
		r.DiscoForm(module.TargetServer, resultForm(FormType, fields))
	}
	for _, f := range m.extra {
		r.DiscoForm(module.TargetServer, resultForm(f.FormType, f.Fields))
	}
	return nil
}

// resultForm builds a form of type result (XEP-0128 §2). Fields with
// several values say so with their type, list-multi as the XEP-0157
// registry gives, so that strict parsers accept them.
func resultForm(formType string, fields []config.InfoField) *stanza.Element {
	f := form.New(form.TypeResult, formType)
	for _, fl := range fields {
		field := form.Field{Var: fl.Var, Values: fl.Values}
		if len(fl.Values) > 1 {
			field.Type = form.FieldListMulti
		}
		f.Add(field)
	}
	return f.Element()
}
