package s2s

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// Namespaces of stream negotiation (RFC 6120 §5, §6).
const (
	nsTLS  = "urn:ietf:params:xml:ns:xmpp-tls"
	nsSASL = "urn:ietf:params:xml:ns:xmpp-sasl"
)

// alpnServer is the ALPN protocol of a direct TLS s2s stream (XEP-0368).
const alpnServer = "xmpp-server"

// closeWait bounds how long a closing link waits for the peer's closing
// tag before it drops the connection.
const closeWait = 5 * time.Second

// errLinkDone is returned by enqueue on a link that no longer takes
// stanzas; the pool then makes another.
var errLinkDone = errors.New("s2s: link done")

// link states.
const (
	stateConnecting = "connecting"
	stateReady      = "ready"
	stateClosing    = "closing"
	stateDone       = "done"
)

// link is one outgoing stream from a local domain to a remote one.
type link struct {
	pool *Pool
	pair
	log *slog.Logger
	// handedOver says the stanzas it starts with came from a link that
	// ended before writing them: this link does not hand them over again.
	handedOver bool

	wake     chan struct{} // a stanza was queued
	quit     chan struct{} // closed by shutdown
	quitOnce sync.Once

	mu     sync.Mutex
	state  string
	queue  []*stanza.Element
	bytes  int
	auth   string
	tlsVer string
	since  time.Time

	// peer says how the peer's certificate was verified, for the log;
	// set before the link is ready, on its goroutine.
	peer string
}

func newLink(p *Pool, key pair) *link {
	return &link{
		pool: p, pair: key, state: stateConnecting,
		log:  p.opts.Log.With("local", key.local, "remote", key.remote, "direction", "out"),
		wake: make(chan struct{}, 1), quit: make(chan struct{}),
	}
}

// enqueue queues st, or refuses it when the link holds QueueBytes
// already (a lone stanza larger than that is taken, so that a big stanza
// is not refused forever).
func (l *link) enqueue(st *stanza.Element) error {
	n := st.MemSize()
	l.mu.Lock()
	switch {
	case l.state == stateClosing || l.state == stateDone:
		l.mu.Unlock()
		return errLinkDone
	case len(l.queue) > 0 && l.bytes+n > l.pool.opts.QueueBytes:
		held := l.bytes
		l.mu.Unlock()
		l.log.Warn("s2s: link queue full", "bytes", held, "limit", l.pool.opts.QueueBytes)
		return stanza.Errorf(stanza.ResourceConstraint, "too much queued for %s", l.remote)
	}
	l.queue = append(l.queue, st)
	l.bytes += n
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	return nil
}

// take empties the queue.
func (l *link) take() []*stanza.Element {
	l.mu.Lock()
	q := l.queue
	l.queue, l.bytes = nil, 0
	l.mu.Unlock()
	return q
}

// finish marks the link done (after removing it from the pool, so that
// no new stanza finds it) and returns what it still held.
func (l *link) finish() []*stanza.Element {
	l.pool.remove(l)
	l.mu.Lock()
	l.state = stateDone
	q := l.queue
	l.queue, l.bytes = nil, 0
	l.mu.Unlock()
	return q
}

func (l *link) info() LinkInfo {
	l.mu.Lock()
	defer l.mu.Unlock()
	return LinkInfo{Local: l.local, Remote: l.remote, State: l.state, Auth: l.auth, TLS: l.tlsVer, Since: l.since, Queued: len(l.queue)}
}

// shutdown asks the link to close.
func (l *link) shutdown() { l.quitOnce.Do(func() { close(l.quit) }) }

// run makes the link and serves it until it ends.
func (l *link) run(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-l.quit:
			cancel()
		case <-ctx.Done():
		}
	}()
	n := &initiator{pool: l.pool, pair: l.pair, log: l.log, authenticate: true}
	conn, dec, err := n.establish(ctx)
	if err != nil {
		l.failed(err)
		return
	}
	l.mu.Lock()
	l.auth, l.tlsVer = n.auth, n.tlsVer
	l.mu.Unlock()
	l.peer = "verified (" + string(n.peerVerified) + ")"
	if n.peerVerified == "" {
		l.peer = "not verified"
	}
	l.serve(ctx, conn, dec)
}

// failed ends a link that could not be made: everything it held bounces
// (RFC 6120 §10.4.3).
func (l *link) failed(err error) {
	cond := stanza.RemoteServerNotFound
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		cond = stanza.RemoteServerTimeout
	}
	q := l.finish()
	l.log.Info("s2s: outgoing link failed", "err", err, "bounced", len(q))
	e := stanza.Errorf(cond, "could not reach %s", l.remote)
	for _, st := range q {
		l.pool.bounce(st, e)
	}
}

