// Package component connects external components (XEP-0114, "Jabber
// Component Protocol", the jabber:component:accept namespace): trusted
// services that run beside the server — gateways to other networks,
// bots — each serving a domain of its own. A component connects to a
// Listener, proves it knows its shared secret with a handshake, and
// from then on the router hands every stanza for its domain to it (a
// router route per component domain), and routes what it sends.
package component

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// NS is the namespace of component streams the server accepts.
const NS = "jabber:component:accept"

// Defaults of Options.
const (
	DefaultGrace      = 10 * time.Second
	DefaultQueueBytes = 1 << 20
	handshakeTimeout  = 30 * time.Second
	writeTimeout      = 30 * time.Second
)

// Router is where a component's stanzas go.
type Router interface {
	// Route routes a stanza whose 'from' and 'to' are set.
	Route(ctx context.Context, st *stanza.Element)
}

// Component is one configured component.
type Component struct {
	// Domain is the component's domain, e.g. irc.example.org.
	Domain string
	// Secret is the shared secret of the handshake.
	Secret string
	// Advertise are stanzas the component receives each time it
	// connects, right after the handshake and before anything that
	// waited for it: the <privilege/> (XEP-0356) and <delegation/>
	// (XEP-0355) messages listing what it was granted.
	Advertise []*stanza.Element
	// PresenceOnConnect says the component receives the presence of the
	// users when it connects (Options.OnConnect, for XEP-0356's presence
	// privilege): presence addressed to its domain is then not kept
	// while it is away, lest it arrive twice.
	PresenceOnConnect bool
}

// Options configure a Listener.
type Options struct {
	// Components are the configured components.
	Components []Component
	// Router takes what components send. Required.
	Router Router
	// Limits bound what the decoder accepts.
	Limits stream.Limits
	// Grace is how long stanzas for a component that is not connected
	// wait for it, counted from when its connection went away (or from
	// New, before it first connected), before they bounce with
	// <service-unavailable/>. 0 means DefaultGrace; negative means none.
	Grace time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// QueueBytes bounds what waits for one component (size). 0 means
	// DefaultQueueBytes.
	QueueBytes int
	// Log receives the listener's log lines.
	Log *slog.Logger
	// OnConnect, if set, runs (on the connection's goroutine) after a
	// component connected and received its Advertise stanzas and what
	// waited for it.
	OnConnect func(ctx context.Context, domain string)
	// OnDisconnect, if set, runs (on the connection's goroutine) once a
	// connection that OnConnect was run for went away. A new connection
	// of the component may already be up (Route.Connected).
	OnDisconnect func(ctx context.Context, domain string)
}

// Listener accepts component connections. Each configured component is
// also the router's route for its domain (Route).
type Listener struct {
	opts   Options
	routes map[string]*Route
	wg     sync.WaitGroup
}

// New returns a listener for o.Components.
func New(o Options) *Listener {
	if o.Grace == 0 {
		o.Grace = DefaultGrace
	}
	if o.QueueBytes <= 0 {
		o.QueueBytes = DefaultQueueBytes
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	l := &Listener{opts: o, routes: map[string]*Route{}}
	for _, c := range o.Components {
		// "domain", not "component": the listener's logger names the
		// part of the server under "component" already.
		l.routes[c.Domain] = &Route{l: l, comp: c, log: o.Log.With("domain", c.Domain), lost: o.Now()}
	}
	return l
}

// Routes returns the route of each component, by domain, to register on
// the router (router.AddDomainRoute).
func (l *Listener) Routes() map[string]*Route { return l.routes }

// Serve accepts component connections on ln until ctx ends.
func (l *Listener) Serve(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				l.wg.Wait()
				return nil
			}
			return fmt.Errorf("component: accept: %w", err)
		}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			l.serve(ctx, c)
		}()
	}
}

