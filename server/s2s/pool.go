// Package s2s carries stanzas between this server and other XMPP servers
// (RFC 6120 §10.4, server-to-server).
//
// This file and link.go are the outgoing side: a Pool is the router's
// remote route (router.Route). For each pair of a local domain and a
// remote domain it keeps one outgoing stream (a link), made on demand:
// it finds the remote servers (package resolve), connects, negotiates
// TLS, authenticates the local domain with SASL EXTERNAL (XEP-0178) or
// Server Dialback (XEP-0220), then writes the stanzas queued for the
// pair. A link that cannot be made bounces what it held; an idle one is
// closed.
package s2s

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/parley-xmpp/parley/server/s2s/dialback"
	"github.com/parley-xmpp/parley/server/s2s/resolve"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// Defaults of Options.
const (
	DefaultQueueBytes     = 1 << 20
	DefaultMaxLinks       = 10000
	DefaultConnectTimeout = 30 * time.Second
	DefaultIdleTimeout    = 5 * time.Minute
	DefaultKeepalive      = time.Minute
	DefaultWriteTimeout   = 30 * time.Second
)

// Options configure a Pool.
type Options struct {
	// Certificates are the server's certificates; the one that covers a
	// local domain is presented on that domain's outgoing streams (SASL
	// EXTERNAL needs it).
	Certificates []tls.Certificate
	// Certificate, when set, is asked instead of Certificates for the
	// certificate covering a local domain (nil: none), so that renewed
	// certificates are used without a restart.
	Certificate func(domain string) *tls.Certificate
	// Roots verify peers' certificates; nil means the system's.
	Roots *x509.CertPool
	// MinTLS is the lowest TLS version of outgoing streams; 0 means
	// TLS 1.2.
	MinTLS uint16
	// Finder finds where a remote domain's servers are; nil means DNS
	// with no static routes.
	Finder *resolve.Finder
	// Dialer connects; nil means the defaults.
	Dialer *resolve.Dialer
	// Dialback derives dialback keys; nil disables dialback on outgoing
	// streams (only SASL EXTERNAL then).
	Dialback *dialback.Keyer
	// Policy decides, per remote domain, whether it may be reached and
	// how it must authenticate; nil allows every domain with the
	// defaults (TLS required, dialback allowed).
	Policy func(domain string) Policy
	// Bounce routes an error reply (stanza.ErrorReply of a stanza the
	// pool could not deliver). Nil drops them, with a log line.
	Bounce func(ctx context.Context, reply *stanza.Element)
	// QueueBytes bounds what one link holds while it connects or writes
	// (stanza.Element.MemSize); a stanza past it is refused with
	// <resource-constraint/>. 0 means DefaultQueueBytes.
	QueueBytes int
	// MaxLinks bounds the outgoing links open or being made at once; a
	// stanza that would need one more is refused with
	// <resource-constraint/>. 0 means DefaultMaxLinks.
	MaxLinks int
	// ConnectTimeout bounds finding, connecting and authenticating. 0
	// means DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// IdleTimeout closes a link that carried nothing for this long. 0
	// means DefaultIdleTimeout.
	IdleTimeout time.Duration
	// Keepalive is the interval of whitespace keepalives on an idle
	// link. 0 means DefaultKeepalive.
	Keepalive time.Duration
	// WriteTimeout bounds one write. 0 means DefaultWriteTimeout.
	WriteTimeout time.Duration
	// Log receives the pool's log lines; nil means slog.Default().
	Log *slog.Logger
}

// Policy is what a Pool requires of one remote domain.
type Policy struct {
	// Deny refuses the domain: stanzas to it bounce with
	// <remote-server-not-found/> and no connection is made.
	Deny bool
	// AllowPlain allows a stream without TLS (never by default).
	AllowPlain bool
	// RequireVerified refuses a peer whose certificate does not verify
	// for the domain, even if dialback would work.
	RequireVerified bool
	// NoDialback refuses to authenticate with dialback: SASL EXTERNAL
	// only.
	NoDialback bool
}

