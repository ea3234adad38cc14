package router

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-xmpp/parley/server/metrics"
	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/session"
	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// Options configure a Router.
type Options struct {
	Domains []string
	Stores  storage.Stores
	// Table holds the sessions bound on this node: transports bind,
	// unbind and resume sessions in it (Sessions). Nil: an empty table
	// with no per-account limit.
	Table *session.Table
	// Directory is where the router and modules find sessions. Nil: the
	// Table; a cluster puts here one that also knows the sessions bound on
	// its other nodes.
	Directory session.Directory
	Log       *slog.Logger
	Now       func() time.Time
	Limits    module.Limits
	// Accounts is the account service modules reach through Host.
	Accounts module.AccountService
	// Federation lists the server-to-server links for modules
	// (Host.Federation); nil lists none.
	Federation module.FederationService
	// Background runs the modules' background work (Host.Go); nil makes
	// one, which the router's owner stops through Router.Background.
	Background *module.Group
	// Metrics times routing; nil times nothing.
	Metrics *metrics.Metrics
	// Invalidator tells the other nodes of a cluster of cache
	// invalidations (Host.Invalidate); nil on a single server.
	Invalidator Invalidator
	// Node names this node in a cluster: the ids of the IQs the server
	// sends (SendIQ) carry it, so that an answer that reaches another
	// node goes back to this one through Replies. Empty on a single
	// server.
	Node    string
	Replies ReplyForwarder
}

// ReplyForwarder carries the answer to an IQ another node of a cluster
// sent (Router.SendIQ there) to that node, which routes it.
type ReplyForwarder interface {
	ForwardReply(node string, st *stanza.Element)
}

// Invalidator carries cache invalidations to the other nodes of a
// cluster, which run them with Router.EmitInvalidate.
type Invalidator interface {
	Invalidate(topic string, user jid.JID)
}

// Router routes stanzas between local sessions, the server's modules and
// the routes registered to elsewhere (route.go).
type Router struct {
	opts    Options
	log     *slog.Logger
	dir     session.Directory
	domains map[string]bool

	// Filled during registration, read-only afterwards.
	iq             map[module.IQKey]module.IQHandler
	hooks          map[hookKey][]hookEntry
	sessionFns     map[module.SessionEvent][]module.SessionFunc
	deletedFns     []module.AccountFunc
	barrierFns     []module.BarrierFunc
	invalidateFns  map[string][]module.AccountFunc     // by topic (OnInvalidate)
	features       map[module.Target][]string          // written under disco.mu
	identities     map[module.Target][]module.Identity // written under disco.mu
	streamFeatures []func() *stanza.Element
	componentFns   []module.ComponentFunc
	bind2          []module.Bind2Feature
	disco          discoExtras             // nodes, forms, views (disco.go)
	services       map[string]module.Hook  // service domains (ServiceDomain)
	http           map[string]http.Handler // HTTP handlers by path prefix (HandleHTTP)
	serviceNames   []string
	routes         routes // to elsewhere (route.go)
	regErrs        []error
	roster         module.RosterService // Registrar.ProvideRoster, or nil
	seq            int

	pendingMu sync.Mutex
	pending   map[string]pendingIQ
	iqSeq     atomic.Uint64
}

// New returns a router for the given domains.
func New(opts Options) *Router {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Background == nil {
		opts.Background = module.NewGroup()
	}
	if opts.Table == nil {
		opts.Table = session.NewTable(0)
	}
	if opts.Directory == nil {
		opts.Directory = opts.Table
	}
	r := &Router{
		opts:       opts,
		log:        opts.Log,
		dir:        opts.Directory,
		domains:    make(map[string]bool, len(opts.Domains)),
		iq:         make(map[module.IQKey]module.IQHandler),
		hooks:      make(map[hookKey][]hookEntry),
		sessionFns: make(map[module.SessionEvent][]module.SessionFunc),
		features:   make(map[module.Target][]string),
		identities: make(map[module.Target][]module.Identity),
		services:   make(map[string]module.Hook),
		pending:    make(map[string]pendingIQ),
	}
	for _, d := range opts.Domains {
		r.domains[d] = true
	}
	return r
}

// Sessions returns the table of the sessions bound on this node, where
// transports bind them.
func (r *Router) Sessions() *session.Table { return r.opts.Table }

// Directory returns where sessions are found (Options.Directory), which
// modules see as module.Host.Sessions.
func (r *Router) Directory() session.Directory { return r.dir }