// serve runs one component connection: header, handshake, stanzas.
func (l *Listener) serve(ctx context.Context, c net.Conn) {
	defer c.Close()
	log := l.opts.Log.With("remote", c.RemoteAddr().String())
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	c.SetDeadline(time.Now().Add(handshakeTimeout))
	dec := stream.NewDecoder(c, l.opts.Limits)
	h, err := dec.ReadHeader()
	if err != nil {
		refuse(c, err, log)
		return
	}
	rt := l.routes[h.To]
	switch {
	case h.ContentNS != NS:
		refuse(c, &stream.Error{Condition: stream.InvalidNamespace, Text: "components use " + NS}, log)
		return
	case rt == nil:
		refuse(c, &stream.Error{Condition: stream.HostUnknown, Text: "no component " + h.To + " is configured"}, log)
		return
	}
	id := streamID()
	hdr := stream.AppendHeader(nil, stream.Header{ContentNS: NS, From: rt.comp.Domain, ID: id})
	if _, err := c.Write(hdr); err != nil {
		return
	}
	el, err := dec.Next()
	if err != nil {
		fail(c, err, log)
		return
	}
	want := handshake(id, rt.comp.Secret)
	if el.Name.Local != "handshake" || subtle.ConstantTimeCompare([]byte(strings.ToLower(strings.TrimSpace(el.Text()))), []byte(want)) != 1 {
		log.Info("component: handshake refused", "domain", rt.comp.Domain)
		fail(c, &stream.Error{Condition: stream.NotAuthorized, Text: "wrong handshake"}, log)
		return
	}
	if !rt.attach(c) {
		log.Info("component: already connected", "domain", rt.comp.Domain)
		fail(c, &stream.Error{Condition: stream.Conflict, Text: rt.comp.Domain + " is already connected"}, log)
		return
	}
	defer rt.detach(c)
	c.SetDeadline(time.Time{})
	if _, err := c.Write([]byte("<handshake/>")); err != nil {
		return
	}
	rt.log.Info("component: connected", "remote", c.RemoteAddr().String())
	rt.advertise()
	rt.flush()
	if l.opts.OnConnect != nil {
		l.opts.OnConnect(ctx, rt.comp.Domain)
	}
	if l.opts.OnDisconnect != nil {
		defer func() {
			rt.detach(c)
			l.opts.OnDisconnect(context.WithoutCancel(ctx), rt.comp.Domain)
		}()
	}
	for {
		st, err := dec.Next()
		if err != nil {
			var se *stream.Error
			switch {
			case ctx.Err() != nil:
				// The server stops: the stream ends as a client's does
				// (RFC 6120 §4.9.3.22), not with the connection cut. The
				// text is for the component's log.
				rt.end(c, &stream.Error{Condition: stream.SystemShutdown, Text: "the server is stopping"})
				rt.log.Info("component: disconnected: the server is stopping")
				return
			case errors.Is(err, io.EOF):
				rt.end(c, nil)
			case errors.As(err, &se):
				rt.end(c, se)
			}
			rt.log.Info("component: disconnected", "err", err)
			return
		}
		if err := rt.received(ctx, st); err != nil {
			rt.end(c, err)
			rt.log.Info("component: stream error", "condition", err.Condition, "text", err.Text)
			return
		}
	}
}

// handshake is XEP-0114's proof: hex(SHA-1(stream ID + secret)).
func handshake(id, secret string) string {
	sum := sha1.Sum([]byte(id + secret))
	return hex.EncodeToString(sum[:])
}

func streamID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// refuse answers a connection that failed before its header was read
// with a header and the stream error.
func refuse(c net.Conn, err error, log *slog.Logger) {
	var se *stream.Error
	if !errors.As(err, &se) {
		se = &stream.Error{Condition: stream.BadFormat}
	}
	log.Info("component: refused", "condition", se.Condition, "text", se.Text)
	b := stream.AppendHeader(nil, stream.Header{ContentNS: NS, ID: streamID()})
	c.SetWriteDeadline(time.Now().Add(time.Second))
	c.Write(append(append(b, se.Element().AppendXML(nil, NS)...), stream.Close...))
}

// fail sends a stream error after the header.
func fail(c net.Conn, err error, log *slog.Logger) {
	var se *stream.Error
	if !errors.As(err, &se) {
		return
	}
	log.Info("component: stream error", "condition", se.Condition, "text", se.Text)
	c.SetWriteDeadline(time.Now().Add(time.Second))
	c.Write(append(se.Element().AppendXML(nil, NS), stream.Close...))
}

// Route is a component's route: what the router hands it goes to its
// connection, or waits for it for the grace period.
type Route struct {
	l    *Listener
	comp Component
	log  *slog.Logger

	mu    sync.Mutex
	conn  net.Conn
	wmu   sync.Mutex // serialises writes on conn
	queue []*stanza.Element
	bytes int
	timer *time.Timer
	// lost is when the connection went away, or when the server started
	// before the component first connected. Stanzas wait for it only
	// within the grace period after that: for a component that stays
	// away they bounce at once instead of each waiting out the grace (a
	// client's disco walk over the server's items would stall on it).
	lost time.Time
}

// Deliver implements router.Route.
func (r *Route) Deliver(_ context.Context, _, _ jid.JID, st *stanza.Element) error {
	r.mu.Lock()
	c := r.conn
	if c == nil {
		if r.comp.PresenceOnConnect && stanza.KindOf(st) == stanza.KindPresence && st.To() == r.comp.Domain {
			r.mu.Unlock()
			return nil
		}
		left := r.lost.Add(r.l.opts.Grace).Sub(r.l.opts.Now())
		if r.l.opts.Grace < 0 || left <= 0 {
			r.mu.Unlock()
			return stanza.Errorf(stanza.ServiceUnavailable, "%s is not connected", r.comp.Domain)
		}
		n := st.MemSize()
		if r.bytes+n > r.l.opts.QueueBytes {
			r.mu.Unlock()
			return stanza.Errorf(stanza.ServiceUnavailable, "%s is not connected", r.comp.Domain)
		}
		r.queue = append(r.queue, st)
		r.bytes += n
		if r.timer == nil {
			r.timer = time.AfterFunc(left, r.expire)
		}
		r.mu.Unlock()
		return nil
	}
	r.mu.Unlock()
	if err := r.write(st.AppendXML(nil, NS)); err != nil {
		return stanza.Errorf(stanza.ServiceUnavailable, "%s is not reachable", r.comp.Domain)
	}
	return nil
}

