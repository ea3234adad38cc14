package stream

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/parley-xmpp/parley/server/metrics"
	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/session"
	"github.com/parley-xmpp/parley/xmpp/jid"
	smns "github.com/parley-xmpp/parley/xmpp/sm"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	xstream "github.com/parley-xmpp/parley/xmpp/stream"
)

// Namespaces of stream negotiation (RFC 6120) and its extensions.
const (
	nsTLS     = "urn:ietf:params:xml:ns:xmpp-tls"
	nsSASL    = "urn:ietf:params:xml:ns:xmpp-sasl"
	nsBind    = "urn:ietf:params:xml:ns:xmpp-bind"
	nsSession = "urn:ietf:params:xml:ns:xmpp-session"
	nsSASLCB  = "urn:xmpp:sasl-cb:0"
	nsPing    = "urn:xmpp:ping"
)

type phase uint8

const (
	phaseTLS   phase = iota // STARTTLS required before anything else
	phaseAuth               // TLS up, SASL next
	phaseBind               // authenticated, resource binding next
	phaseBound              // a session
)

// conn is one client stream. Its fields are owned by the reader
// goroutine (run) except where noted.
//
// Every session keeps one for its whole life, parked or not: fields that
// only a login needs are behind pointers (reg, resumeFor), and the small
// ones are grouped so that the struct stays within the allocator's
// 704-byte size class.
type conn struct {
	srv  *Server
	cfg  *Config
	log  connLog   // records with the connection's attributes (log.go)
	t    Transport // the framing: reads elements, writes bytes
	id   string
	lang string

	ph         phase
	logUser    bool // user is in the log records (authenticated)
	authed     bool // authenticated() ran
	sentHeader bool // guarded by writeMu
	sentClose  bool // guarded by writeMu
	// saslFailures counts failed SASL exchanges (up to maxSASLFailures,
	// a few: a byte, in the flags' padding).
	saslFailures uint8
	pingSeq      uint16 // ids of the server's pings (XEP-0199); wraps

	domain      string    // the stream's 'to', a served domain
	from        string    // the stream's 'from': a hint only (XEP-0388)
	reg         *regState // in-band registration (register.go)
	user        jid.JID   // bare JID once authenticated
	session     *session.Session
	fullJID     string   // session.JID().String(), stamped as 'from' on every stanza
	authMech    string   // the SASL mechanism of the last exchange, for metrics
	authStarted int64    // when the last SASL exchange began, Unix nanoseconds (revokedLogin)
	resumeFor   *jid.JID // during a SASL2 login with <resume/>: the resumable session's account

	writeMu sync.Mutex // serialises writes to t; guards sentHeader, sentClose
	out     outQueue

	closing atomic.Bool
	// moving: the stream ends because its node drains, with a
	// resumption elsewhere in view: a resumable session is kept for it
	// (clustersm.go).
	moving  atomic.Bool
	closeBy atomic.Int64 // unix nanos: deadline of the closing writes, set before closing

	stanzas Bucket // Limits.Rate or PreauthRate in stanzas (rate.go); reader-owned

	ctx     context.Context // of run, for the reader after a park
	sm      smReader        // XEP-0198, reader-owned (sm.go)
	done    chan struct{}   // closed when the reader has finished for good
	onEnd   func()          // called once after done is closed
	flushFn func()          // c.flush (writer.go)
}

func newConn(s *Server, t Transport) *conn {
	cfg := s.cfg.Load()
	c := &conn{srv: s, cfg: cfg, t: t, done: make(chan struct{})}
	c.flushFn = c.flush // bound once: "go c.flush()" would allocate per delivery
	c.log = connLog{c}
	c.out.max = cfg.Limits.OutboundQueue
	c.out.maxBytes = cfg.Limits.OutboundQueueBytes
	return c
}

// RemoteAddr implements session.Conn.
func (c *conn) RemoteAddr() string { return c.t.RemoteAddr() }

// remoteIP returns the client's IP address (the zero Addr when the
// transport's address has no port or is no IP address), for login
// throttling and registration limits. It is parsed at each use, a few
// times a login, rather than kept: 24 bytes in every session's conn.
func (c *conn) remoteIP() netip.Addr {
	ap, err := netip.ParseAddrPort(c.t.RemoteAddr())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// TransportName names the session's transport in metrics: the
// transport's name (Named), else "other".
func (c *conn) TransportName() string {
	if n, ok := c.t.(Named); ok {
		return n.TransportName()
	}
	return "other"
}

// Held returns what the session holds for its client: the stanzas
// queued, unacknowledged (XEP-0198) and held while inactive (XEP-0352),
// and their estimated bytes.
func (c *conn) Held() (stanzas, bytes int) {
	q := &c.out
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) + len(q.ack.unacked) + len(q.csi.held), q.bytes
}