// Background returns the group running the modules' background work.
func (r *Router) Background() *module.Group { return r.opts.Background }

// IsLocal reports whether domain is served here.
func (r *Router) IsLocal(domain string) bool { return r.domains[domain] }

// Emit runs the callbacks registered for a session event.
func (r *Router) Emit(ctx context.Context, ev module.SessionEvent, s *session.Session) {
	for _, fn := range r.sessionFns[ev] {
		fn(ctx, s)
	}
}

// EmitAccountDeleted runs the callbacks registered for the deletion of a
// local account (module.Registrar.OnAccountDeleted).
func (r *Router) EmitAccountDeleted(ctx context.Context, user jid.JID) {
	for _, fn := range r.deletedFns {
		fn(ctx, user.Bare())
	}
}

// EmitInvalidate runs the callbacks registered for an invalidation
// another node of the cluster sent (module.Registrar.OnInvalidate).
func (r *Router) EmitInvalidate(ctx context.Context, topic string, user jid.JID) {
	for _, fn := range r.invalidateFns[topic] {
		fn(ctx, user.Bare())
	}
}

// Route routes a stanza whose 'from' is set, on behalf of the server or a
// module.
func (r *Router) Route(ctx context.Context, st *stanza.Element) {
	r.route(ctx, st, nil)
}

// RouteFrom routes a stanza a local session sent; the transport has already
// stamped its 'from'.
func (r *Router) RouteFrom(ctx context.Context, origin *session.Session, st *stanza.Element) {
	r.route(ctx, st, origin)
}

// RouteOnBehalf routes a stanza a privileged component sent in the name
// of a local user (module.Host.RouteOnBehalf): the outbound hooks run, as
// for what a session sends.
func (r *Router) RouteOnBehalf(ctx context.Context, st *stanza.Element) {
	r.routePacket(ctx, &module.Packet{Stanza: st, Kind: stanza.KindOf(st), OnBehalf: true})
}

func (r *Router) route(ctx context.Context, st *stanza.Element, origin *session.Session) {
	r.routePacket(ctx, &module.Packet{Stanza: st, Kind: stanza.KindOf(st), Origin: origin})
}

func (r *Router) routePacket(ctx context.Context, p *module.Packet) {
	if m := r.opts.Metrics; m != nil {
		defer m.Routed(p.Kind, time.Now())
	}
	// What a hook held for a later one that did not take it (the path
	// the stanza took had no such hook) runs once the stanza is routed.
	defer p.Release(ctx)
	st, origin := p.Stanza, p.Origin
	if p.Kind == stanza.KindOther {
		r.log.Warn("router: dropping a non-stanza element", "name", st.Name.Local)
		return
	}
	from, err := jid.Parse(st.From())
	if err != nil {
		r.log.Warn("router: dropping a stanza with an invalid from", "from", st.From(), "err", err)
		return
	}
	p.From = from
	if t := st.To(); t != "" {
		to, err := jid.Parse(t)
		if err != nil {
			r.bounce(ctx, p, stanza.Errorf(stanza.JIDMalformed, "invalid 'to' address"))
			return
		}
		p.To = to
	}
	if (origin != nil || p.OnBehalf) && r.runHooks(ctx, module.PhaseOutbound, p) {
		return
	}
	if p.To.IsZero() {
		switch p.Kind {
		case stanza.KindPresence:
			// Broadcast presence is the presence module's, in the outbound phase.
			r.log.Debug("router: presence without 'to' not handled", "from", from)
			return
		default:
			// RFC 6120 §10.3: handled as if addressed to the sender's bare JID.
			p.To = from.Bare()
		}
	}
	service := r.services[p.To.Domain()]
	if p.Kind == stanza.KindIQ && !st.IsRequest() && (r.IsLocal(p.To.Domain()) || service != nil) && p.To.Local() == "" && p.To.Resource() == "" {
		r.resolvePending(st)
		return
	}
	switch {
	case service != nil:
		r.toService(ctx, p, service)
	case !r.IsLocal(p.To.Domain()):
		r.remote(ctx, p)
	case p.To.Local() == "":
		r.toServer(ctx, p)
	default:
		r.toAccount(ctx, p)
	}
}

