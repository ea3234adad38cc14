package private

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"

	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// NS is the XEP-0049 namespace.
const NS = "jabber:iq:private"

// DefaultMaxBytes is the default limit on the serialised size of one
// stored fragment.
const DefaultMaxBytes = 64 << 10

// Options configure the module.
type Options struct {
	// MaxBytes bounds the serialised size of one fragment; 0 means
	// DefaultMaxBytes.
	MaxBytes int
	// Quota bounds what one account stores: fragments and their total
	// size. A zero field sets no bound.
	Quota storage.Quota
}

// Module stores private XML.
type Module struct {
	opts  Options
	log   *slog.Logger
	store storage.Private
}

// New returns the private storage module.
func New(opts Options) *Module {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	return &Module{opts: opts}
}

var _ module.Module = (*Module)(nil)

// Name implements module.Module.
func (*Module) Name() string { return "private" }

// Register implements module.Module.
func (m *Module) Register(r module.Registrar) error {
	m.log = r.Host().Logger()
	m.store = r.Host().Stores().Private
	if m.store == nil {
		return errors.New("private: no private XML store")
	}
	name := xml.Name{Space: NS, Local: "query"}
	r.HandleIQ(module.IQKey{Type: stanza.TypeGet, Name: name, Target: module.TargetAccount}, m.get)
	r.HandleIQ(module.IQKey{Type: stanza.TypeSet, Name: name, Target: module.TargetAccount}, m.set)
	return nil
}

// Key returns the storage key of a fragment: its namespace and local name
// joined by a space, as storage.Private expects.
func Key(el *stanza.Element) string { return el.Name.Space + " " + el.Name.Local }

// check returns the children of a request after applying the access and
// namespace rules.
func check(q *module.IQ) ([]*stanza.Element, error) {
	if !q.FromSelf() {
		return nil, stanza.Errorf(stanza.Forbidden, "private storage belongs to its account only")
	}
	children := q.Payload.Elements()
	if len(children) == 0 {
		return nil, stanza.Errorf(stanza.BadRequest, "a child element naming the data is required")
	}
	for _, c := range children {
		if c.Name.Space == NS || c.Name.Space == "" || stanza.IsContentNS(c.Name.Space) {
			return nil, stanza.Errorf(stanza.NotAcceptable, "namespace %q is reserved", c.Name.Space)
		}
	}
	return children, nil
}

func (m *Module) get(ctx context.Context, q *module.IQ) (*stanza.Element, error) {
	children, err := check(q)
	if err != nil {
		return nil, err
	}
	if len(children) > 1 {
		return nil, stanza.Errorf(stanza.BadRequest, "one element per get")
	}
	want := children[0]
	owner := q.To.Bare()
	b, err := m.store.PrivateXML(ctx, owner, Key(want))
	res := stanza.New(NS, "query")
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return res.Append(stanza.New(want.Name.Space, want.Name.Local)), nil
	case err != nil:
		return nil, fmt.Errorf("private: load %s of %s: %w", Key(want), owner, err)
	}
	el, err := stream.ParseElement(b, stream.DefaultLimits())
	if err != nil {
		return nil, fmt.Errorf("private: stored %s of %s: %w", Key(want), owner, err)
	}
	return res.Append(el), nil
}

func (m *Module) set(ctx context.Context, q *module.IQ) (*stanza.Element, error) {
	children, err := check(q)
	if err != nil {
		return nil, err
	}
	data := make([][]byte, len(children))
	for i, c := range children {
		data[i] = c.Bytes()
		if len(data[i]) > m.opts.MaxBytes {
			return nil, stanza.Errorf(stanza.NotAcceptable, "element larger than %d bytes", m.opts.MaxBytes)
		}
	}
	owner := q.To.Bare()
	elems := make([]storage.PrivateElement, len(children))
	for i, c := range children {
		elems[i] = storage.PrivateElement{Key: Key(c), Data: data[i]}
	}
	err = m.store.SetPrivateXMLWithin(ctx, owner, elems, m.opts.Quota)
	if errors.Is(err, storage.ErrQuota) {
		// XEP-0049 names no condition for a full store; the server lacks
		// the room the request needs (RFC 6120 §8.3.3.18). Nothing of the
		// request was stored.
		m.log.Info("private: quota reached, elements refused", "user", owner, "elements", len(elems),
			"max_entries", m.opts.Quota.Count, "max_bytes", m.opts.Quota.Bytes)
		return nil, stanza.Errorf(stanza.ResourceConstraint, "private storage full: at most %d elements and %d bytes",
			m.opts.Quota.Count, m.opts.Quota.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("private: store for %s: %w", owner, err)
	}
	return nil, nil
}