// run serves the connection. The goroutine running it may end before the
// connection does: an idle session parks (Parker) and a new goroutine
// carries on reading when input arrives.
func (c *conn) run(ctx context.Context) {
	c.ctx = ctx
	c.stanzas = NewBucket(c.cfg.Limits.PreauthRate.StanzasPerSecond, c.cfg.Limits.PreauthRate.Burst)
	if err := c.t.Open(ctx, c); err != nil {
		c.end()
		return
	}
	if c.t.Secure() {
		c.ph = phaseAuth // e.g. XEP-0368: TLS is up, SASL comes first
	}
	c.t.SetLimits(c.preauthLimits())
	if err := c.openStream(); err != nil {
		c.finish(ctx, err)
		c.end()
		return
	}
	c.loop(ctx)
}

// end marks the connection finished for good.
func (c *conn) end() {
	c.t.End()
	close(c.done)
	if c.onEnd != nil {
		c.onEnd()
	}
}

func (c *conn) preauthLimits() xstream.Limits {
	l := c.cfg.Limits
	return xstream.Limits{MaxStanzaBytes: l.PreauthStanzaBytes, MaxDepth: min(l.MaxDepth, 16), MaxElements: l.PreauthElements}
}

func (c *conn) boundLimits() xstream.Limits {
	l := c.cfg.Limits
	return xstream.Limits{MaxStanzaBytes: l.MaxStanzaBytes, MaxDepth: l.MaxDepth}
}

// loop reads and handles stanzas until the stream ends, or until the
// session is idle and parks.
func (c *conn) loop(ctx context.Context) {
	for {
		el, err := c.t.Next()
		if errors.Is(err, ErrPark) {
			if p, ok := c.t.(Parker); ok && c.ph == phaseBound && p.Parkable() {
				p.Park(c.resume)
				return
			}
			continue // input arrived meanwhile: read on
		}
		if err == nil {
			if c.stanzas.rate > 0 {
				if d := c.stanzas.Take(1, c.cfg.Now()); d > 0 {
					c.Throttle(d) // Limits.Rate: rate.go
				}
			}
			err = c.handle(ctx, el)
			if !c.authed && c.ph >= phaseBind {
				c.authenticated()
			}
		} else if errors.Is(err, io.EOF) {
			err = nil // the peer closed its stream
		}
		if err != nil || el == nil {
			if ie, ok := c.t.(InputEnder); ok {
				ie.EndInput() // nothing more is read: give the buffers back before the teardown
			}
			if c.srv != nil && c.srv.ends.push(c, err) {
				return // ended by the end queue (ends.go): this goroutine goes now
			}
			c.finish(ctx, err)
			c.end()
			return
		}
	}
}

// resume is the reader again after a park.
func (c *conn) resume() { c.loop(c.ctx) }

// openStream reads the peer's stream header and answers with ours and the
// features of the current phase.
func (c *conn) openStream() error {
	h, err := c.t.ReadHeader()
	c.id = NewID()
	c.writeMu.Lock()
	c.sentHeader = false
	c.writeMu.Unlock()
	if err != nil {
		return err
	}
	c.lang = h.Lang
	c.from = h.From
	to, jerr := jid.Parse(h.To)
	switch {
	case h.To == "":
		if c.domain == "" {
			return &xstream.Error{Condition: xstream.HostUnknown, Text: "the stream header needs a 'to'"}
		}
	case jerr != nil || to.Local() != "" || to.Resource() != "" || !c.cfg.Router.IsLocal(to.Domain()):
		return &xstream.Error{Condition: xstream.HostUnknown, Text: "this server does not serve " + h.To}
	case c.domain != "" && to.Domain() != c.domain:
		return &xstream.Error{Condition: xstream.HostUnknown, Text: "the domain changed across a stream restart"}
	default:
		c.domain = to.Domain()
	}
	if h.ContentNS != stanza.NSClient {
		return &xstream.Error{Condition: xstream.InvalidNamespace, Text: "a client stream is in jabber:client"}
	}
	if h.Version == "" || majorVersion(h.Version) < 1 {
		return &xstream.Error{Condition: xstream.UnsupportedVersion, Text: "XMPP 1.0 is required"}
	}
	fb := c.featuresBytes()
	buf := c.t.AppendOpen(make([]byte, 0, openHeaderRoom+len(fb)), c.header())
	buf = append(buf, fb...)
	c.writeMu.Lock()
	c.sentHeader = true
	c.writeMu.Unlock()
	return c.writeRaw(buf)
}

