package c2s

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"

	"github.com/parley-xmpp/parley/server/poller"
	"github.com/parley-xmpp/parley/server/tlsrec"
)

// Server accepts client connections on listeners.
type Server struct {
	cfg        Config
	regLimiter *RegistrationLimiter // when the config has none

	tls   *tlsrec.Server // nil without TLS
	parks atomic.Uint64  // readers parked so far (idle.go)

	pollMu  sync.Mutex
	poll    *poller.Poller // parked sessions (park_linux.go); nil until needed
	pollErr error

	mu    sync.Mutex
	conns map[*conn]struct{}
	wg    sync.WaitGroup
}

// New returns a c2s server.
func New(cfg Config) *Server {
	cfg.withDefaults()
	if cfg.Preauth == nil {
		cfg.Preauth = new(AddrCounter)
	}
	s := &Server{cfg: cfg, regLimiter: NewRegistrationLimiter(cfg.Registration.MaxPerIPPerHour, cfg.Now), conns: make(map[*conn]struct{})}
	if cfg.TLS != nil {
		s.tls = tlsrec.NewServer(cfg.TLS, cfg.RecordLayer)
	}
	return s
}

// Parks returns how many times a reader of an idle session has parked
// since the server started (see Limits.ParkAfter).
func (s *Server) Parks() uint64 { return s.parks.Load() }

// Serve accepts connections on ln until ctx ends or ln fails. It closes ln
// when ctx ends.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		key, ok := s.admit(nc)
		if !ok {
			continue
		}
		c := newConn(s, nc)
		c.preauthKey, c.preauthHeld = key, key.IsValid()
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
}

// Shutdown ends every connection with a <system-shutdown/> stream error
// and waits for their goroutines, or for ctx.
func (s *Server) Shutdown(ctx context.Context) {
	s.mu.Lock()
	list := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		list = append(list, c)
	}
	s.mu.Unlock()
	for _, c := range list {
		c.shutdown()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		s.stopPoller()
	case <-ctx.Done():
	}
	s.endDetached(ctx) // XEP-0198: what detached sessions hold goes to storage
}

// Count returns the number of open connections.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}
