package client

// The BOSH transport (XEP-0124, with XEP-0206 for XMPP): a net.Conn whose
// bytes travel in HTTP requests, so the negotiation code runs over it
// unchanged. The stream header the client writes creates the session (or,
// later, restarts the stream with xmpp:restart='true'); elements go out
// as the payloads of <body/> wrappers; the closing tag terminates the
// session. What the server answers is read back as a stream: a header
// made from the creation response (and at each restart), then the
// payloads of the responses in 'rid' order.
//
// One request is kept held at the server (hold=1) so that stanzas arrive
// without polling; what the client writes meanwhile goes in a second
// request (requests=2), which makes the server answer the held one. A
// request whose connection fails is sent again with the same 'rid'
// (§14.3); a server that grants no held request (hold or wait 0) is
// polled no more often than its 'polling' interval (§12). A terminating
// response with a condition ends the stream with a *BOSHError.

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"

	xbosh "github.com/parley-xmpp/parley/xmpp/bosh"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

const (
	// defaultBOSHWait is the 'wait' asked for when Config.BOSHWait is 0.
	defaultBOSHWait = 60 * time.Second
	// boshRetries is how often a request whose connection failed is sent
	// again before the session is given up.
	boshRetries = 3
	// boshSlack is how much longer than 'wait' a response may take before
	// the request counts as lost.
	boshSlack = 20 * time.Second
	// boshMaxQueued bounds the bytes written and not yet sent; Write
	// waits beyond it.
	boshMaxQueued = 1 << 20
	// boshMaxUnread bounds the bytes received and not yet read: beyond
	// it no new empty request fetches more until Read takes some.
	boshMaxUnread = 1 << 20
)

// BOSHError is a terminal binding condition (XEP-0124 §17.2) the server
// ended the BOSH session with, e.g. "item-not-found" for a session it no
// longer knows (it ended for inactivity) or "policy-violation".
type BOSHError struct {
	Condition string
	// URI is the address given with "see-other-uri".
	URI string
}

// Error implements error.
func (e *BOSHError) Error() string {
	s := "client: the server terminated the BOSH session: " + e.Condition
	if e.URI != "" {
		s += " (" + e.URI + ")"
	}
	return s
}

// dialBOSH prepares a BOSH session with the endpoint rawURL; the session
// is created when the negotiation writes its first stream header. It
// reports whether the channel is confidential (https, or http to a
// loopback address).
func dialBOSH(rawURL string, cfg *Config, limits stream.Limits) (net.Conn, bool, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, false, fmt.Errorf("client: %q is not an http:// or https:// URL", rawURL)
	}
	tr := &http.Transport{Proxy: http.ProxyFromEnvironment, MaxIdleConnsPerHost: 4}
	if u.Scheme == "https" {
		tc := cfg.tlsConfig(cfg.JID.Domain())
		if cfg.TLS == nil || cfg.TLS.ServerName == "" {
			tc.ServerName = u.Hostname()
		}
		tc.NextProtos = []string{"http/1.1"}
		tr.TLSClientConfig = tc
	}
	wait := cfg.BOSHWait
	if wait <= 0 {
		wait = defaultBOSHWait
	}
	var rb [8]byte
	crand.Read(rb[:])
	c := &boshConn{
		url:     rawURL,
		http:    &http.Client{Transport: tr},
		askWait: max(wait.Truncate(time.Second), time.Second),
		limits:  limits,
		remote:  dummyAddr(u.Host),
		// §14.1: large and random, far enough below 2^53 never to reach it.
		rid:     binary.BigEndian.Uint64(rb[:])>>16 | 1,
		results: map[uint64]boshResult{},
		changed: make(chan struct{}),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c, u.Scheme == "https" || isLoopback(u.Hostname()), nil
}

// isLoopback reports whether host names this machine.
func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback() || host == "localhost"
}

