package stream

import (
	"context"
	"sync"
	"sync/atomic"

	xstream "github.com/parley-xmpp/parley/xmpp/stream"
)

// Server runs the client streams its transports hand it (Accept), with
// one configuration.
type Server struct {
	// cfg is the configuration new streams take; SetLimits replaces it.
	cfg        atomic.Pointer[Config]
	regLimiter *RegistrationLimiter // when the config has none

	mu    sync.Mutex
	conns map[*conn]struct{}
	wg    sync.WaitGroup

	ends endQueue // connections whose input is over, being ended (ends.go)

	feats featuresCache // the serialised <stream:features/> (features.go)
}

// New returns a stream engine.
func New(cfg Config) *Server {
	cfg.withDefaults()
	s := &Server{regLimiter: NewRegistrationLimiter(cfg.Registration.MaxPerIPPerHour, cfg.Now), conns: make(map[*conn]struct{})}
	s.cfg.Store(&cfg)
	return s
}

// SetLimits replaces the limits of the streams accepted from now on
// (defaults applied as in New); open streams keep those they started
// with. It is how a configuration reload changes limits without ending
// sessions.
func (s *Server) SetLimits(l Limits) {
	cfg := *s.cfg.Load()
	cfg.Limits = l
	cfg.withDefaults()
	s.cfg.Store(&cfg)
}

// Config returns the configuration in use, defaults applied: the limits
// a transport enforces while reading (Limits.PreauthTimeout, IdlePing,
// PingTimeout, ParkAfter, Rate, PreauthRate) are read from it.
func (s *Server) Config() Config { return *s.cfg.Load() }

// Accept serves a new client stream on t, on a goroutine of its own, until
// the stream ends or ctx does; it returns at once.
func (s *Server) Accept(ctx context.Context, t Transport) {
	c := newConn(s, t)
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	s.wg.Add(1)
	c.onEnd = func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		s.wg.Done()
	}
	go c.run(ctx)
}

// Shutdown ends every stream with a <system-shutdown/> stream error and
// waits for their goroutines, or for ctx; then what detached sessions
// (XEP-0198) hold goes to storage. It reports whether every stream ended.
func (s *Server) Shutdown(ctx context.Context) bool {
	return s.ShutdownWith(ctx, nil)
}

// ShutdownWith is Shutdown ending each stream with the error end returns
// (<see-other-host/> when a cluster node drains, docs/cluster.md); nil
// end, or end returning nil, means <system-shutdown/>.
func (s *Server) ShutdownWith(ctx context.Context, end func() *xstream.Error) bool {
	s.mu.Lock()
	list := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		list = append(list, c)
	}
	s.mu.Unlock()
	for _, c := range list {
		var e *xstream.Error
		if end != nil {
			e = end()
		}
		if e == nil {
			e = &xstream.Error{Condition: xstream.SystemShutdown}
		}
		if e.Condition == xstream.SeeOtherHost && c.cfg.SM.Cluster != nil {
			c.moving.Store(true) // resumable on the other node (clustersm.go)
		}
		c.Close(e)
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	ended := false
	select {
	case <-done:
		ended = true
	case <-ctx.Done():
	}
	s.waitMoved(ctx)
	s.endDetached(ctx) // XEP-0198: what detached sessions hold goes to storage
	return ended
}

// Count returns the number of open streams.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Limits returns the limits new streams take (SetLimits), defaults
// applied.
func (s *Server) Limits() Limits { return s.cfg.Load().Limits }