// runHooks runs the hooks of a phase and reports whether one handled p.
func (r *Router) runHooks(ctx context.Context, phase module.Phase, p *module.Packet) bool {
	for _, h := range r.hooks[hookKey{phase, p.Kind}] {
		if h.fn(ctx, p) == module.Handled {
			return true
		}
	}
	return false
}

func (r *Router) toServer(ctx context.Context, p *module.Packet) {
	if p.To.Resource() != "" {
		r.bounce(ctx, p, stanza.Err(stanza.ServiceUnavailable))
		return
	}
	switch p.Kind {
	case stanza.KindIQ:
		if p.Stanza.IsRequest() && r.runHooks(ctx, module.PhaseServerIQ, p) {
			return
		}
		r.handleIQ(ctx, p, module.TargetServer)
	default:
		if r.runHooks(ctx, module.PhaseInbound, p) {
			return
		}
		if p.Kind == stanza.KindMessage {
			r.bounce(ctx, p, stanza.Err(stanza.ServiceUnavailable))
		}
	}
}

// toService hands a stanza to the module serving its domain; what the
// module leaves unhandled is refused as RFC 6120 §10.3 would for a server.
func (r *Router) toService(ctx context.Context, p *module.Packet, h module.Hook) {
	if h(ctx, p) == module.Handled {
		return
	}
	if p.Kind == stanza.KindPresence {
		return
	}
	if p.Kind == stanza.KindIQ && !p.Stanza.IsRequest() {
		return
	}
	r.bounce(ctx, p, stanza.Err(stanza.ServiceUnavailable))
}

func (r *Router) toAccount(ctx context.Context, p *module.Packet) {
	bare := p.To.Bare()
	if len(r.dir.Sessions(bare)) == 0 {
		ok, err := r.opts.Stores.Accounts.AccountExists(ctx, bare)
		if err != nil {
			r.log.Error("router: account lookup failed", "user", bare, "err", err)
			r.bounce(ctx, p, stanza.Err(stanza.InternalServerError))
			return
		}
		if !ok {
			// RFC 6121 §8.5.1: no such user.
			switch p.Kind {
			case stanza.KindPresence:
				r.log.Debug("router: presence to unknown user ignored", "to", bare)
			default:
				r.bounce(ctx, p, stanza.Err(stanza.ServiceUnavailable))
			}
			return
		}
	}
	if r.runHooks(ctx, module.PhaseInbound, p) {
		return
	}
	if p.To.Resource() == "" {
		r.toBare(ctx, p)
		return
	}
	r.toFull(ctx, p)
}

// toBare applies RFC 6121 §8.5.2.
func (r *Router) toBare(ctx context.Context, p *module.Packet) {
	switch p.Kind {
	case stanza.KindIQ:
		r.handleIQ(ctx, p, module.TargetAccount)
	case stanza.KindPresence:
		targets := r.dir.Available(p.To)
		shared(p.Stanza, len(targets))
		for _, s := range targets {
			r.deliver(ctx, s, p.Stanza)
		}
	case stanza.KindMessage:
		switch p.Stanza.MessageType() {
		case stanza.TypeError:
			return
		case stanza.TypeGroupchat:
			r.bounce(ctx, p, stanza.Err(stanza.ServiceUnavailable))
			return
		}
		r.deliverMessage(ctx, p, messageTargets(r.dir.Available(p.To), p.Stanza.MessageType()))
	}
}

// messageTargets picks the resources that take a message sent to a bare
// JID (RFC 6121 §8.5.2.1.1): never negative priorities; for chat and normal
// the highest-priority ones (all of them when tied); for headline all.
func messageTargets(available []*session.Session, typ string) []*session.Session {
	if allTargets(available, typ) {
		return available // shared, not modified: no copy
	}
	var out []*session.Session
	best := -1
	for _, s := range available {
		prio := s.Priority()
		if prio < 0 {
			continue
		}
		if typ == stanza.TypeHeadline {
			out = append(out, s)
			continue
		}
		switch {
		case prio > best:
			best = prio
			out = append(out[:0], s)
		case prio == best:
			out = append(out, s)
		}
	}
	return out
}

// allTargets reports whether every one of the available sessions takes a
// message of type typ: none has a negative priority and, unless it is a
// headline, all have the same.
func allTargets(available []*session.Session, typ string) bool {
	for _, s := range available {
		prio := s.Priority()
		if prio < 0 || (typ != stanza.TypeHeadline && prio != available[0].Priority()) {
			return false
		}
	}
	return true
}