// openHeaderRoom is room enough for the stream header that precedes the
// features, so that the two take one allocation.
const openHeaderRoom = 256

func (c *conn) header() xstream.Header {
	return xstream.Header{From: c.domain, ID: c.id, Version: "1.0", Lang: "en", ContentNS: stanza.NSClient}
}

func majorVersion(v string) int {
	n := 0
	for i := 0; i < len(v) && v[i] != '.'; i++ {
		if v[i] < '0' || v[i] > '9' || n > 1000 {
			return -1
		}
		n = n*10 + int(v[i]-'0')
	}
	return n
}

// NewID returns a random identifier: a stream id, a resource.
func NewID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// features builds the <stream:features/> of the current phase; dyn are
// the modules' run-time features (Router.StreamFeatures) when the caller
// already has them, nil to ask the router. appendFeatures caches them.
func (c *conn) features(dyn []*stanza.Element) *stanza.Element {
	f := stanza.New(stanza.NSStream, "features")
	switch c.ph {
	case phaseTLS:
		f.Append(stanza.New(nsTLS, "starttls").Append(stanza.New(nsTLS, "required")))
	case phaseAuth:
		mechs := stanza.New(nsSASL, "mechanisms")
		for _, m := range c.mechanisms() {
			mechs.Append(stanza.New(nsSASL, "mechanism").AppendText(m))
		}
		f.Append(mechs)
		if cbs := c.channelBindingTypes(); len(cbs) > 0 {
			cb := stanza.New(nsSASLCB, "sasl-channel-binding")
			for _, t := range cbs {
				cb.Append(stanza.New(nsSASLCB, "channel-binding", "type", t))
			}
			f.Append(cb)
		}
		c.appendPreauthFeatures(f)
	case phaseBind:
		f.Append(stanza.New(nsBind, "bind"))
		f.Append(stanza.New(nsSession, "session").Append(stanza.New(nsSession, "optional")))
		if dyn == nil {
			dyn = c.cfg.Router.StreamFeatures()
		}
		for _, el := range dyn {
			f.Append(el)
		}
		f.Append(c.smFeatures()...)
	}
	return f
}

// handle processes one top-level element according to the phase.
func (c *conn) handle(ctx context.Context, el *stanza.Element) error {
	if c.ph >= phaseBind && (el.Name.Space == smns.NS || el.Name.Space == nsCSI) {
		return c.handleNonza(ctx, el) // XEP-0198, XEP-0352: sm.go, csi.go
	}
	switch c.ph {
	case phaseTLS:
		if el.Name.Space == nsTLS && el.Name.Local == "starttls" {
			return c.handleStartTLS(ctx)
		}
		if el.Name.Space == nsSASL && el.Name.Local == "auth" {
			c.log.Info("c2s: SASL attempted before TLS")
			_ = c.writeRaw(saslFailure("encryption-required", "").AppendXML(nil, stanza.NSClient))
			return &xstream.Error{Condition: xstream.PolicyViolation, Text: "TLS is required"}
		}
		return &xstream.Error{Condition: xstream.NotAuthorized, Text: "STARTTLS is required first"}
	case phaseAuth:
		if el.Name.Space == nsSASL && el.Name.Local == "auth" {
			return c.handleAuth(ctx, el)
		}
		if handled, err := c.handlePreauth(ctx, el); handled {
			return err
		}
		if el.Name.Space == nsTLS {
			return &xstream.Error{Condition: xstream.PolicyViolation, Text: "TLS is already established"}
		}
		return &xstream.Error{Condition: xstream.NotAuthorized, Text: "authenticate first"}
	case phaseBind:
		if stanza.KindOf(el) == stanza.KindIQ && el.Type() == stanza.TypeSet {
			if b := el.Child(nsBind, "bind"); b != nil {
				return c.handleBind(ctx, el, b)
			}
		}
		if stanza.KindOf(el) == stanza.KindOther {
			return &xstream.Error{Condition: xstream.UnsupportedStanzaType, Text: "unexpected element " + el.Name.Local}
		}
		return &xstream.Error{Condition: xstream.NotAuthorized, Text: "bind a resource first"}
	default:
		err := c.handleStanza(ctx, el)
		c.countHandled(el) // XEP-0198
		return err
	}
}

