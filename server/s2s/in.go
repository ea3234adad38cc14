package s2s

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-xmpp/parley/server/s2s/certid"
	"github.com/parley-xmpp/parley/server/s2s/dialback"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// Bounds of one incoming stream: dialback verifications in flight (each
// is an outgoing connection) and sender domains authenticated.
const (
	maxVerifying     = 8
	maxStreamDomains = 100
)

// Defaults of InboundOptions.
const (
	DefaultAuthTimeout    = time.Minute
	DefaultInboundIdle    = 10 * time.Minute
	DefaultMaxInbound     = 10000
	DefaultMaxStanzaBytes = 256 << 10
)

// Router is where an incoming stream's stanzas go, and what it asks about
// the domains it may receive for.
type Router interface {
	// Route routes a stanza from a remote entity; its 'from' and 'to'
	// are set.
	Route(ctx context.Context, st *stanza.Element)
	// Serves reports whether this server receives stanzas for domain: a
	// served domain or a service domain (such as a MUC service).
	Serves(domain string) bool
	// Owns reports whether domain is this server's own: served, a
	// service domain or an external component's. No remote server may
	// send from it (a component's privileges go with its domain).
	Owns(domain string) bool
}

// InboundOptions configure a Listener.
type InboundOptions struct {
	// Router takes the stanzas received. Required.
	Router Router
	// TLS is the server side's TLS configuration (certificates by SNI).
	// Required: every incoming stream negotiates TLS first. Client
	// certificates are requested and checked here, with certid; the
	// configuration's own ClientAuth is replaced.
	TLS *tls.Config
	// Limits bound what the decoder accepts (MaxStanzaBytes defaults to
	// DefaultMaxStanzaBytes).
	Limits stream.Limits
	// AuthTimeout closes a stream that has not authenticated a domain in
	// time. 0 means DefaultAuthTimeout.
	AuthTimeout time.Duration
	// IdleTimeout closes a stream silent for this long (whitespace
	// keepalives count). 0 means DefaultInboundIdle.
	IdleTimeout time.Duration
	// MaxStreams bounds the incoming streams open at once; more are
	// refused with <policy-violation/>. 0 means DefaultMaxInbound.
	MaxStreams int
}

// Listener accepts incoming server-to-server streams (RFC 6120 §10.4,
// the receiving and authoritative sides of XEP-0220) and routes what they
// carry. It shares its Pool's options: certificates, trust roots,
// dialback secret, policy and log.
type Listener struct {
	pool  *Pool
	opts  InboundOptions
	log   *slog.Logger
	count atomic.Int64
	wg    sync.WaitGroup

	mu    sync.Mutex
	conns map[*inStream]struct{}
}

// NewListener returns a listener for incoming streams; pool makes the
// dialback verifications and holds the shared options.
func (p *Pool) NewListener(o InboundOptions) *Listener {
	if o.AuthTimeout <= 0 {
		o.AuthTimeout = DefaultAuthTimeout
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultInboundIdle
	}
	if o.MaxStreams <= 0 {
		o.MaxStreams = DefaultMaxInbound
	}
	if o.Limits.MaxStanzaBytes <= 0 {
		o.Limits.MaxStanzaBytes = DefaultMaxStanzaBytes
	}
	cfg := o.TLS.Clone()
	cfg.ClientAuth = tls.RequestClientCert
	cfg.NextProtos = []string{alpnServer}
	o.TLS = cfg
	return &Listener{pool: p, opts: o, log: p.opts.Log.With("direction", "in"), conns: make(map[*inStream]struct{})}
}

// Serve accepts streams on ln until ctx ends or ln is closed; directTLS
// says TLS starts at once (XEP-0368) instead of with STARTTLS.
func (l *Listener) Serve(ctx context.Context, ln net.Listener, directTLS bool) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("s2s: accept: %w", err)
		}
		if l.count.Add(1) > int64(l.opts.MaxStreams) {
			l.count.Add(-1)
			l.log.Warn("s2s: too many incoming streams", "limit", l.opts.MaxStreams, "remote", c.RemoteAddr().String())
			refuse(c, &stream.Error{Condition: stream.PolicyViolation, Text: "too many server-to-server streams"})
			continue
		}
		s := &inStream{l: l, raw: c, conn: c, log: l.log.With("addr", c.RemoteAddr().String()), authed: map[string]bool{}}
		l.mu.Lock()
		l.conns[s] = struct{}{}
		l.mu.Unlock()
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			defer l.count.Add(-1)
			s.serve(ctx, directTLS)
			l.mu.Lock()
			delete(l.conns, s)
			l.mu.Unlock()
		}()
	}
}

