package tcp

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"

	"github.com/parley-xmpp/parley/server/poller"
	"github.com/parley-xmpp/parley/server/stream"
	"github.com/parley-xmpp/parley/server/tlsrec"
	xstream "github.com/parley-xmpp/parley/xmpp/stream"
)

// Config configures a TCP listener of client streams.
type Config struct {
	// TLS is the server's TLS configuration (certificates for every
	// domain); nil: no TLS, so no authentication either.
	TLS *tls.Config
	// RecordLayer selects what carries TLS 1.3 records after the
	// handshake: server/tlsrec's record layer (the zero value) or
	// crypto/tls for the whole connection.
	RecordLayer tlsrec.RecordLayer
	// DirectTLS makes the listener start TLS at once (XEP-0368) instead of
	// offering STARTTLS.
	DirectTLS bool
	// PreauthPerAddress caps the connections one client address (an
	// IPv6 /64 counts as one) holds before authenticating; 0: no cap.
	PreauthPerAddress int
	// Preauth counts unauthenticated connections per address; listeners
	// sharing one share PreauthPerAddress. Nil: one of its own.
	Preauth *AddrCounter
	// Log is the logger; nil: the engine's.
	Log *slog.Logger
}

// Listener accepts client connections and hands each to a stream engine.
type Listener struct {
	cfg Config
	eng *stream.Server
	clk *clock
	log *slog.Logger

	tls   *tlsrec.Server // nil without TLS
	parks atomic.Uint64  // readers parked so far (idle.go)

	limMu sync.Mutex
	lim   *stream.Limits // the engine's limits last seen, shared by the connections that came under them

	poll poller.Shared // parked sessions' (park_linux.go); started when needed
}

// limits returns the engine's limits now, as a snapshot shared with the
// other connections that came under the same limits: a connection keeps
// the limits it came with (a reload may change the engine's), and a copy
// of its own would cost every idle session 136 bytes.
func (l *Listener) limits() *stream.Limits {
	cur := l.eng.Limits()
	l.limMu.Lock()
	defer l.limMu.Unlock()
	if l.lim == nil || *l.lim != cur {
		l.lim = &cur
	}
	return l.lim
}

// New returns a listener serving the streams of its connections with eng.
func New(cfg Config, eng *stream.Server) *Listener {
	ec := eng.Config()
	if cfg.Preauth == nil {
		cfg.Preauth = new(AddrCounter)
	}
	if cfg.Log == nil {
		cfg.Log = ec.Log
	}
	l := &Listener{cfg: cfg, eng: eng, clk: newClock(ec.Now), log: cfg.Log}
	if cfg.TLS != nil {
		l.tls = tlsrec.NewServer(cfg.TLS, cfg.RecordLayer)
	}
	return l
}

// Parks returns how many times a reader of an idle session has parked
// since the listener started (see stream.Limits.ParkAfter).
func (l *Listener) Parks() uint64 { return l.parks.Load() }

// Serve accepts connections on ln until ctx ends or ln fails. It closes ln
// when ctx ends.
func (l *Listener) Serve(ctx context.Context, ln net.Listener) error {
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
		key, ok := l.admit(nc)
		if !ok {
			continue
		}
		c := newConn(l, nc)
		c.preauthKey = key
		l.eng.Accept(ctx, c)
	}
}

// Shutdown ends every stream of the engine with a <system-shutdown/>
// stream error and waits for them, or for ctx (stream.Server.Shutdown).
func (l *Listener) Shutdown(ctx context.Context) {
	l.ShutdownWith(ctx, nil)
}

// ShutdownWith is Shutdown ending each stream with the error end returns
// (stream.Server.ShutdownWith).
func (l *Listener) ShutdownWith(ctx context.Context, end func() *xstream.Error) {
	if l.eng.ShutdownWith(ctx, end) {
		l.poll.Close() // every connection has ended
	}
}

// Count returns the number of open connections.
func (l *Listener) Count() int { return l.eng.Count() }