// boshConn is a net.Conn over a BOSH session.
type boshConn struct {
	url     string
	http    *http.Client
	askWait time.Duration
	limits  stream.Limits
	remote  net.Addr
	ctx     context.Context // ends with Close: requests in flight stop
	cancel  context.CancelFunc

	mu      sync.Mutex
	changed chan struct{} // closed, and replaced, at every change below
	closed  bool
	err     error // the session ended: nothing more is sent

	// The session, from the creation response.
	sid            string
	to, from, lang string        // of the client's stream header
	header         stream.Header // what the synthesised stream headers say
	wait, polling  time.Duration
	hold, requests int

	rid       uint64        // the next request's
	creating  bool          // the creation request went out
	out       []boshSegment // written, not sent yet
	outBytes  int
	inflight  int       // requests sent and not answered
	ended     bool      // the terminate request went out
	endRid    uint64    // its rid
	lastEmpty time.Time // when the last empty request went out (polling)
	pollTimer *time.Timer

	results map[uint64]boshResult // answered, not yet delivered in rid order
	next    uint64                // the rid whose response is delivered next
	rbuf    []byte                // delivered bytes not yet read
	rerr    error                 // returned once rbuf is drained

	rdead, wdead time.Time
}

// boshSegment is what one request carries: a stream restart or the
// session's termination, then payloads.
type boshSegment struct {
	create, restart, terminate bool
	data                       []byte
}

// boshResult is the outcome of one request.
type boshResult struct {
	header bool // a stream header precedes the payloads (creation, restart)
	body   *stanza.Element
	err    error
}