// serve writes queued stanzas until the link ends: idle, shut down, or
// closed by the peer or a write error.
func (l *link) serve(ctx context.Context, conn net.Conn, dec *stream.Decoder) {
	o := &l.pool.opts
	l.mu.Lock()
	l.state, l.since = stateReady, time.Now()
	auth, ver := l.auth, l.tlsVer
	l.mu.Unlock()
	l.log.Info("s2s: link up", "auth", auth, "tls", ver, "peer certificate", l.peer)

	readerDone := make(chan error, 1)
	go func() { readerDone <- l.read(dec) }()
	idle := time.NewTimer(o.IdleTimeout)
	defer idle.Stop()
	keep := time.NewTicker(o.Keepalive)
	defer keep.Stop()
	var buf []byte
	for {
		select {
		case <-l.wake:
			select {
			case err := <-readerDone:
				// The peer closed first: what is queued goes to a new
				// link rather than into a stream the peer has left.
				l.end(conn, err, nil)
				return
			default:
			}
			batch := l.take()
			buf = buf[:0]
			for _, st := range batch {
				buf = st.AppendXML(buf, stanza.NSServer)
			}
			if err := l.write(conn, buf); err != nil {
				l.end(conn, fmt.Errorf("writing: %w", err), batch)
				return
			}
			idle.Reset(o.IdleTimeout)
		case <-keep.C:
			if err := l.write(conn, []byte{' '}); err != nil {
				l.end(conn, fmt.Errorf("writing a keepalive: %w", err), nil)
				return
			}
		case <-idle.C:
			l.close(conn, readerDone, "idle")
			return
		case <-l.quit:
			l.close(conn, readerDone, "shutting down")
			return
		case <-ctx.Done():
			l.close(conn, readerDone, "shutting down")
			return
		case err := <-readerDone:
			l.end(conn, err, nil)
			return
		}
	}
}

func (l *link) write(conn net.Conn, b []byte) error {
	if err := conn.SetWriteDeadline(time.Now().Add(l.pool.opts.WriteTimeout)); err != nil {
		return err
	}
	_, err := conn.Write(b)
	return err
}

// read consumes what the receiving server sends on our stream: nothing
// but keepalives, a stream error or the closing tag, as no bidirectional
// stream was negotiated. It returns why the stream ended.
func (l *link) read(dec *stream.Decoder) error {
	for {
		el, err := dec.Next()
		if err != nil {
			return err
		}
		if se := stream.ParseStreamError(el); se != nil {
			return fmt.Errorf("the peer sent %w", se)
		}
		l.log.Debug("s2s: ignored an element on an outgoing stream", "element", el.Name.Local)
	}
}

// end finishes a link that broke: the stanzas of the batch being written
// are not known to have arrived and are bounced; what was still queued
// goes to a new link once.
func (l *link) end(conn net.Conn, err error, inFlight []*stanza.Element) {
	conn.Close()
	q := l.finish()
	l.log.Info("s2s: link down", "err", err, "queued", len(q), "unconfirmed", len(inFlight))
	e := stanza.Errorf(stanza.RemoteServerTimeout, "the link to %s broke", l.remote)
	for _, st := range inFlight {
		l.pool.bounce(st, e)
	}
	l.handOver(q, e)
}

// close ends the link cleanly: the closing tag, the peer's (briefly
// awaited), then the connection.
func (l *link) close(conn net.Conn, readerDone <-chan error, why string) {
	l.pool.remove(l)
	l.mu.Lock()
	l.state = stateClosing
	l.mu.Unlock()
	// A stanza queued before the state changed is still written.
	buf := []byte(nil)
	q := l.take()
	for _, st := range q {
		buf = st.AppendXML(buf, stanza.NSServer)
	}
	buf = append(buf, stream.Close...)
	err := l.write(conn, buf)
	if err == nil {
		select {
		case <-readerDone:
		case <-time.After(closeWait):
		}
	}
	conn.Close()
	rest := l.finish()
	l.log.Info("s2s: link closed", "why", why)
	if err != nil {
		q = append(q, rest...)
	} else {
		q = rest
	}
	l.handOver(q, stanza.Errorf(stanza.RemoteServerTimeout, "the link to %s closed", l.remote))
}

// handOver gives stanzas that a link ended without writing to a new link,
// or bounces them with e if they already came from one that ended.
func (l *link) handOver(q []*stanza.Element, e *stanza.Error) {
	if len(q) == 0 {
		return
	}
	p := l.pool
	p.mu.Lock()
	closed := p.closed
	var nl *link
	if !closed && !l.handedOver && p.links[l.pair] == nil && len(p.links) < p.opts.MaxLinks {
		nl = newLink(p, l.pair)
		nl.handedOver = true
		nl.queue = q
		for _, st := range q {
			nl.bytes += st.MemSize()
		}
		p.links[l.pair] = nl
		p.wg.Add(1)
	}
	p.mu.Unlock()
	if nl == nil {
		for _, st := range q {
			p.bounce(st, e)
		}
		return
	}
	nl.wake <- struct{}{}
	go func() {
		defer p.wg.Done()
		nl.run(p.ctx)
	}()
}

// certificate returns the certificate covering domain, or nil.
func (p *Pool) certificate(domain string) *tls.Certificate {
	if p.opts.Certificate != nil {
		return p.opts.Certificate(domain)
	}
	for i := range p.opts.Certificates {
		c := &p.opts.Certificates[i]
		leaf := c.Leaf
		if leaf == nil && len(c.Certificate) > 0 {
			var err error
			if leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
				continue
			}
		}
		if leaf != nil && leaf.VerifyHostname(domain) == nil {
			return c
		}
	}
	return nil
}