// Connected reports whether the component is connected.
func (r *Route) Connected() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.conn != nil
}

// expire bounces what waited for a component that did not come back.
func (r *Route) expire() {
	r.mu.Lock()
	q := r.queue
	r.queue, r.bytes, r.timer = nil, 0, nil
	r.mu.Unlock()
	for _, st := range q {
		if stanza.MayBounce(st) {
			r.l.opts.Router.Route(context.Background(), stanza.ErrorReply(st, stanza.Errorf(stanza.ServiceUnavailable, "%s is not connected", r.comp.Domain)))
		}
	}
	if len(q) > 0 {
		r.log.Info("component: not back in time, stanzas bounced", "count", len(q))
	}
}

func (r *Route) attach(c net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conn != nil {
		return false
	}
	r.conn = c
	return true
}

func (r *Route) detach(c net.Conn) {
	r.mu.Lock()
	if r.conn == c {
		r.conn = nil
		r.lost = r.l.opts.Now()
	}
	r.mu.Unlock()
}

// advertise writes the component's Advertise stanzas.
func (r *Route) advertise() {
	var b []byte
	for _, st := range r.comp.Advertise {
		b = st.AppendXML(b, NS)
	}
	if len(b) > 0 {
		r.write(b)
	}
}

// TakeWaiting returns what waits for the component (within the grace
// period) and forgets it: in a cluster, the component connected to
// another node, where it goes.
func (r *Route) TakeWaiting() []*stanza.Element {
	r.mu.Lock()
	defer r.mu.Unlock()
	q := r.queue
	r.queue, r.bytes = nil, 0
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
	return q
}

// Away starts the grace period, when the component is not connected
// here, as if it had just disconnected: in a cluster, it left the node
// it was connected to and may come back to any node, and stanzas for it
// wait here meanwhile.
func (r *Route) Away() {
	r.mu.Lock()
	if r.conn == nil {
		r.lost = r.l.opts.Now()
	}
	r.mu.Unlock()
}

// flush writes what waited for the component, now connected.
func (r *Route) flush() {
	r.mu.Lock()
	q := r.queue
	r.queue, r.bytes = nil, 0
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
	r.mu.Unlock()
	var b []byte
	for _, st := range q {
		b = st.AppendXML(b, NS)
	}
	if len(b) > 0 {
		r.write(b)
	}
}

func (r *Route) write(b []byte) error {
	r.mu.Lock()
	c := r.conn
	r.mu.Unlock()
	if c == nil {
		return net.ErrClosed
	}
	r.wmu.Lock()
	defer r.wmu.Unlock()
	c.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err := c.Write(b)
	return err
}

// end closes the stream of connection c, with the stream error se if
// not nil. The route lets go of c first, so that nothing is written
// after the closing tag: what comes for the component from then on waits
// for it as while it is away. The write has a short deadline of its own,
// also when the connection's deadline has passed (the server stopping).
func (r *Route) end(c net.Conn, se *stream.Error) {
	r.detach(c)
	var b []byte
	if se != nil {
		b = se.Element().AppendXML(b, NS)
	}
	r.wmu.Lock()
	defer r.wmu.Unlock()
	c.SetWriteDeadline(time.Now().Add(time.Second))
	c.Write(append(b, stream.Close...))
}

// received routes a stanza from the component: its 'from' must be of
// the component's domain, and it needs a 'to'.
func (r *Route) received(ctx context.Context, st *stanza.Element) *stream.Error {
	if stanza.KindOf(st) == stanza.KindOther {
		return &stream.Error{Condition: stream.UnsupportedStanzaType, Text: "<" + st.Name.Local + "/> is not a stanza"}
	}
	from, err := jid.Parse(st.Get("from"))
	if err != nil || from.Domain() != r.comp.Domain {
		return &stream.Error{Condition: stream.InvalidFrom, Text: "a component sends from its own domain, " + r.comp.Domain}
	}
	if st.Get("to") == "" {
		return &stream.Error{Condition: stream.ImproperAddressing, Text: "a stanza from a component needs a 'to'"}
	}
	toClient(st)
	r.l.opts.Router.Route(ctx, st)
	return nil
}

// toClient renames the component namespace to jabber:client, the
// namespace of every stanza inside the server.
func toClient(e *stanza.Element) {
	if e.Name.Space == NS {
		e.Name.Space = stanza.NSClient
	}
	for i := range e.Children {
		if ch := e.Children[i].Elem; ch != nil {
			toClient(ch)
		}
	}
}
