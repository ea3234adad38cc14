package entitytime

import (
	"context"
	"encoding/xml"
	"time"

	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// NS is the XEP-0202 namespace and disco feature.
const NS = "urn:xmpp:time"

// Module answers entity time queries.
type Module struct {
	now func() time.Time
}

// New returns the entity time module; it reads the host's clock.
func New() *Module { return &Module{} }

var _ module.Module = (*Module)(nil)

// Name implements module.Module.
func (*Module) Name() string { return "time" }

// Register implements module.Module.
func (m *Module) Register(r module.Registrar) error {
	m.now = r.Host().Now
	r.Feature(module.TargetServer, NS)
	r.HandleIQ(module.IQKey{Type: stanza.TypeGet, Name: xml.Name{Space: NS, Local: "time"}, Target: module.TargetServer}, m.query)
	return nil
}

func (m *Module) query(context.Context, *module.IQ) (*stanza.Element, error) {
	return Element(m.now()), nil
}

// Element returns the <time/> payload for t: <tzo/> is t's zone offset as a
// XEP-0082 TZD ("+hh:mm" or "-hh:mm") and <utc/> is t in UTC as a XEP-0082
// dateTime with millisecond precision.
func Element(t time.Time) *stanza.Element {
	return stanza.New(NS, "time").Append(
		stanza.New(NS, "tzo").AppendText(t.Format("-07:00")),
		stanza.New(NS, "utc").AppendText(t.UTC().Format("2006-01-02T15:04:05.000Z")),
	)
}