// broadcastLocked wakes everyone waiting for a change.
func (c *boshConn) broadcastLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// Write translates what the client writes: a stream header creates the
// session or restarts the stream, the closing tag terminates the session,
// elements are queued as payloads of the next request.
func (c *boshConn) Write(p []byte) (int, error) {
	items, err := splitWrite(p)
	if err != nil {
		return 0, fmt.Errorf("client: BOSH: %w", err)
	}
	var segs []boshSegment
	size := 0
	for _, it := range items {
		switch {
		case it.header != nil:
			c.mu.Lock()
			create := !c.creating && c.sid == ""
			if create {
				c.to, c.from, c.lang = it.header.To, it.header.From, it.header.Lang
			}
			c.mu.Unlock()
			segs = append(segs, boshSegment{create: create, restart: !create})
		case it.close:
			segs = append(segs, boshSegment{terminate: true})
		default:
			if len(segs) == 0 || segs[len(segs)-1].create {
				segs = append(segs, boshSegment{})
			}
			segs[len(segs)-1].data = append(segs[len(segs)-1].data, it.el...)
			size += len(it.el)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		if err := c.usableLocked(); err != nil {
			return 0, err
		}
		if c.outBytes == 0 || c.outBytes+size <= boshMaxQueued {
			break
		}
		if err := c.waitLocked(c.wdead); err != nil {
			return 0, err
		}
	}
	for _, s := range segs {
		if n := len(c.out); n > 0 && !s.create && !s.restart && !s.terminate && !c.out[n-1].create && !c.out[n-1].terminate {
			c.out[n-1].data = append(c.out[n-1].data, s.data...)
		} else {
			c.out = append(c.out, s)
		}
	}
	c.outBytes += size
	c.kickLocked()
	return len(p), nil
}

// usableLocked returns why nothing more can be written, if so.
func (c *boshConn) usableLocked() error {
	switch {
	case c.closed:
		return net.ErrClosed
	case c.err != nil:
		return c.err
	case c.ended:
		return errors.New("client: BOSH: the session was terminated")
	}
	return nil
}

// waitLocked waits, without the lock, for a change or the deadline.
func (c *boshConn) waitLocked(deadline time.Time) error {
	ch := c.changed
	var expire <-chan time.Time
	if !deadline.IsZero() {
		d := time.Until(deadline)
		if d <= 0 {
			return os.ErrDeadlineExceeded
		}
		t := time.NewTimer(d)
		defer t.Stop()
		expire = t.C
	}
	c.mu.Unlock()
	defer c.mu.Lock()
	select {
	case <-ch:
		return nil
	case <-expire:
		return os.ErrDeadlineExceeded
	}
}

// kickLocked sends the requests due: the creation request, then (once
// the session exists) what is queued, within 'requests' at a time, and
// an empty request whenever none is held at the server.
func (c *boshConn) kickLocked() {
	if c.closed || c.err != nil || c.ended {
		return
	}
	if c.sid == "" {
		if !c.creating && len(c.out) > 0 && c.out[0].create {
			s := c.out[0]
			c.out = c.out[1:]
			c.outBytes -= len(s.data)
			c.creating = true
			c.send(c.createBody(), true, c.askWait)
		}
		return
	}
	for len(c.out) > 0 {
		s := c.out[0]
		// §11: one more request than 'requests' may terminate.
		if c.inflight >= c.requests && !(s.terminate && c.inflight == c.requests) {
			return
		}
		c.out = c.out[1:]
		c.outBytes -= len(s.data)
		el := stanza.New(xbosh.NSHTTPBind, "body")
		switch {
		case s.restart:
			el.Set("to", c.to).SetNS(xbosh.NSXBOSH, "restart", "true")
			if c.lang != "" {
				el.SetNS(stanza.NSXML, "lang", c.lang)
			}
		case s.terminate:
			el.Set("type", "terminate")
			c.ended, c.endRid = true, c.rid
		}
		c.send(c.body(el, s.data), s.restart, c.wait)
		if s.terminate {
			return
		}
	}
	if c.inflight > 0 || len(c.rbuf) >= boshMaxUnread {
		return
	}
	if c.hold > 0 && c.wait > 0 {
		c.send(c.body(stanza.New(xbosh.NSHTTPBind, "body"), nil), false, c.wait)
		return
	}
	// A polling session (§12): empty requests no more often than allowed
	// (with a margin: the server measures arrivals).
	if d := time.Until(c.lastEmpty.Add(c.polling + c.polling/10)); d > 0 {
		if c.pollTimer == nil {
			c.pollTimer = time.AfterFunc(d, func() {
				c.mu.Lock()
				c.pollTimer = nil
				c.kickLocked()
				c.mu.Unlock()
			})
		}
		return
	}
	c.lastEmpty = time.Now()
	c.send(c.body(stanza.New(xbosh.NSHTTPBind, "body"), nil), false, c.wait)
}

// createBody is the session creation request (XEP-0124 §7.1, XEP-0206
// §3).
func (c *boshConn) createBody() []byte {
	el := stanza.New(xbosh.NSHTTPBind, "body", "content", "text/xml; charset=utf-8", "hold", "1",
		"rid", strconv.FormatUint(c.rid, 10), "to", c.to, "ver", xbosh.Version,
		"wait", strconv.Itoa(int(c.askWait/time.Second)))
	el.SetNS(xbosh.NSXBOSH, "version", "1.0")
	if c.lang != "" {
		el.SetNS(stanza.NSXML, "lang", c.lang)
	}
	if c.from != "" {
		el.Set("from", c.from)
	}
	return el.AppendXML(nil, "")
}

// body returns a request of the session: el, a <body/> whose rid and sid
// it sets, wrapping payload.
func (c *boshConn) body(el *stanza.Element, payload []byte) []byte {
	el.Set("rid", strconv.FormatUint(c.rid, 10)).Set("sid", c.sid)
	b := el.AppendXML(nil, "")
	if len(payload) == 0 {
		return b
	}
	b = append(b[:len(b)-len("/>")], '>')
	b = append(b, payload...)
	return append(b, "</body>"...)
}

// send posts body as the request of the next rid, in its own goroutine.
func (c *boshConn) send(body []byte, header bool, wait time.Duration) {
	rid := c.rid
	c.rid++
	c.inflight++
	go c.do(rid, body, header, wait)
}

// do posts one request until it gets an answer, sending it again with
// the same rid when its connection fails (§14.3) or the server answers
// with a recoverable binding condition (§17.3), and hands the answer
// over in rid order.
func (c *boshConn) do(rid uint64, body []byte, header bool, wait time.Duration) {
	var res boshResult
	for attempt := 0; ; attempt++ {
		res = c.post(body, wait)
		if c.ctx.Err() != nil {
			return
		}
		recoverable := res.err == nil && res.body.Get("type") == "error"
		if res.err == nil && !recoverable {
			break
		}
		if attempt == boshRetries || permanent(res.err) {
			if recoverable {
				res.err = errors.New("the server kept answering with a recoverable error")
			}
			res = boshResult{err: fmt.Errorf("client: BOSH request rid %d: %w", rid, res.err)}
			break
		}
		select {
		case <-time.After(time.Duration(250<<attempt) * time.Millisecond):
		case <-c.ctx.Done():
			return
		}
	}
	res.header = header
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inflight--
	c.results[rid] = res
	if c.next == 0 {
		c.next = rid // the creation request's
	}
	c.deliverLocked()
	c.kickLocked()
	c.broadcastLocked()
}

// permanent reports whether err is one that sending the request again
// cannot mend: the server's certificate is not trusted, or it does not
// speak TLS.
func permanent(err error) bool {
	var cv *tls.CertificateVerificationError
	var rh tls.RecordHeaderError
	return errors.As(err, &cv) || errors.As(err, &rh)
}

// post sends one request and parses the response's <body/>.
func (c *boshConn) post(body []byte, wait time.Duration) boshResult {
	ctx, cancel := context.WithTimeout(c.ctx, wait+boshSlack)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return boshResult{err: err}
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	resp, err := c.http.Do(req)
	if err != nil {
		return boshResult{err: err}
	}
	defer resp.Body.Close()
	lim := c.limits
	lim.MaxStanzaBytes += 4096 // the wrapper
	lim.MaxDepth++
	b, err := io.ReadAll(io.LimitReader(resp.Body, int64(lim.MaxStanzaBytes)+1))
	if err != nil {
		return boshResult{err: err}
	}
	if resp.StatusCode != http.StatusOK {
		// §17.1: the deprecated HTTP conditions.
		cond := map[int]string{http.StatusBadRequest: "bad-request", http.StatusForbidden: "policy-violation", http.StatusNotFound: "item-not-found"}[resp.StatusCode]
		if cond == "" {
			return boshResult{err: fmt.Errorf("HTTP status %s", resp.Status)}
		}
		return boshResult{body: stanza.New(xbosh.NSHTTPBind, "body", "type", "terminate", "condition", cond)}
	}
	if len(b) > lim.MaxStanzaBytes {
		return boshResult{err: fmt.Errorf("a response of more than %d bytes", lim.MaxStanzaBytes)}
	}
	el, err := stream.ParseElement(b, lim)
	if err != nil {
		return boshResult{err: fmt.Errorf("the response: %w", err)}
	}
	if el.Name.Space != xbosh.NSHTTPBind || el.Name.Local != "body" {
		return boshResult{err: fmt.Errorf("the response is <%s xmlns='%s'>, not a BOSH <body/>", el.Name.Local, el.Name.Space)}
	}
	return boshResult{body: el}
}

// deliverLocked makes the responses that are next in rid order readable.
func (c *boshConn) deliverLocked() {
	for c.err == nil {
		rid := c.next
		res, ok := c.results[rid]
		if !ok {
			return
		}
		delete(c.results, rid)
		c.next++
		if res.err != nil {
			c.failLocked(res.err)
			return
		}
		body := res.body
		terminate := body.Get("type") == "terminate"
		if c.sid == "" && !terminate {
			if err := c.establishLocked(body); err != nil {
				c.failLocked(err)
				return
			}
		}
		if res.header && (!terminate || len(body.Elements()) > 0) {
			c.rbuf = stream.AppendHeader(c.rbuf, c.header)
		}
		for _, el := range body.Elements() {
			c.rbuf = el.AppendXML(c.rbuf, stanza.NSClient)
		}
		switch {
		case terminate:
			var err error = io.EOF
			if cond := body.Get("condition"); cond != "" && cond != "remote-stream-error" {
				err = &BOSHError{Condition: cond, URI: body.ChildText(xbosh.NSHTTPBind, "uri")}
			} else {
				c.rbuf = append(c.rbuf, stream.Close...)
			}
			c.failLocked(err)
		case c.ended && rid == c.endRid:
			// The answer to our terminate request: the session is over
			// even if the server acknowledges it elsewhere (§13).
			c.rbuf = append(c.rbuf, stream.Close...)
			c.failLocked(io.EOF)
		}
	}
}

// establishLocked records the session the creation response describes.
func (c *boshConn) establishLocked(body *stanza.Element) error {
	c.sid = body.Get("sid")
	if c.sid == "" {
		return errors.New("client: BOSH: the session creation response has no sid")
	}
	num := func(name string, def int) int {
		if v, err := strconv.Atoi(body.Get(name)); err == nil && v >= 0 {
			return v
		}
		return def
	}
	c.wait = time.Duration(num("wait", int(c.askWait/time.Second))) * time.Second
	c.hold = min(num("hold", 1), 1)
	c.requests = max(num("requests", c.hold+1), 1)
	c.polling = time.Duration(num("polling", 0)) * time.Second
	c.header = stream.Header{From: body.Get("from"), ID: body.Get("authid"), Version: attrValue(body, xbosh.NSXBOSH, "version"), ContentNS: stanza.NSClient}
	if c.header.From == "" {
		c.header.From = c.to
	}
	return nil
}

// failLocked ends the session with err, read after what was delivered.
func (c *boshConn) failLocked(err error) {
	if c.err == nil {
		c.err = err
		c.rerr = err
		if c.pollTimer != nil {
			c.pollTimer.Stop()
		}
	}
}

// Read returns what the server sent, as a stream.
func (c *boshConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.rbuf) == 0 {
		switch {
		case c.closed:
			return 0, net.ErrClosed
		case c.rerr != nil:
			return 0, c.rerr
		}
		if err := c.waitLocked(c.rdead); err != nil {
			return 0, err
		}
	}
	full := len(c.rbuf) >= boshMaxUnread
	n := copy(p, c.rbuf)
	c.rbuf = c.rbuf[n:]
	if full {
		c.kickLocked() // below the bound again: fetch more
	}
	return n, nil
}

