package vcard

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// NS is the vcard-temp namespace and disco feature.
const NS = "vcard-temp"

// DefaultMaxBytes is the default limit on the serialised size of a vCard.
const DefaultMaxBytes = 64 << 10

// Module stores and serves vCards.
type Module struct {
	maxBytes int
	log      *slog.Logger
	store    storage.VCards
}

// New returns the vcard module; vCards whose serialisation exceeds
// maxBytes are refused (maxBytes <= 0 means DefaultMaxBytes).
func New(maxBytes int) *Module {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	return &Module{maxBytes: maxBytes}
}

var _ module.Module = (*Module)(nil)

// Name implements module.Module.
func (*Module) Name() string { return "vcard" }

// Register implements module.Module.
func (m *Module) Register(r module.Registrar) error {
	m.log = r.Host().Logger()
	m.store = r.Host().Stores().VCards
	if m.store == nil {
		return errors.New("vcard: no vCard store")
	}
	name := xml.Name{Space: NS, Local: "vCard"}
	r.Feature(module.TargetServer, NS)
	r.Feature(module.TargetAccount, NS)
	r.HandleIQ(module.IQKey{Type: stanza.TypeGet, Name: name, Target: module.TargetAccount}, m.get)
	r.HandleIQ(module.IQKey{Type: stanza.TypeSet, Name: name, Target: module.TargetAccount}, m.set)
	return nil
}

func (m *Module) get(ctx context.Context, q *module.IQ) (*stanza.Element, error) {
	owner := q.To.Bare()
	b, err := m.store.VCard(ctx, owner)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		if q.FromSelf() {
			return stanza.New(NS, "vCard"), nil
		}
		return nil, stanza.Err(stanza.ServiceUnavailable)
	case err != nil:
		return nil, fmt.Errorf("vcard: load %s: %w", owner, err)
	}
	el, err := stream.ParseElement(b, stream.DefaultLimits())
	if err != nil {
		return nil, fmt.Errorf("vcard: stored vCard of %s: %w", owner, err)
	}
	return el, nil
}

func (m *Module) set(ctx context.Context, q *module.IQ) (*stanza.Element, error) {
	if !q.FromSelf() {
		return nil, stanza.Errorf(stanza.Forbidden, "only the account itself may set its vCard")
	}
	owner := q.To.Bare()
	v := q.Payload
	var b []byte
	if len(v.Elements()) > 0 || strings.TrimSpace(v.Text()) != "" {
		b = v.Bytes()
		if len(b) > m.maxBytes {
			m.log.Info("vcard: too large, refused", "user", owner, "bytes", len(b), "max", m.maxBytes)
			return nil, stanza.Errorf(stanza.NotAcceptable, "vCard larger than %d bytes", m.maxBytes)
		}
	}
	if err := m.store.SetVCard(ctx, owner, b); err != nil {
		return nil, fmt.Errorf("vcard: store %s: %w", owner, err)
	}
	return nil, nil
}
