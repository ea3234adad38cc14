package privilege

import (
	"context"
	"encoding/xml"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/privilege"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// Defaults of Options.
const (
	DefaultMaxPending = 1024
	DefaultTimeout    = 30 * time.Second
)

// Options configure the module.
type Options struct {
	// Components are the external components and their grants.
	Components module.Components
	// MaxPending bounds the privileged IQs (and delegated IQs) awaiting
	// their answer, over all components; 0 means DefaultMaxPending.
	MaxPending int
	// Timeout is how long an answer is awaited; 0 means DefaultTimeout.
	Timeout time.Duration
}

// Module implements privileged messages and IQs.
type Module struct {
	opts Options
	host module.Host
	log  *slog.Logger
	seq  atomic.Uint64

	mu      sync.Mutex
	pending map[pendingKey]*pendingIQ

	delegated map[string]string // namespace → component domain
	inflight  atomic.Int64      // delegated IQs awaiting an answer

	nestMu    sync.Mutex        // orders the nesting of each component's features
	nestEpoch map[string]uint64 // component domain → connects and disconnects seen
}

// pendingKey finds the request an answer belongs to: the user the
// request went out from and the id the server gave it.
type pendingKey struct {
	user jid.JID
	id   string
}

// pendingIQ is a privileged IQ awaiting its answer.
type pendingIQ struct {
	component string // the component's domain
	outerID   string // the id of the component's <privileged_iq/> request
	innerID   string // the id the component gave the request
	to        string // where the request went ('from' of a genuine answer)
	timer     *time.Timer
}

// Configure implements module.Configurable: modules.privilege's keys
// max_pending and timeout.
func (m *Module) Configure(s config.Section) error {
	o := m.opts
	err := s.Decode(config.Fields{
		"max_pending": func(v config.Value) { v.Int(&o.MaxPending) },
		"timeout":     func(v config.Value) { v.Duration(&o.Timeout) },
	}, func(report config.Report) {
		if o.MaxPending < 1 {
			report("max_pending", "must be at least 1")
		}
		if o.Timeout <= 0 {
			report("timeout", "must be positive")
		}
	})
	if err != nil {
		return err
	}
	m.opts = o
	return nil
}

// New returns the module.
func New(opts Options) *Module {
	if opts.MaxPending <= 0 {
		opts.MaxPending = DefaultMaxPending
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	return &Module{opts: opts, pending: map[pendingKey]*pendingIQ{}}
}

var (
	_ module.Module       = (*Module)(nil)
	_ module.Configurable = (*Module)(nil)
	_ module.Stopper      = (*Module)(nil)
)

// Name implements module.Module.
func (*Module) Name() string { return "privilege" }

// Register implements module.Module.
func (m *Module) Register(r module.Registrar) error {
	m.host = r.Host()
	m.log = m.host.Logger()
	r.Hook(module.PhaseInbound, stanza.KindMessage, module.PriorityObserve, m.message)
	name := xml.Name{Space: privilege.NS, Local: "privileged_iq"}
	for _, typ := range []string{stanza.TypeGet, stanza.TypeSet} {
		r.HandleIQ(module.IQKey{Type: typ, Name: name, Target: module.TargetAccount}, m.privilegedIQ)
	}
	for _, c := range m.opts.Components {
		if len(c.Grants.IQ) > 0 {
			r.Hook(module.PhaseInbound, stanza.KindIQ, module.PriorityObserve, m.answer)
			break
		}
	}
	m.registerDelegations(r)
	m.registerNesting(r)
	return nil
}

// refuse bounces a stanza a component sent with <forbidden/>, and logs
// why.
func (m *Module) refuse(ctx context.Context, p *module.Packet, why string) module.Verdict {
	m.log.Info("privilege: refused", "from", p.From, "to", p.To, "kind", p.Kind, "reason", why)
	m.bounce(ctx, p.Stanza, p.To.String(), stanza.Errorf(stanza.Forbidden, "%s", why))
	return module.Handled
}

// bounce routes an error reply to st from 'from'.
func (m *Module) bounce(ctx context.Context, st *stanza.Element, from string, e *stanza.Error) {
	if !stanza.MayBounce(st) {
		return
	}
	reply := stanza.ErrorReply(st, e)
	if reply.From() == "" {
		reply.Set("from", from)
	}
	m.host.Route(ctx, reply)
}

// message sends a message a component forwarded in <privilege/> to the
// server (§5.3): from a bare JID of a served domain (or a served domain
// itself), and only with the message privilege.
func (m *Module) message(ctx context.Context, p *module.Packet) module.Verdict {
	if p.To.Local() != "" || p.Stanza.Child(privilege.NS, "privilege") == nil {
		return module.Continue
	}
	c, ok := m.opts.Components.Of(p.From)
	if !ok {
		return m.refuse(ctx, p, "only a component may send privileged messages")
	}
	if !c.Grants.Message {
		return m.refuse(ctx, p, c.Domain+" has no message privilege")
	}
	inner, err := privilege.Forwarded(p.Stanza, privilege.NS)
	if err != nil || stanza.KindOf(inner) != stanza.KindMessage {
		m.log.Info("privilege: malformed privileged message", "from", p.From, "err", err)
		m.bounce(ctx, p.Stanza, p.To.String(), stanza.Errorf(stanza.BadRequest, "a privileged message forwards one message"))
		return module.Handled
	}
	from, err := jid.Parse(inner.From())
	if err != nil || from.Resource() != "" || !m.host.IsLocal(from.Domain()) {
		// §5.1: a bare JID of the server, no resource.
		return m.refuse(ctx, p, "a privileged message is from a bare JID of a served domain")
	}
	to, err := jid.Parse(inner.To())
	if err != nil || inner.To() == "" {
		m.bounce(ctx, p.Stanza, p.To.String(), stanza.Errorf(stanza.JIDMalformed, "the forwarded message needs a valid 'to'"))
		return module.Handled
	}
	out := inner.Clone()
	out.Set("from", from.String())
	out.Set("to", to.String())
	m.log.Debug("privilege: message on behalf", "component", c.Domain, "from", from, "to", to)
	if from.Local() == "" {
		m.host.Route(ctx, out)
	} else {
		m.host.RouteOnBehalf(ctx, out)
	}
	return module.Handled
}

// privilegedIQ sends the IQ a component wrapped in <privileged_iq/> from
// the bare JID of the user it addressed (§6.3), after the checks the XEP
// lists; the answer goes back to the component forwarded (answer).
func (m *Module) privilegedIQ(ctx context.Context, q *module.IQ) (*stanza.Element, error) {
	user := q.To.Bare()
	c, ok := m.opts.Components.Of(q.From)
	if !ok {
		m.log.Info("privilege: privileged IQ from a non-component refused", "from", q.From, "user", user)
		return nil, stanza.Errorf(stanza.Forbidden, "only a component may send privileged IQs")
	}
	var inner *stanza.Element
	for _, e := range q.Payload.Elements() {
		inner = e
		break
	}
	switch {
	case inner == nil || inner.Name.Local != "iq":
		m.log.Info("privilege: malformed privileged IQ", "component", c.Domain, "user", user)
		return nil, stanza.Errorf(stanza.BadRequest, "<privileged_iq/> carries an IQ")
	case inner.Name.Space != stanza.NSClient:
		return nil, m.forbid(c, user, "the encapsulated IQ is not jabber:client")
	case inner.Type() != q.Stanza.Type():
		return nil, m.forbid(c, user, "the encapsulated IQ's type differs")
	case inner.From() != "" && inner.From() != user.String():
		return nil, m.forbid(c, user, "the encapsulated IQ is from someone else")
	}
	payload := inner.Payload()
	if payload == nil {
		m.log.Info("privilege: privileged IQ without a payload", "component", c.Domain, "user", user)
		return nil, stanza.Errorf(stanza.BadRequest, "the encapsulated IQ has no payload")
	}
	if !c.Grants.IQ[payload.Name.Space].Allows(inner.Type()) {
		return nil, m.forbid(c, user, "no iq privilege for "+payload.Name.Space+" "+inner.Type())
	}
	id := "priv-" + strconv.FormatUint(m.seq.Add(1), 36)
	pe := &pendingIQ{component: c.Domain, outerID: q.Stanza.ID(), innerID: inner.ID(), to: inner.To()}
	if pe.to == "" {
		pe.to = user.String()
	}
	key := pendingKey{user, id}
	if !m.await(key, pe, func() {
		m.log.Info("privilege: no answer to a privileged IQ", "component", c.Domain, "user", user, "to", pe.to)
		m.bounce(context.Background(), q.Stanza, user.String(), stanza.Err(stanza.RemoteServerTimeout))
	}) {
		m.log.Warn("privilege: too many privileged IQs awaiting an answer", "component", c.Domain, "max", m.opts.MaxPending)
		return nil, &stanza.Error{Type: stanza.ErrWait, Condition: stanza.ResourceConstraint, Text: "too many privileged IQs awaiting an answer"}
	}
	out := inner.Clone()
	out.Set("from", user.String())
	out.Set("to", pe.to)
	out.Set("id", id)
	m.host.Route(ctx, out)
	return nil, module.ErrNoReply
}

// forbid logs a refused privileged IQ and returns its <forbidden/>.
func (m *Module) forbid(c module.Component, user jid.JID, why string) error {
	m.log.Info("privilege: privileged IQ refused", "component", c.Domain, "user", user, "reason", why)
	return stanza.Errorf(stanza.Forbidden, "%s", why)
}

// await records a request awaiting its answer; expire runs if none comes
// in time. It reports false when too many are pending.
func (m *Module) await(key pendingKey, pe *pendingIQ, expire func()) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.pending) >= m.opts.MaxPending {
		return false
	}
	m.pending[key] = pe
	pe.timer = time.AfterFunc(m.opts.Timeout, func() {
		if m.take(key) != nil {
			expire()
		}
	})
	return true
}