// Close stops every request in flight without terminating the session,
// as a lost network would; the closing tag written before terminates it.
func (c *boshConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	c.cancel()
	if c.pollTimer != nil {
		c.pollTimer.Stop()
	}
	c.broadcastLocked()
	c.http.CloseIdleConnections()
	return nil
}

func (c *boshConn) LocalAddr() net.Addr  { return dummyAddr("bosh") }
func (c *boshConn) RemoteAddr() net.Addr { return c.remote }

// SetDeadline sets both deadlines.
func (c *boshConn) SetDeadline(t time.Time) error {
	c.SetReadDeadline(t)
	return c.SetWriteDeadline(t)
}

// SetReadDeadline bounds Read; the session is not affected.
func (c *boshConn) SetReadDeadline(t time.Time) error { return c.setDeadline(&c.rdead, t) }

// SetWriteDeadline bounds a Write waiting for room in the queue.
func (c *boshConn) SetWriteDeadline(t time.Time) error { return c.setDeadline(&c.wdead, t) }

func (c *boshConn) setDeadline(d *time.Time, t time.Time) error {
	c.mu.Lock()
	*d = t
	c.broadcastLocked()
	c.mu.Unlock()
	return nil
}

// attrValue returns the value of el's attribute {space}local, or "".
func attrValue(el *stanza.Element, space, local string) string {
	for _, a := range el.Attr {
		if a.Name.Space == space && a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}