// deliverMessage hands a message to the chosen sessions, then runs the
// PhaseDelivered hooks with those that took it, or the undeliverable rules
// when none did.
func (r *Router) deliverMessage(ctx context.Context, p *module.Packet, targets []*session.Session) {
	shared(p.Stanza, len(targets))
	took := targets // shared: copied only once one of them does not take it
	copied := false
	for i, s := range targets {
		ok := r.deliver(ctx, s, p.Stanza)
		switch {
		case !ok && !copied:
			took, copied = append([]*session.Session(nil), targets[:i]...), true
		case ok && copied:
			took = append(took, s)
		}
	}
	if len(took) == 0 {
		r.undeliverable(ctx, p)
		return
	}
	r.delivered(ctx, p, took)
}

// delivered runs the PhaseDelivered hooks for a message sessions took.
func (r *Router) delivered(ctx context.Context, p *module.Packet, sessions []*session.Session) {
	p.Delivered = sessions
	r.runHooks(ctx, module.PhaseDelivered, p)
	p.Delivered = nil
}

func (r *Router) undeliverable(ctx context.Context, p *module.Packet) {
	switch p.Stanza.MessageType() {
	case stanza.TypeHeadline, stanza.TypeError:
		return // RFC 6121 §8.5.2.2.1: silently ignored
	}
	if r.runHooks(ctx, module.PhaseUndeliverable, p) {
		return
	}
	r.bounce(ctx, p, stanza.Err(stanza.ServiceUnavailable))
}

// toFull applies RFC 6121 §8.5.3.
func (r *Router) toFull(ctx context.Context, p *module.Packet) {
	if s := r.dir.Get(p.To); s != nil {
		if r.deliver(ctx, s, p.Stanza) {
			if p.Kind == stanza.KindMessage {
				r.delivered(ctx, p, []*session.Session{s})
			}
			return
		}
	} else if rt := r.routes.sessions; rt != nil && r.forward(ctx, rt, p) {
		// Bound on another node (SetSessionRoute).
		return
	}
	switch p.Kind {
	case stanza.KindIQ:
		r.bounce(ctx, p, stanza.Err(stanza.ServiceUnavailable))
	case stanza.KindPresence:
		// §8.5.3.2.3: available/unavailable and probes to a gone resource
		// are ignored; subscription states were handled by the presence
		// module before delivery.
	case stanza.KindMessage:
		switch p.Stanza.MessageType() {
		case stanza.TypeError:
		case stanza.TypeGroupchat:
			r.bounce(ctx, p, stanza.Err(stanza.ServiceUnavailable))
		default:
			// §8.5.3.2.1: as if sent to the bare JID.
			r.deliverMessage(ctx, p, messageTargets(r.dir.Available(p.To.Bare()), p.Stanza.MessageType()))
		}
	}
}

// shared serialises st once, before it is handed to n > 1 sessions, so
// that their writers copy those bytes instead of each serialising it
// (stanza.Element.AppendBytes).
func shared(st *stanza.Element, n int) {
	if n > 1 {
		st.Bytes()
	}
}

func (r *Router) deliver(_ context.Context, s *session.Session, st *stanza.Element) bool {
	if err := s.Deliver(st); err != nil {
		r.log.Warn("router: delivery failed", "to", s.JID(), "err", err)
		return false
	}
	return true
}

func (r *Router) handleIQ(ctx context.Context, p *module.Packet, target module.Target) {
	st := p.Stanza
	if !st.IsRequest() {
		if target == module.TargetAccount {
			return // results and errors to a bare JID are for nobody
		}
		r.resolvePending(st)
		return
	}
	payload := st.Payload()
	if payload == nil {
		r.bounce(ctx, p, stanza.Errorf(stanza.BadRequest, "an IQ request needs one payload element"))
		return
	}
	h := r.iq[module.IQKey{Type: st.Type(), Name: payload.Name, Target: target}]
	if h == nil {
		r.bounce(ctx, p, stanza.Err(stanza.ServiceUnavailable))
		return
	}
	q := &module.IQ{Stanza: st, Payload: payload, From: p.From, To: p.To, Session: p.Origin}
	res, err := h(ctx, q)
	if errors.Is(err, module.ErrNoReply) {
		return
	}
	if err != nil {
		var se *stanza.Error
		if !errors.As(err, &se) {
			r.log.Error("router: IQ handler failed", "payload", payload.Name.Space, "from", p.From, "err", err)
			se = stanza.Err(stanza.InternalServerError)
		}
		r.bounce(ctx, p, se)
		return
	}
	reply := stanza.Result(st, res)
	reply.Set("to", p.From.String())
	r.reply(ctx, p, reply)
}

