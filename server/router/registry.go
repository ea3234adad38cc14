package router

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/session"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

type hookKey struct {
	phase module.Phase
	kind  stanza.Kind
}

type hookEntry struct {
	priority int
	seq      int
	module   string
	fn       module.Hook
}

type registration struct {
	r      *Router
	module string
}

var _ module.Registrar = (*registration)(nil)

// Register calls m.Register with a registrar bound to this router. It must
// run before the router serves any stanza.
func (r *Router) Register(m module.Module) error {
	reg := &registration{r: r, module: m.Name()}
	if err := m.Register(reg); err != nil {
		return fmt.Errorf("module %s: %w", m.Name(), err)
	}
	if len(r.regErrs) > 0 {
		return fmt.Errorf("module %s: %w", m.Name(), r.regErrs[0])
	}
	return nil
}

func (g *registration) Host() module.Host { return g.r.hostFor(g.module) }

func (g *registration) HandleIQ(key module.IQKey, h module.IQHandler) {
	if _, dup := g.r.iq[key]; dup {
		g.r.regErrs = append(g.r.regErrs, fmt.Errorf("IQ handler %s {%s}%s for target %d registered twice", key.Type, key.Name.Space, key.Name.Local, key.Target))
		return
	}
	g.r.iq[key] = h
}

func (g *registration) Hook(phase module.Phase, kind stanza.Kind, priority int, h module.Hook) {
	k := hookKey{phase, kind}
	g.r.seq++
	list := append(g.r.hooks[k], hookEntry{priority: priority, seq: g.r.seq, module: g.module, fn: h})
	sort.SliceStable(list, func(i, j int) bool { return list[i].priority < list[j].priority })
	g.r.hooks[k] = list
}

func (g *registration) ProvideRoster(svc module.RosterService) {
	if g.r.roster != nil {
		g.r.regErrs = append(g.r.regErrs, fmt.Errorf("roster service provided twice"))
		return
	}
	g.r.roster = svc
}

func (g *registration) OnSession(ev module.SessionEvent, fn module.SessionFunc) {
	g.r.sessionFns[ev] = append(g.r.sessionFns[ev], fn)
}

func (g *registration) OnAccountDeleted(fn module.AccountFunc) {
	g.r.deletedFns = append(g.r.deletedFns, fn)
}

func (g *registration) Barrier(fn module.BarrierFunc) {
	g.r.barrierFns = append(g.r.barrierFns, fn)
}

// Barrier runs the modules' durability barriers (module.Registrar.Barrier)
// for s: it returns once what s's earlier stanzas left to be made durable
// is, or ctx ended.
func (r *Router) Barrier(ctx context.Context, s *session.Session) {
	for _, fn := range r.barrierFns {
		fn(ctx, s)
	}
}

func (g *registration) OnInvalidate(topic string, fn module.AccountFunc) {
	if g.r.invalidateFns == nil {
		g.r.invalidateFns = make(map[string][]module.AccountFunc)
	}
	g.r.invalidateFns[topic] = append(g.r.invalidateFns[topic], fn)
}

func (g *registration) HandleHTTP(prefix string, h http.Handler) {
	if !strings.HasPrefix(prefix, "/") || !strings.HasSuffix(prefix, "/") || g.r.http[prefix] != nil {
		g.r.regErrs = append(g.r.regErrs, fmt.Errorf("HTTP prefix %q invalid or already served", prefix))
		return
	}
	if g.r.http == nil {
		g.r.http = map[string]http.Handler{}
	}
	g.r.http[prefix] = h
}

// HTTPHandlers returns the HTTP handlers modules registered, by path
// prefix.
func (r *Router) HTTPHandlers() map[string]http.Handler { return r.http }

func (g *registration) ServiceDomain(domain string, h module.Hook) {
	if g.r.domains[domain] || g.r.services[domain] != nil || g.r.routes.domains[domain] != nil {
		g.r.regErrs = append(g.r.regErrs, fmt.Errorf("service domain %q already served", domain))
		return
	}
	g.r.services[domain] = h
	g.r.serviceNames = append(g.r.serviceNames, domain)
	sort.Strings(g.r.serviceNames)
}

// Services returns the service domains, sorted: the modules' and the
// external components' (AddDomainRoute).
func (r *Router) Services() []string { return r.serviceNames }

func (g *registration) StreamFeature(el *stanza.Element) {
	g.r.streamFeatures = append(g.r.streamFeatures, func() *stanza.Element { return el })
}

func (g *registration) StreamFeatureFunc(fn func() *stanza.Element) {
	g.r.streamFeatures = append(g.r.streamFeatures, fn)
}

// StreamFeatures returns the stream features modules registered, offered
// by the c2s transport once the stream is authenticated; those that
// change at run time (StreamFeatureFunc) as they are now.
func (r *Router) StreamFeatures() []*stanza.Element {
	out := make([]*stanza.Element, 0, len(r.streamFeatures))
	for _, fn := range r.streamFeatures {
		if el := fn(); el != nil {
			out = append(out, el)
		}
	}
	return out
}

func (g *registration) OnComponent(fn module.ComponentFunc) {
	g.r.componentFns = append(g.r.componentFns, fn)
}

// EmitComponent runs the callbacks modules registered for an external
// component connecting or going away (module.ComponentFunc); the
// component listener's owner calls it.
func (r *Router) EmitComponent(ctx context.Context, domain string) {
	for _, fn := range r.componentFns {
		fn(ctx, domain)
	}
}

// ComponentConnected reports whether the component routed to domain
// (AddDomainRoute) is connected now: its route says so through a
// Connected method.
func (r *Router) ComponentConnected(domain string) bool {
	c, ok := r.routes.domains[domain].(interface{ Connected() bool })
	return ok && c.Connected()
}

func (g *registration) Bind2Feature(ns string, fn module.Bind2Func) {
	for _, f := range g.r.bind2 {
		if f.NS == ns {
			g.r.regErrs = append(g.r.regErrs, fmt.Errorf("bind 2 feature %s registered twice", ns))
			return
		}
	}
	g.r.bind2 = append(g.r.bind2, module.Bind2Feature{NS: ns, Fn: fn})
	sort.Slice(g.r.bind2, func(i, j int) bool { return g.r.bind2[i].NS < g.r.bind2[j].NS })
}

// Bind2Features returns the session features modules offer inline in
// Bind 2 (XEP-0386), sorted by namespace.
func (r *Router) Bind2Features() []module.Bind2Feature { return r.bind2 }