// Count is the number of incoming streams open.
func (l *Listener) Count() int { return int(l.count.Load()) }

// Close closes every incoming stream (a closing tag, then the
// connection) and waits for them to end or ctx to.
func (l *Listener) Close(ctx context.Context) error {
	l.mu.Lock()
	for s := range l.conns {
		s.closeStream()
	}
	l.mu.Unlock()
	done := make(chan struct{})
	go func() { l.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("s2s: closing incoming streams: %w", ctx.Err())
	}
}

// refuse writes a stream header and a stream error on c, then closes it.
func refuse(c net.Conn, e *stream.Error) {
	c.SetWriteDeadline(time.Now().Add(time.Second))
	b := stream.AppendHeader(nil, stream.Header{ContentNS: stanza.NSServer, Version: "1.0"})
	b = e.Element().AppendXML(b, stanza.NSServer)
	c.Write(append(b, stream.Close...))
	c.Close()
}

// inStream is one incoming stream.
type inStream struct {
	l    *Listener
	raw  net.Conn
	conn net.Conn // raw, or the TLS layer over it
	log  *slog.Logger
	dec  *stream.Decoder

	id       string // the current stream ID (a new one at each restart)
	to       string // the local domain the peer asked for
	secure   bool
	verified map[string]certid.Method // domains the peer's certificate names, by certid, once checked

	writeMu    sync.Mutex
	closed     bool
	headerSent bool // a stream error must follow a header of ours

	mu        sync.Mutex
	authed    map[string]bool // sender domains authenticated on this stream
	auths     []LinkInfo      // how and when each was (Listener.Links)
	verifying int             // dialback verifications in flight
}

func (s *inStream) serve(ctx context.Context, directTLS bool) {
	defer s.raw.Close()
	if directTLS {
		tc := tls.Server(s.raw, s.l.opts.TLS)
		s.raw.SetDeadline(time.Now().Add(s.l.opts.AuthTimeout))
		if err := tc.HandshakeContext(ctx); err != nil {
			s.log.Info("s2s: TLS handshake failed", "err", err)
			return
		}
		s.conn, s.secure = tc, true
	}
	s.dec = stream.NewDecoder(s.conn, s.l.opts.Limits)
	authDeadline := time.Now().Add(s.l.opts.AuthTimeout)
	stop := context.AfterFunc(ctx, s.closeStream)
	defer stop()
	err := s.loop(ctx, authDeadline)
	var se *stream.Error
	switch {
	case errors.As(err, &se):
		s.log.Info("s2s: incoming stream error", "condition", se.Condition, "text", se.Text)
		s.fail(se)
	case errors.Is(err, io.EOF):
		s.log.Debug("s2s: incoming stream closed")
		s.closeStream()
	default:
		s.log.Info("s2s: incoming stream ended", "err", err)
	}
}

// loop reads the stream until it ends.
func (s *inStream) loop(ctx context.Context, authDeadline time.Time) error {
	if err := s.open(); err != nil {
		return err
	}
	for {
		deadline := time.Now().Add(s.l.opts.IdleTimeout)
		if !s.anyAuthed() && authDeadline.Before(deadline) {
			deadline = authDeadline
		}
		s.conn.SetReadDeadline(deadline)
		el, err := s.dec.Next()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				if !s.anyAuthed() {
					return &stream.Error{Condition: stream.PolicyViolation, Text: "no domain authenticated in time"}
				}
				return &stream.Error{Condition: stream.ConnectionTimeout}
			}
			return err
		}
		switch {
		case el.Name.Space == nsTLS && el.Name.Local == "starttls":
			if err := s.startTLS(ctx); err != nil {
				return err
			}
		case el.Name.Space == nsSASL && el.Name.Local == "auth":
			if err := s.external(el); err != nil {
				return err
			}
		case el.Name.Space == dialback.NS:
			if err := s.dialback(ctx, el); err != nil {
				return err
			}
		case stanza.KindOf(el) != stanza.KindOther:
			if err := s.stanza(ctx, el); err != nil {
				return err
			}
		default:
			return &stream.Error{Condition: stream.UnsupportedStanzaType, Text: "<" + el.Name.Local + "/> is not expected here"}
		}
	}
}