func (c *conn) handleStartTLS(ctx context.Context) error {
	up, ok := c.t.(TLSUpgrader)
	if !ok || !up.CanStartTLS() {
		_ = c.writeRaw(stanza.New(nsTLS, "failure").AppendXML(nil, stanza.NSClient))
		return errClosed
	}
	if c.t.Buffered() {
		// Anything sent after <starttls/> and before <proceed/> would be
		// read in the clear and confused with the encrypted stream: the
		// command-injection attack of RFC 6120 §5.3.3 (and CVE-2011-0411).
		c.log.Warn("c2s: data pipelined after <starttls/>; refusing")
		return &xstream.Error{Condition: xstream.PolicyViolation, Text: "data after <starttls/>"}
	}
	if err := c.writeRaw(stanza.New(nsTLS, "proceed").AppendXML(nil, stanza.NSClient)); err != nil {
		return err
	}
	if err := up.StartTLS(ctx); err != nil {
		c.log.Info("c2s: TLS handshake failed", "err", err)
		return errClosed
	}
	c.ph = phaseAuth
	c.t.Restart()
	return c.openStream()
}

func (c *conn) handleBind(ctx context.Context, iq, b *stanza.Element) error {
	res := b.ChildText(nsBind, "resource")
	var full jid.JID
	var err error
	if res == "" {
		full, err = c.user.WithResource(NewID()[:16])
	} else {
		full, err = c.user.WithResource(res)
	}
	if err != nil {
		return c.writeRaw(stanza.ErrorReply(iq, stanza.Errorf(stanza.BadRequest, "invalid resource")).AppendXML(nil, stanza.NSClient))
	}
	s := session.NewSession(full, c)
	replaced, err := c.cfg.Sessions.Bind(s)
	if errors.Is(err, session.ErrTooManySessions) {
		c.log.Info("c2s: session limit reached", "user", c.user)
		c.cfg.Metrics.Limited(metrics.LimitSessions)
		return c.writeRaw(stanza.ErrorReply(iq, &stanza.Error{Type: stanza.ErrCancel, Condition: stanza.ResourceConstraint, Text: "too many sessions"}).AppendXML(nil, stanza.NSClient))
	}
	if err == nil {
		if rerr := c.revokedLogin(s, replaced); rerr != nil {
			return rerr
		}
	}
	if replaced != nil {
		c.log.Info("c2s: resource conflict, replacing the old session", "jid", full)
		replaced.Conn().Close(&xstream.Error{Condition: xstream.Conflict, Text: "replaced by a new session"})
	}
	c.enterSession(s)
	reply := stanza.Result(iq, stanza.New(nsBind, "bind").Append(stanza.New(nsBind, "jid").AppendText(full.String())))
	reply.Set("from", "")
	if err := c.Deliver(reply); err != nil {
		return err
	}
	c.log.Info("c2s: session bound")
	c.cfg.Router.Emit(ctx, module.SessionBound, s)
	return nil
}

// handleStanza validates a stanza of a bound session, stamps its 'from'
// and routes it.
func (c *conn) handleStanza(ctx context.Context, el *stanza.Element) error {
	kind := stanza.KindOf(el)
	if kind == stanza.KindOther {
		return &xstream.Error{Condition: xstream.UnsupportedStanzaType, Text: "unexpected element " + el.Name.Local}
	}
	full := c.session.JID()
	if f := el.From(); f != "" {
		fj, err := jid.Parse(f)
		if err != nil || (fj != full && fj != full.Bare()) {
			c.log.Warn("c2s: forged from", "from", f)
			return &xstream.Error{Condition: xstream.InvalidFrom, Text: "'from' does not match the session"}
		}
	}
	c.cfg.Metrics.StanzaIn(kind)
	el.Set("from", c.fullJID)
	if c.lang != "" && el.Lang() == "" {
		// RFC 6120 §4.7.4: a stanza without xml:lang is in the stream's
		// language; say so explicitly before it leaves this xstream.
		el.SetNS(stanza.NSXML, "lang", c.lang)
	}
	if kind == stanza.KindIQ {
		// An IQ gets an answer, which tells the client its earlier
		// stanzas were handled: what they left to be made durable (the
		// archive's writes, which go behind their delivery) is, first.
		c.cfg.Router.Barrier(ctx, c.session)
		if c.handleIQResult(el) {
			return nil
		}
		if bad := checkIQ(el); bad != nil {
			return c.Deliver(stanza.ErrorReply(el, bad))
		}
		if el.Type() == stanza.TypeSet && (el.To() == "" || el.To() == c.domain) {
			if el.Child(nsSession, "session") != nil {
				return c.Deliver(stanza.Result(el, nil))
			}
		}
	}
	if kind == stanza.KindPresence && !validPresenceType(el.Type()) {
		return c.Deliver(stanza.ErrorReply(el, stanza.Errorf(stanza.BadRequest, "unknown presence type")))
	}
	c.cfg.Router.RouteFrom(ctx, c.session, el)
	return nil
}