func (o *Options) normalize() {
	if o.MinTLS == 0 {
		o.MinTLS = tls.VersionTLS12
	}
	if o.QueueBytes <= 0 {
		o.QueueBytes = DefaultQueueBytes
	}
	if o.MaxLinks <= 0 {
		o.MaxLinks = DefaultMaxLinks
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.Keepalive <= 0 {
		o.Keepalive = DefaultKeepalive
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.Finder == nil {
		o.Finder = &resolve.Finder{}
	}
	if o.Dialer == nil {
		o.Dialer = &resolve.Dialer{}
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Policy == nil {
		o.Policy = func(string) Policy { return Policy{} }
	}
}

// pair names an outgoing link: from a local domain to a remote one.
type pair struct{ local, remote string }

// Pool holds the outgoing links. Its methods are safe for concurrent use.
type Pool struct {
	opts Options
	ctx  context.Context
	wg   sync.WaitGroup

	mu     sync.Mutex
	closed bool
	links  map[pair]*link
}

// NewPool returns a pool whose links live at most as long as ctx.
func NewPool(ctx context.Context, o Options) *Pool {
	o.normalize()
	return &Pool{opts: o, ctx: ctx, links: make(map[pair]*link)}
}

// ErrClosed is returned by Deliver after Close.
var ErrClosed = errors.New("s2s: pool closed")

// Deliver implements router.Route: it queues st on the link from from's
// domain to to's, making the link if there is none, and returns at once.
func (p *Pool) Deliver(_ context.Context, from, to jid.JID, st *stanza.Element) error {
	remote := to.Domain()
	if p.opts.Policy(remote).Deny {
		return stanza.Errorf(stanza.RemoteServerNotFound, "%s is not reachable from this server", remote)
	}
	key := pair{local: from.Domain(), remote: remote}
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return ErrClosed
		}
		l := p.links[key]
		start := false
		if l == nil {
			if len(p.links) >= p.opts.MaxLinks {
				p.mu.Unlock()
				p.opts.Log.Warn("s2s: too many outgoing links", "limit", p.opts.MaxLinks, "remote", remote)
				return stanza.Errorf(stanza.ResourceConstraint, "too many server-to-server links")
			}
			l = newLink(p, key)
			p.links[key] = l
			start = true
			p.wg.Add(1)
		}
		p.mu.Unlock()
		if start {
			go func() {
				defer p.wg.Done()
				l.run(p.ctx)
			}()
		}
		err := l.enqueue(st)
		if errors.Is(err, errLinkDone) {
			continue // the link ended between the lookup and now: make another
		}
		return err
	}
}

// remove forgets l once it has ended.
func (p *Pool) remove(l *link) {
	p.mu.Lock()
	if p.links[l.pair] == l {
		delete(p.links, l.pair)
	}
	p.mu.Unlock()
}

// bounce answers st with err, unless st may not be bounced.
func (p *Pool) bounce(st *stanza.Element, err *stanza.Error) {
	if !stanza.MayBounce(st) {
		return
	}
	if p.opts.Bounce == nil {
		p.opts.Log.Warn("s2s: undeliverable stanza dropped (no bounce route)", "to", st.Get("to"), "err", err)
		return
	}
	p.opts.Bounce(context.WithoutCancel(p.ctx), stanza.ErrorReply(st, err))
}

// LinkInfo describes one link, outgoing or incoming, for operators.
type LinkInfo struct {
	Local, Remote string
	// Incoming says the remote server opened the stream (Listener.Links);
	// Local is then the domain it asked for, Remote the one it
	// authenticated.
	Incoming bool
	// State is "connecting", "ready" or "closing".
	State string
	// Auth is "SASL EXTERNAL" or "dialback" once authenticated.
	Auth string
	// TLS is the TLS version, once negotiated.
	TLS string
	// Since is when the link became ready (zero before).
	Since time.Time
	// Queued is the number of stanzas waiting to be written.
	Queued int
}

// Links lists the outgoing links.
func (p *Pool) Links() []LinkInfo {
	p.mu.Lock()
	links := make([]*link, 0, len(p.links))
	for _, l := range p.links {
		links = append(links, l)
	}
	p.mu.Unlock()
	out := make([]LinkInfo, 0, len(links))
	for _, l := range links {
		out = append(out, l.info())
	}
	return out
}

// Drain waits until no link is still being made, or until ctx ends.
// Before Close, it lets links made for the last stanzas (the unavailable
// presence of sessions ended at shutdown) connect and write them, where
// Close would abandon them; the links already up write what they hold
// when they close.
func (p *Pool) Drain(ctx context.Context) error {
	t := time.NewTicker(drainPoll)
	defer t.Stop()
	for p.connecting() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("s2s: draining links: %w", ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// drainPoll is how often Drain looks at the links.
const drainPoll = 10 * time.Millisecond

// connecting reports whether a link is still being made.
func (p *Pool) connecting() bool {
	for _, l := range p.Links() {
		if l.State == stateConnecting {
			return true
		}
	}
	return false
}

// Close closes every link (a closing stream tag, then the connection),
// bounces what they still held, refuses further stanzas, and waits for
// the links' goroutines to end or ctx to.
func (p *Pool) Close(ctx context.Context) error {
	p.mu.Lock()
	p.closed = true
	links := make([]*link, 0, len(p.links))
	for _, l := range p.links {
		links = append(links, l)
	}
	p.mu.Unlock()
	for _, l := range links {
		l.shutdown()
	}
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("s2s: closing links: %w", ctx.Err())
	}
}

// xmlnsName names a namespace declaration of prefix in a stream header
// (stream.Header.Attr).
func xmlnsName(prefix string) xml.Name { return xml.Name{Space: "xmlns", Local: prefix} }
