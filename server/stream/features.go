package stream

import (
	"reflect"
	"slices"
	"sync"

	"github.com/parley-xmpp/parley/xmpp/sasl"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// maxFeaturesCached bounds the features cache: the keys are few (phase ×
// TLS × channel bindings × transport kind × configuration snapshot), so
// reaching it means configurations were replaced many times; the cache
// then starts over.
const maxFeaturesCached = 64

// featuresKey is what a stream's <stream:features/> depend on, besides
// the modules' run-time features (Router.StreamFeatures) checked apart:
// the phase, whether the channel is secure, the channel-binding types it
// supports, the configuration snapshot (mechanisms, registration, SASL2,
// FAST, SM, CSI) and the transport's kind, whose framing serialises them.
type featuresKey struct {
	cfg    *Config
	tt     reflect.Type
	cb     uint8 // cbBit of each channel-binding type
	ph     phase
	secure bool
}

// featuresEntry is one cached serialisation, with the modules' run-time
// features it was made with (phaseBind only): when one of them changed
// (disco's caps after a module change), the entry is made again.
type featuresEntry struct {
	dyn []*stanza.Element
	b   []byte
}

// featuresCache keeps each kind of stream's <stream:features/> serialised
// as its transport frames them: every login sends three (before TLS,
// before SASL, before binding), which built and serialised each time
// were a few kilobytes of garbage and a few percent of a login's CPU.
// Entries are immutable once stored; the map is bounded
// (maxFeaturesCached).
type featuresCache struct {
	mu sync.Mutex
	m  map[featuresKey]*featuresEntry
}

// cbBit maps the channel-binding types this engine knows to a bit of the
// cache key; 0 for any other type, which is then never cached.
func cbBit(t string) uint8 {
	switch t {
	case sasl.TLSExporter:
		return 1
	case sasl.TLSServerEndPoint:
		return 2
	case sasl.TLSUnique:
		return 4
	}
	return 0
}

// appendFeatures appends the <stream:features/> of the current phase as
// the transport frames them.
func (c *conn) appendFeatures(buf []byte) []byte { return append(buf, c.featuresBytes()...) }

// featuresBytes returns the <stream:features/> of the current phase as
// the transport frames them, from the engine's cache when this kind of
// stream already had them. The bytes are shared: callers must not modify
// them.
func (c *conn) featuresBytes() []byte {
	if c.srv == nil {
		return c.t.AppendStreamElement(nil, c.features(nil))
	}
	k := featuresKey{cfg: c.cfg, tt: reflect.TypeOf(c.t), ph: c.ph, secure: c.t.Secure()}
	if k.secure {
		for t := range c.channelBindings() {
			bit := cbBit(t)
			if bit == 0 {
				return c.t.AppendStreamElement(nil, c.features(nil))
			}
			k.cb |= bit
		}
	}
	var dyn []*stanza.Element
	if c.ph == phaseBind {
		dyn = c.cfg.Router.StreamFeatures()
	}
	fc := &c.srv.feats
	fc.mu.Lock()
	e := fc.m[k]
	fc.mu.Unlock()
	if e != nil && slices.Equal(e.dyn, dyn) {
		return e.b
	}
	e = &featuresEntry{dyn: dyn, b: c.t.AppendStreamElement(nil, c.features(dyn))}
	fc.mu.Lock()
	if fc.m == nil || len(fc.m) >= maxFeaturesCached {
		fc.m = make(map[featuresKey]*featuresEntry)
	}
	fc.m[k] = e
	fc.mu.Unlock()
	return e.b
}