func validPresenceType(t string) bool {
	switch t {
	case "", stanza.TypeUnavailable, stanza.TypeSubscribe, stanza.TypeSubscribed,
		stanza.TypeUnsubscribe, stanza.TypeUnsubscribed, stanza.TypeProbe, stanza.TypeError:
		return true
	}
	return false
}

// checkIQ applies RFC 6120 §8.2.3: an id, a known type, one payload for a
// request.
func checkIQ(el *stanza.Element) *stanza.Error {
	if el.ID() == "" {
		return stanza.Errorf(stanza.BadRequest, "an IQ needs an id")
	}
	switch el.Type() {
	case stanza.TypeGet, stanza.TypeSet:
		if len(el.Elements()) != 1 {
			return stanza.Errorf(stanza.BadRequest, "an IQ request carries exactly one payload")
		}
	case stanza.TypeResult, stanza.TypeError:
	default:
		return stanza.Errorf(stanza.BadRequest, "unknown IQ type")
	}
	return nil
}

// IdlePing implements Reader: it pings an idle client (XEP-0199); any
// reply resets the idle timer.
func (c *conn) IdlePing() {
	c.pingSeq++
	iq := stanza.NewIQ(stanza.TypeGet, fmt.Sprintf("c2s-ping-%d", c.pingSeq), c.session.JID().String(), stanza.New(nsPing, "ping"))
	iq.Set("from", c.domain)
	_ = c.Deliver(iq)
}

// handleIQResult swallows the answers to the server's own idle pings.
func (c *conn) handleIQResult(el *stanza.Element) bool {
	t := el.Type()
	if t != stanza.TypeResult && t != stanza.TypeError {
		return false
	}
	if to := el.To(); to != "" && to != c.domain {
		return false
	}
	id := el.ID()
	return len(id) > 9 && id[:9] == "c2s-ping-"
}

// finish ends the connection: it reports the error to the peer, unbinds
// the session and lets modules react.
func (c *conn) finish(ctx context.Context, err error) {
	lost := c.lostConnection(err) || c.moving.Load() // before closing the stream below
	var se *xstream.Error
	switch {
	case err == nil:
		c.log.Debug("c2s: stream closed by peer")
		if c.session != nil {
			// The closing tag answers the client's: what its stanzas
			// left to be made durable is, first.
			c.cfg.Router.Barrier(ctx, c.session)
		}
		c.closeStream(nil)
	case errors.As(err, &se):
		c.log.Info("c2s: stream error", "condition", se.Condition, "text", se.Text)
		c.closeStream(se)
	case errors.Is(err, ErrIdle):
		c.log.Info("c2s: peer did not answer the idle ping")
		c.closeStream(&xstream.Error{Condition: xstream.ConnectionTimeout})
	case errors.Is(err, ErrAuthTimeout):
		c.log.Info("c2s: no authentication before the time limit")
		c.closeStream(&xstream.Error{Condition: xstream.ConnectionTimeout, Text: "authentication timed out"})
	case errors.Is(err, errClosed) || c.closing.Load():
	default:
		c.log.Debug("c2s: connection lost", "err", err)
	}
	c.t.Close()
	if c.session == nil {
		return
	}
	if c.hibernate(ctx, lost) { // XEP-0198: kept for resumption
		return
	}
	c.endSession(ctx)
}

var errClosed = errors.New("c2s: connection closed")

// Transport names the session's transport (Named), "other" when it does
// not say.
func (c *conn) Transport() string {
	if n, ok := c.t.(Named); ok {
		return n.TransportName()
	}
	return "other"
}