// Stop implements module.Stopper: the requests still awaiting an answer
// are dropped (their components are going away with the server).
func (m *Module) Stop(context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for key, pe := range m.pending {
		pe.timer.Stop()
		delete(m.pending, key)
	}
	return nil
}

// take removes and returns a pending request, or nil.
func (m *Module) take(key pendingKey) *pendingIQ {
	m.mu.Lock()
	defer m.mu.Unlock()
	pe := m.pending[key]
	if pe != nil {
		delete(m.pending, key)
		pe.timer.Stop()
	}
	return pe
}

// answer catches the answer to a privileged IQ, addressed to the user's
// bare JID, and forwards it to the component that asked (§6.3).
func (m *Module) answer(ctx context.Context, p *module.Packet) module.Verdict {
	st := p.Stanza
	if st.IsRequest() || p.To.Resource() != "" {
		return module.Continue
	}
	key := pendingKey{p.To.Bare(), st.ID()}
	m.mu.Lock()
	pe := m.pending[key]
	genuine := pe != nil && answeredBy(st, pe.to)
	m.mu.Unlock()
	if !genuine {
		return module.Continue
	}
	if m.take(key) == nil {
		return module.Handled // expired meanwhile
	}
	inner := st.Clone()
	inner.Set("id", pe.innerID)
	reply := stanza.New(stanza.NSClient, "iq", "type", stanza.TypeResult, "id", pe.outerID, "from", key.user.String(), "to", pe.component)
	reply.Append(privilege.Forward(privilege.NS, inner))
	m.host.Route(ctx, reply)
	return module.Handled
}

// answeredBy reports whether st comes from to, where a request went.
func answeredBy(st *stanza.Element, to string) bool {
	if st.From() == to {
		return true
	}
	j, err := jid.Parse(to)
	return err == nil && sameAddr(st.From(), j)
}
