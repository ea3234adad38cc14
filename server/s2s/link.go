package s2s

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/parley-xmpp/parley/server/s2s/certid"
	"github.com/parley-xmpp/parley/server/s2s/dialback"
	"github.com/parley-xmpp/parley/server/s2s/resolve"
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

	// Set while negotiating, on the link's goroutine only.
	peerVerified certid.Method
	peerErr      error
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
	conn, dec, err := l.establish(ctx)
	if err != nil {
		l.failed(err)
		return
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

// establish connects and negotiates until the local domain is
// authenticated.
func (l *link) establish(ctx context.Context) (net.Conn, *stream.Decoder, error) {
	o := &l.pool.opts
	ctx, cancel := context.WithTimeout(ctx, o.ConnectTimeout)
	defer cancel()
	pol := o.Policy(l.remote)
	targets, err := o.Finder.Targets(ctx, l.remote)
	if err != nil {
		if len(targets) == 0 {
			return nil, nil, err
		}
		l.log.Info("s2s: DNS lookup failed, trying the domain itself", "err", err)
	}
	raw, target, err := o.Dialer.Dial(ctx, targets)
	if err != nil {
		return nil, nil, err
	}
	// Closing the connection is how a timeout or a shutdown interrupts
	// the negotiation below.
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	conn, dec, err := l.negotiate(raw, target, pol)
	if !stop() || err != nil {
		raw.Close()
		if err == nil || ctx.Err() != nil {
			err = fmt.Errorf("negotiating with %s: %w", target, context.Cause(ctx))
		}
		return nil, nil, err
	}
	return conn, dec, nil
}

// negotiate runs the stream negotiation of an initiating server (RFC
// 6120 §4-§6): STARTTLS (or direct TLS), then SASL EXTERNAL (XEP-0178)
// or dialback (XEP-0220).
func (l *link) negotiate(raw net.Conn, target resolve.Target, pol Policy) (net.Conn, *stream.Decoder, error) {
	conn := raw
	secure := false
	if target.DirectTLS {
		tc := tls.Client(raw, l.tlsConfig(true))
		if err := tc.Handshake(); err != nil {
			return nil, nil, fmt.Errorf("TLS with %s: %w", target, err)
		}
		conn, secure = tc, true
	}
	dec := stream.NewDecoder(conn, stream.Limits{})
	authed := false
	for {
		h, features, err := l.open(conn, dec)
		if err != nil {
			return nil, nil, err
		}
		if !secure {
			if features.Child(nsTLS, "starttls") != nil {
				tc, err := l.startTLS(conn, dec)
				if err != nil {
					return nil, nil, err
				}
				conn, secure = tc, true
				dec.Reset(conn)
				continue
			}
			if !pol.AllowPlain {
				return nil, nil, fmt.Errorf("%s offers no STARTTLS, and TLS is required", target)
			}
		}
		if secure {
			if err := l.checkPeer(pol); err != nil {
				return nil, nil, err
			}
		}
		if authed {
			return conn, dec, nil
		}
		if ok, err := l.external(conn, dec, features); err != nil {
			return nil, nil, err
		} else if ok {
			authed = true
			continue // the stream restarts after SASL success
		}
		if err := l.dialback(conn, dec, h, features, pol); err != nil {
			return nil, nil, err
		}
		return conn, dec, nil
	}
}

// open sends a stream header and reads the peer's and its features.
func (l *link) open(conn net.Conn, dec *stream.Decoder) (stream.Header, *stanza.Element, error) {
	hdr := stream.AppendHeader(nil, stream.Header{
		ContentNS: stanza.NSServer, From: l.local, To: l.remote, Version: "1.0",
		Attr: []stanza.Attr{{Name: xmlnsName("db"), Value: dialback.NS}},
	})
	if _, err := conn.Write(hdr); err != nil {
		return stream.Header{}, nil, fmt.Errorf("writing the stream header: %w", err)
	}
	h, err := dec.ReadHeader()
	if err != nil {
		return stream.Header{}, nil, fmt.Errorf("reading the stream header: %w", err)
	}
	if h.ContentNS != stanza.NSServer {
		return h, nil, fmt.Errorf("the peer's stream is %q, not jabber:server", h.ContentNS)
	}
	if h.Version != "1.0" {
		return h, nil, fmt.Errorf("the peer speaks stream version %q, not 1.0 (no TLS)", h.Version)
	}
	features, err := l.next(dec)
	if err != nil {
		return h, nil, err
	}
	if features.Name.Space != stanza.NSStream || features.Name.Local != "features" {
		return h, nil, fmt.Errorf("expected stream features, got <%s/>", features.Name.Local)
	}
	return h, features, nil
}

// next reads the next element, turning a stream error into an error.
func (l *link) next(dec *stream.Decoder) (*stanza.Element, error) {
	el, err := dec.Next()
	if err != nil {
		return nil, fmt.Errorf("reading from the peer: %w", err)
	}
	if se := stream.ParseStreamError(el); se != nil {
		return nil, fmt.Errorf("the peer sent %w", se)
	}
	return el, nil
}

func (l *link) startTLS(conn net.Conn, dec *stream.Decoder) (net.Conn, error) {
	if _, err := conn.Write([]byte("<starttls xmlns='" + nsTLS + "'/>")); err != nil {
		return nil, fmt.Errorf("writing starttls: %w", err)
	}
	el, err := l.next(dec)
	if err != nil {
		return nil, err
	}
	if el.Name.Space != nsTLS || el.Name.Local != "proceed" {
		return nil, fmt.Errorf("STARTTLS refused: <%s/>", el.Name.Local)
	}
	if dec.Buffered() > 0 {
		return nil, errors.New("the peer sent data after <proceed/>")
	}
	tc := tls.Client(conn, l.tlsConfig(false))
	if err := tc.Handshake(); err != nil {
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	return tc, nil
}

// tlsConfig verifies the peer with certid (RFC 6125 names that Go's own
// check does not know), records the result, and never fails the
// handshake over it: whether an unverified peer may still be used
// (dialback) is the policy's call, in checkPeer.
func (l *link) tlsConfig(direct bool) *tls.Config {
	cfg := &tls.Config{
		ServerName:         l.remote,
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // verified below, with XMPP's identity rules
		VerifyConnection: func(cs tls.ConnectionState) error {
			l.peerVerified, l.peerErr = certid.Verify(cs.PeerCertificates, l.remote, certid.Options{Roots: l.pool.opts.Roots})
			return nil
		},
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if c := l.pool.certificate(l.local); c != nil {
				return c, nil
			}
			return &tls.Certificate{}, nil
		},
	}
	if direct {
		cfg.NextProtos = []string{alpnServer}
	}
	return cfg
}

// checkPeer applies the policy to the peer's certificate.
func (l *link) checkPeer(pol Policy) error {
	if l.peerVerified != "" {
		return nil
	}
	if pol.RequireVerified || pol.NoDialback || l.pool.opts.Dialback == nil {
		return fmt.Errorf("the certificate of %s does not verify: %w", l.remote, l.peerErr)
	}
	return nil
}

// external authenticates with SASL EXTERNAL (XEP-0178 §3) when the peer
// offers it and a certificate covers the local domain. It reports false,
// with no error, when EXTERNAL is not possible or failed: dialback may
// follow on the same stream.
func (l *link) external(conn net.Conn, dec *stream.Decoder, features *stanza.Element) (bool, error) {
	offered := false
	if mechs := features.Child(nsSASL, "mechanisms"); mechs != nil {
		for _, m := range mechs.ChildrenNamed(nsSASL, "mechanism") {
			offered = offered || m.Text() == "EXTERNAL"
		}
	}
	if !offered || l.pool.certificate(l.local) == nil {
		return false, nil
	}
	auth := "<auth xmlns='" + nsSASL + "' mechanism='EXTERNAL'>" + base64.StdEncoding.EncodeToString([]byte(l.local)) + "</auth>"
	if _, err := conn.Write([]byte(auth)); err != nil {
		return false, fmt.Errorf("writing auth: %w", err)
	}
	el, err := l.next(dec)
	if err != nil {
		return false, err
	}
	switch {
	case el.Name.Space == nsSASL && el.Name.Local == "success":
		l.setAuth("SASL EXTERNAL", conn)
		return true, nil
	case el.Name.Space == nsSASL && el.Name.Local == "failure":
		l.log.Info("s2s: SASL EXTERNAL refused, trying dialback", "failure", el.String())
		return false, nil
	}
	return false, fmt.Errorf("unexpected answer to SASL EXTERNAL: <%s/>", el.Name.Local)
}

// dialback authenticates the local domain with Server Dialback (XEP-0220
// §2.1.1): the key for the stream ID the peer gave, then its verdict.
func (l *link) dialback(conn net.Conn, dec *stream.Decoder, h stream.Header, features *stanza.Element, pol Policy) error {
	keyer := l.pool.opts.Dialback
	offered := features.Child(dialback.NSFeature, "dialback") != nil
	if keyer == nil || pol.NoDialback || !offered {
		return fmt.Errorf("no authentication method in common with %s (SASL EXTERNAL failed or not offered; dialback %s)",
			l.remote, map[bool]string{true: "not allowed", false: "not offered"}[offered])
	}
	if h.ID == "" {
		return errors.New("the peer's stream has no id: dialback is impossible")
	}
	req := dialback.Message{Kind: dialback.Result, From: l.local, To: l.remote, Key: keyer.Key(l.remote, l.local, h.ID)}
	if _, err := conn.Write(req.AppendXML(nil)); err != nil {
		return fmt.Errorf("writing the dialback key: %w", err)
	}
	for {
		el, err := l.next(dec)
		if err != nil {
			return err
		}
		if el.Name.Space != dialback.NS {
			return fmt.Errorf("unexpected <%s/> while waiting for the dialback result", el.Name.Local)
		}
		m, err := dialback.Parse(el)
		if err != nil {
			return fmt.Errorf("dialback answer: %w", err)
		}
		if m.Kind != dialback.Result || m.From != l.remote || m.To != l.local {
			// XEP-0220 §3.1: answers must match a request on this stream.
			return fmt.Errorf("dialback answer for %s→%s, not ours", m.From, m.To)
		}
		switch m.Type {
		case dialback.TypeValid:
			l.setAuth("dialback", conn)
			return nil
		case dialback.TypeError:
			return fmt.Errorf("dialback refused with an error: %v", m.Err)
		default:
			return errors.New("dialback refused: the key was found invalid")
		}
	}
}

func (l *link) setAuth(method string, conn net.Conn) {
	ver := "none"
	if tc, ok := conn.(*tls.Conn); ok {
		ver = tls.VersionName(tc.ConnectionState().Version)
	}
	l.mu.Lock()
	l.auth, l.tlsVer = method, ver
	l.mu.Unlock()
}

// serve writes queued stanzas until the link ends: idle, shut down, or
// closed by the peer or a write error.
func (l *link) serve(ctx context.Context, conn net.Conn, dec *stream.Decoder) {
	o := &l.pool.opts
	l.mu.Lock()
	l.state, l.since = stateReady, time.Now()
	auth, ver := l.auth, l.tlsVer
	l.mu.Unlock()
	peer := "verified (" + string(l.peerVerified) + ")"
	if l.peerVerified == "" {
		peer = "not verified"
	}
	l.log.Info("s2s: link up", "auth", auth, "tls", ver, "peer certificate", peer)

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
