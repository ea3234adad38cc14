package pubsub

import (
	"github.com/parley-xmpp/parley/xmpp/form"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// optionEl returns a data form <option/> whose label is its value.
func optionEl(v string) *stanza.Element {
	return stanza.New(form.NS, "option", "label", v).Append(stanza.New(form.NS, "value").AppendText(v))
}