// open reads the peer's stream header and answers with ours and the
// features of the stream's state.
func (s *inStream) open() error {
	h, err := s.dec.ReadHeader()
	if err != nil {
		return err
	}
	if h.ContentNS != stanza.NSServer {
		return &stream.Error{Condition: stream.InvalidNamespace, Text: "a server-to-server stream is jabber:server"}
	}
	if h.Version != "1.0" {
		return &stream.Error{Condition: stream.UnsupportedVersion, Text: "XMPP 1.0 streams only (TLS is required)"}
	}
	to, err := jid.Parse(h.To)
	if err != nil || to.Local() != "" || to.Resource() != "" || !s.l.opts.Router.Serves(to.Domain()) {
		return &stream.Error{Condition: stream.HostUnknown, Text: "this server does not serve " + h.To}
	}
	if s.to != "" && to.Domain() != s.to {
		return &stream.Error{Condition: stream.HostUnknown, Text: "a restarted stream keeps its domain"}
	}
	s.to = to.Domain()
	s.id = newStreamID()
	hdr := stream.Header{ContentNS: stanza.NSServer, From: s.to, ID: s.id, Version: "1.0",
		Attr: []stanza.Attr{{Name: xmlnsName("db"), Value: dialback.NS}}}
	if f, err := jid.Parse(h.From); err == nil && f.Local() == "" && f.Resource() == "" {
		hdr.To = f.Domain()
	}
	b := stream.AppendHeader(nil, hdr)
	b = append(b, "<stream:features>"...)
	switch {
	case !s.secure:
		b = append(b, "<starttls xmlns='"+nsTLS+"'><required/></starttls>"...)
	default:
		if hdr.To != "" && !s.anyAuthed() && s.certNames(hdr.To) != "" {
			b = append(b, "<mechanisms xmlns='"+nsSASL+"'><mechanism>EXTERNAL</mechanism></mechanisms>"...)
		}
		if s.l.pool.opts.Dialback != nil {
			b = append(b, "<dialback xmlns='"+dialback.NSFeature+"'><errors/></dialback>"...)
		}
	}
	b = append(b, "</stream:features>"...)
	if err := s.write(b); err != nil {
		return err
	}
	s.writeMu.Lock()
	s.headerSent = true
	s.writeMu.Unlock()
	return nil
}

func (s *inStream) startTLS(ctx context.Context) error {
	if s.secure {
		return &stream.Error{Condition: stream.PolicyViolation, Text: "TLS is already on"}
	}
	if s.dec.Buffered() > 0 {
		return &stream.Error{Condition: stream.PolicyViolation, Text: "data after <starttls/>"}
	}
	if err := s.write([]byte("<proceed xmlns='" + nsTLS + "'/>")); err != nil {
		return err
	}
	tc := tls.Server(s.raw, s.l.opts.TLS)
	if err := tc.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("TLS handshake: %w", err)
	}
	s.writeMu.Lock()
	s.conn, s.secure = tc, true
	s.writeMu.Unlock()
	s.dec.Reset(tc)
	return s.open()
}

// certNames reports how the peer's certificate names domain ("" when it
// does not, or there is none): TLS client authentication usage is not
// required (XEP-0178 §3 and public CAs' server-only certificates).
func (s *inStream) certNames(domain string) certid.Method {
	if s.verified == nil {
		s.verified = map[string]certid.Method{}
	}
	if m, ok := s.verified[domain]; ok {
		return m
	}
	tc, ok := s.conn.(*tls.Conn)
	if !ok {
		return ""
	}
	m, err := certid.Verify(tc.ConnectionState().PeerCertificates, domain, certid.Options{Roots: s.l.pool.opts.Roots})
	if err != nil {
		s.log.Debug("s2s: peer certificate does not verify", "domain", domain, "err", err)
	}
	s.verified[domain] = m
	return m
}

// external handles SASL EXTERNAL (XEP-0178 §3): the peer's certificate
// must name the domain it asserts.
func (s *inStream) external(el *stanza.Element) error {
	if !s.secure || el.Get("mechanism") != "EXTERNAL" {
		return s.saslFailure("invalid-mechanism", "only EXTERNAL, under TLS")
	}
	if s.anyAuthed() {
		return &stream.Error{Condition: stream.PolicyViolation, Text: "already authenticated"}
	}
	domain := ""
	switch txt := el.Text(); txt {
	case "", "=":
	default:
		b, err := base64.StdEncoding.DecodeString(txt)
		if err != nil {
			return s.saslFailure("incorrect-encoding", "the authorization identity is not base64")
		}
		domain = string(b)
	}
	if domain == "" {
		return s.saslFailure("invalid-authzid", "name the domain to authenticate")
	}
	if s.l.pool.opts.Policy(domain).Deny {
		s.log.Info("s2s: refused a denied domain", "domain", domain)
		return s.saslFailure("not-authorized", "this server does not federate with "+domain)
	}
	if s.certNames(domain) == "" {
		return s.saslFailure("not-authorized", "the certificate does not name "+domain)
	}
	if err := s.write([]byte("<success xmlns='" + nsSASL + "'/>")); err != nil {
		return err
	}
	s.authenticate(domain, "SASL EXTERNAL")
	return s.open()
}

