package stream

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/router"
	"github.com/parley-xmpp/parley/server/session"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/sasl"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// featTransport is a transport whose security and channel bindings a
// test chooses; it frames stream elements as the TCP transport does not,
// so that a cache shared across transport kinds would show.
type featTransport struct {
	netTransport
	secure bool
	cb     map[string][]byte
}

func (t featTransport) Secure() bool                       { return t.secure }
func (t featTransport) ChannelBindings() map[string][]byte { return t.cb }

// otherFraming is a transport framing stream elements differently.
type otherFraming struct{ featTransport }

func (otherFraming) AppendStreamElement(b []byte, el *stanza.Element) []byte {
	return append(el.AppendXML(append(b, "<framed>"...), stanza.NSClient), "</framed>"...)
}

// dynFeature is a module whose stream feature changes at run time
// (Registrar.StreamFeatureFunc), as disco's caps do.
type dynFeature struct{ ver atomic.Pointer[string] }

func (*dynFeature) Name() string { return "dynfeature" }
func (m *dynFeature) Register(r module.Registrar) error {
	r.StreamFeatureFunc(func() *stanza.Element {
		v := m.ver.Load()
		if v == nil {
			return nil
		}
		return stanza.New("urn:test:dyn", "c", "ver", *v)
	})
	return nil
}

func (m *dynFeature) set(v string) { m.ver.Store(&v) }

// The engine caches each kind of stream's serialised features
// (appendFeatures); every state they depend on still shows: the phase,
// TLS, the channel-binding types of the connection, the transport's
// framing, a configuration replaced (registration toggled, SASL2 off,
// FAST on) and a module's run-time feature changing. Each output is
// checked against the features built and framed afresh.
func TestFeaturesCachedPerState(t *testing.T) {
	table := session.NewTable(0)
	r := router.New(router.Options{Domains: []string{"localhost"}, Table: table})
	dyn := &dynFeature{}
	if err := r.Register(dyn); err != nil {
		t.Fatal(err)
	}
	srv := New(Config{Now: time.Now, Router: r, Sessions: table,
		Registration: Registration{Create: func(context.Context, jid.JID, string) error { return nil }}})

	both := map[string][]byte{sasl.TLSExporter: {1}, sasl.TLSServerEndPoint: {2}}
	endPoint := map[string][]byte{sasl.TLSServerEndPoint: {2}}
	check := func(name string, t0 Transport, ph phase, want ...string) {
		t.Helper()
		c := newConn(srv, t0)
		c.ph = ph
		for i := range 2 { // the first fills the cache, the second reads it
			got := string(c.appendFeatures(nil))
			if fresh := string(t0.AppendStreamElement(nil, c.features(nil))); got != fresh {
				t.Errorf("%s (%d): cached features\n%s\nwant, as built now,\n%s", name, i, got, fresh)
			}
			for _, w := range want {
				neg := strings.HasPrefix(w, "!")
				if strings.Contains(got, strings.TrimPrefix(w, "!")) == neg {
					t.Errorf("%s (%d): features %s: want %q", name, i, got, w)
				}
			}
		}
	}
	check("before TLS", featTransport{}, phaseTLS, "starttls", "!mechanisms")
	check("TLS, both bindings", featTransport{secure: true, cb: both}, phaseAuth, sasl.ScramSHA256Plus, sasl.TLSExporter, "!iq-register")
	check("TLS, end-point only", featTransport{secure: true, cb: endPoint}, phaseAuth, sasl.ScramSHA256Plus, "!"+sasl.TLSExporter)
	check("TLS, no binding", featTransport{secure: true}, phaseAuth, "!"+sasl.ScramSHA256Plus, sasl.ScramSHA256)
	check("not secure", featTransport{}, phaseAuth, "!"+sasl.ScramSHA256, "!authentication")
	check("other framing", otherFraming{featTransport{secure: true, cb: both}}, phaseAuth, "<framed>")
	check("bind, no run-time feature", featTransport{secure: true}, phaseBind, "xmpp-bind", "!urn:test:dyn")
	dyn.set("1")
	check("bind, run-time feature", featTransport{secure: true}, phaseBind, `ver="1"`)
	dyn.set("2")
	check("bind, run-time feature changed", featTransport{secure: true}, phaseBind, `ver="2"`, `!ver="1"`)

	// A configuration replaced: streams accepted from then on see it.
	cfg := srv.Config()
	cfg.Registration.Enabled = true
	cfg.DisableSASL2 = true
	srv.cfg.Store(&cfg)
	check("registration on, SASL2 off", featTransport{secure: true, cb: both}, phaseAuth, "iq-register", "!urn:xmpp:sasl:2")
	cfg2 := cfg
	cfg2.Registration.Enabled = false
	srv.cfg.Store(&cfg2)
	check("registration off again", featTransport{secure: true, cb: both}, phaseAuth, "!iq-register")

	// The cache stays bounded however often the configuration changes.
	for range 3 * maxFeaturesCached {
		next := *srv.cfg.Load()
		srv.cfg.Store(&next)
		newConn(srv, featTransport{}).appendFeatures(nil)
	}
	if n := len(srv.feats.m); n > maxFeaturesCached {
		t.Errorf("%d features cached, bound %d", n, maxFeaturesCached)
	}
}