// bounce answers p with a stanza error, unless p may not be bounced.
func (r *Router) bounce(ctx context.Context, p *module.Packet, e *stanza.Error) {
	if e.Condition == stanza.PolicyViolation || e.Condition == stanza.ResourceConstraint {
		r.opts.Metrics.Limited(metrics.LimitPolicy) // a quota or a module's limit
	}
	if !stanza.MayBounce(p.Stanza) {
		return
	}
	reply := stanza.ErrorReply(p.Stanza, e)
	if reply.From() == "" {
		if !p.To.IsZero() {
			reply.Set("from", p.To.String())
		}
	}
	r.reply(ctx, p, reply)
}

// reply sends a server-generated answer back to p's sender, straight to
// the origin session when there is one.
func (r *Router) reply(ctx context.Context, p *module.Packet, reply *stanza.Element) {
	if p.Origin != nil && reply.To() == p.Origin.JID().String() {
		r.deliver(ctx, p.Origin, reply)
		return
	}
	if reply.From() == "" {
		reply.Set("from", p.From.Domain())
	}
	r.route(ctx, reply, nil)
}

// pendingIQ is a server-originated IQ request awaiting its answer, which
// only the entity it was sent to may give (RFC 6120 §8.2.3): ids are
// sequential, so any local client could otherwise answer in its stead.
type pendingIQ struct {
	ch chan *stanza.Element
	to string  // the 'from' the answer must carry
	jt jid.JID // the same, parsed (zero if it does not parse)
}

// answeredBy reports whether st comes from the entity the request went to.
func (pe pendingIQ) answeredBy(st *stanza.Element) bool {
	f := st.From()
	if f == pe.to {
		return true
	}
	fj, err := jid.Parse(f)
	return err == nil && !pe.jt.IsZero() && fj == pe.jt
}

// SendIQ sends an IQ request from the server and waits for the answer.
func (r *Router) SendIQ(ctx context.Context, iq *stanza.Element) (*stanza.Element, error) {
	id := "srv-" + strconv.FormatUint(r.iqSeq.Add(1), 36)
	if r.opts.Node != "" {
		id = "srv-" + r.opts.Node + "-" + id[len("srv-"):]
	}
	iq.Set("id", id)
	pe := pendingIQ{ch: make(chan *stanza.Element, 1), to: iq.To()}
	if pe.to == "" {
		// Handled by the server itself (RFC 6120 §10.3), which answers
		// from its domain.
		if from, err := jid.Parse(iq.From()); err == nil {
			pe.to = from.Domain()
		}
	}
	pe.jt, _ = jid.Parse(pe.to)
	r.pendingMu.Lock()
	r.pending[id] = pe
	r.pendingMu.Unlock()
	defer func() {
		r.pendingMu.Lock()
		delete(r.pending, id)
		r.pendingMu.Unlock()
	}()
	r.route(ctx, iq, nil)
	select {
	case res := <-pe.ch:
		if res.Type() == stanza.TypeError {
			if e := stanza.ParseError(res); e != nil {
				return res, e
			}
		}
		return res, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (r *Router) resolvePending(st *stanza.Element) {
	r.pendingMu.Lock()
	pe, ok := r.pending[st.ID()]
	if ok && !pe.answeredBy(st) {
		r.pendingMu.Unlock()
		r.log.Warn("router: IQ answer from an entity the request was not sent to", "id", st.ID(), "from", st.From(), "want", pe.to)
		return
	}
	delete(r.pending, st.ID())
	r.pendingMu.Unlock()
	if ok {
		pe.ch <- st
		return
	}
	if node := nodeOfID(st.ID()); node != "" && node != r.opts.Node && r.opts.Replies != nil {
		r.opts.Replies.ForwardReply(node, st)
	}
}

// nodeOfID returns the node an IQ id of SendIQ names ("srv-<node>-<n>"),
// or "".
func nodeOfID(id string) string {
	rest, ok := strings.CutPrefix(id, "srv-")
	if !ok {
		return ""
	}
	i := strings.LastIndexByte(rest, '-')
	if i <= 0 {
		return ""
	}
	return rest[:i]
}