func (s *inStream) saslFailure(cond, text string) error {
	s.log.Info("s2s: SASL EXTERNAL refused", "why", text)
	return s.write([]byte("<failure xmlns='" + nsSASL + "'><" + cond + "/><text xml:lang='en'>" + escapeText(text) + "</text></failure>"))
}

// dialback handles <db:result/> (the receiving server's side, XEP-0220
// §2.2.1) and <db:verify/> (the authoritative server's side, §2.2.2).
func (s *inStream) dialback(ctx context.Context, el *stanza.Element) error {
	m, err := dialback.Parse(el)
	if err != nil {
		return &stream.Error{Condition: stream.InvalidXML, Text: err.Error()}
	}
	if m.Type != "" {
		// Only answers carry a type, and answers travel on the other
		// direction's stream: a verdict here is an attempt to claim one.
		return &stream.Error{Condition: stream.NotAuthorized, Text: "dialback verdicts are not accepted on an incoming stream"}
	}
	keyer := s.l.pool.opts.Dialback
	if !s.secure {
		return &stream.Error{Condition: stream.PolicyViolation, Text: "TLS is required before dialback"}
	}
	if m.Kind == dialback.Verify {
		if keyer == nil || !s.l.opts.Router.Serves(m.To) {
			return s.write(m.Answer(false, stanza.Err(stanza.ItemNotFound)).AppendXML(nil))
		}
		valid := keyer.Check(m.Key, m.From, m.To, m.ID)
		if !valid {
			s.log.Info("s2s: answered a dialback verification: invalid", "receiving", m.From, "originating", m.To, "stream", m.ID)
		}
		return s.write(m.Answer(valid, nil).AppendXML(nil))
	}
	// A <db:result/>: m.From asks to send to m.To on this stream.
	pol := s.l.pool.opts.Policy(m.From)
	switch {
	case keyer == nil || pol.NoDialback:
		return s.write(m.Answer(false, stanza.Err(stanza.NotAllowed)).AppendXML(nil))
	case m.To != s.to || !s.l.opts.Router.Serves(m.To):
		return s.write(m.Answer(false, stanza.Err(stanza.ItemNotFound)).AppendXML(nil))
	case pol.Deny:
		s.log.Info("s2s: refused a denied domain", "domain", m.From)
		return s.write(m.Answer(false, stanza.Err(stanza.Forbidden)).AppendXML(nil))
	case pol.RequireVerified && s.certNames(m.From) == "":
		s.log.Info("s2s: refused dialback: the domain requires a verified certificate", "domain", m.From)
		return s.write(m.Answer(false, stanza.Err(stanza.NotAuthorized)).AppendXML(nil))
	}
	// Ask the authoritative server, without holding up this stream, and
	// with few questions in flight and few domains per stream: each
	// question is a connection of ours.
	s.mu.Lock()
	busy, full := s.verifying >= maxVerifying, len(s.authed) >= maxStreamDomains
	if !busy && !full {
		s.verifying++
	}
	s.mu.Unlock()
	switch {
	case full:
		return s.write(m.Answer(false, stanza.Errorf(stanza.PolicyViolation, "at most %d domains on one stream", maxStreamDomains)).AppendXML(nil))
	case busy:
		return s.write(m.Answer(false, &stanza.Error{Type: stanza.ErrWait, Condition: stanza.ResourceConstraint, Text: "too many dialback verifications in progress"}).AppendXML(nil))
	}
	id := s.id
	go func() {
		defer func() {
			s.mu.Lock()
			s.verifying--
			s.mu.Unlock()
		}()
		vctx, cancel := context.WithTimeout(ctx, s.l.pool.opts.ConnectTimeout)
		defer cancel()
		valid, err := s.l.pool.VerifyKey(vctx, m.To, m.From, id, m.Key)
		if err != nil {
			s.log.Info("s2s: dialback verification failed", "domain", m.From, "err", err)
			s.write(m.Answer(false, stanza.Errorf(stanza.RemoteServerNotFound, "could not verify the key")).AppendXML(nil))
			return
		}
		if valid {
			s.authenticate(m.From, "dialback")
		} else {
			s.log.Info("s2s: dialback key invalid: spoofed or misconfigured domain", "domain", m.From)
		}
		if err := s.write(m.Answer(valid, nil).AppendXML(nil)); err == nil && !valid && !s.anyAuthed() {
			s.closeStream() // XEP-0220 §2.2.1: first attempt invalid, close
		}
	}()
	return nil
}

func (s *inStream) authenticate(domain, how string) {
	ver := "none"
	if tc, ok := s.conn.(*tls.Conn); ok {
		ver = tls.VersionName(tc.ConnectionState().Version)
	}
	s.mu.Lock()
	if !s.authed[domain] {
		s.auths = append(s.auths, LinkInfo{Local: s.to, Remote: domain, Incoming: true, State: stateReady, Auth: how, TLS: ver, Since: time.Now()})
	}
	s.authed[domain] = true
	s.mu.Unlock()
	s.log.Info("s2s: incoming stream authenticated", "remote", domain, "local", s.to, "auth", how, "tls", ver)
}

func (s *inStream) anyAuthed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.authed) > 0
}

// stanza routes one stanza, after checking that its sender's domain was
// authenticated on this stream and that it is for this server (RFC 6120
// §8.1.1.2, §13.7.2).
func (s *inStream) stanza(ctx context.Context, st *stanza.Element) error {
	from, errF := jid.Parse(st.Get("from"))
	to, errT := jid.Parse(st.Get("to"))
	if st.Get("from") == "" || st.Get("to") == "" || errT != nil {
		return &stream.Error{Condition: stream.ImproperAddressing, Text: "a server-to-server stanza needs valid 'from' and 'to'"}
	}
	s.mu.Lock()
	ok := errF == nil && s.authed[from.Domain()]
	s.mu.Unlock()
	if !ok {
		return &stream.Error{Condition: stream.InvalidFrom, Text: "the sender's domain is not authenticated on this stream"}
	}
	if s.l.opts.Router.Owns(from.Domain()) {
		s.log.Warn("s2s: a peer sent from a domain of this server", "from", from.Domain())
		return &stream.Error{Condition: stream.InvalidFrom, Text: from.Domain() + " is a domain of this server"}
	}
	if !s.l.opts.Router.Serves(to.Domain()) {
		// An incoming stream carries nothing back: the peer learns of
		// its misrouting from the stream error.
		return &stream.Error{Condition: stream.HostUnknown, Text: to.Domain() + " is not served here"}
	}
	toClient(st)
	s.l.opts.Router.Route(ctx, st)
	return nil
}

// toClient renames jabber:server elements to jabber:client: inside the
// server every stanza is in jabber:client, whichever stream it came on.
func toClient(e *stanza.Element) {
	if e.Name.Space == stanza.NSServer {
		e.Name.Space = stanza.NSClient
	}
	for i := range e.Children {
		if ch := e.Children[i].Elem; ch != nil {
			toClient(ch)
		}
	}
}

func (s *inStream) write(b []byte) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.closed {
		return net.ErrClosed
	}
	s.conn.SetWriteDeadline(time.Now().Add(s.l.pool.opts.WriteTimeout))
	_, err := s.conn.Write(b)
	return err
}

// fail sends a stream error and closes the stream.
func (s *inStream) fail(e *stream.Error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.closed {
		return
	}
	s.conn.SetWriteDeadline(time.Now().Add(time.Second))
	var b []byte
	if !s.headerSent {
		b = stream.AppendHeader(b, stream.Header{ContentNS: stanza.NSServer, ID: newStreamID(), Version: "1.0"})
	}
	b = e.Element().AppendXML(b, stanza.NSServer)
	s.conn.Write(append(b, stream.Close...))
	s.closed = true
	s.raw.Close()
}

// closeStream sends the closing tag and closes the connection.
func (s *inStream) closeStream() {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.closed {
		return
	}
	s.conn.SetWriteDeadline(time.Now().Add(time.Second))
	if s.headerSent {
		s.conn.Write([]byte(stream.Close))
	}
	s.closed = true
	s.raw.Close()
}

// escapeText escapes s for character data.
func escapeText(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// newStreamID returns a fresh, unguessable stream ID: dialback keys are
// bound to it.
func newStreamID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}
