package load

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
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

// XMPP over BOSH (XEP-0124, XEP-0206): a session's connection is a BOSH
// session, whose requests are HTTP POSTs of <body/> wrappers numbered by
// 'rid'. The first request creates the session (wait, hold=1, ver), the
// stream restart after SASL is a request with xmpp:restart='true', the
// end one of type 'terminate'. One request is kept held at the server so
// that stanzas arrive without polling; what the session writes goes in a
// second request (the server then answers the held one), and what is
// written while both are out waits for the next answer and goes in one
// request. Each request goes out once the previous one has been
// written, so that they reach the server in 'rid' order, and during the
// login no request is held (each step's request brings its answer). The
// answers' payloads are read in 'rid' order as elements, with no stream
// to decode. A failed request ends the session: the load
// tool counts it as an error rather than resending (§14.3).
//
// xmpp/client has a BOSH transport too, built for one long-lived client
// (resending, polling sessions, byte-stream reads for its negotiation
// code); the generator's sessions read elements, never poll and give up
// on the first failure, which this smaller one does with a goroutine
// only per request in flight.

const (
	// boshWait is the 'wait' the generator asks for; servers may grant
	// less.
	boshWait = 60 * time.Second
	// boshSlack is how much longer than 'wait' an answer may take before
	// the request counts as failed.
	boshSlack = 20 * time.Second
	// boshMaxBody bounds one response body.
	boshMaxBody = 8 << 20
	// boshMaxQueued bounds the bytes written and not yet sent; Write
	// waits beyond it.
	boshMaxQueued = 1 << 20
	// boshMaxUnread bounds the elements received and not yet read:
	// beyond it no empty request fetches more until they are read.
	boshMaxUnread = 4096
)

// BOSHError is the condition a server terminated a BOSH session with
// (XEP-0124 §17.2), or an HTTP error status of one of its requests.
type BOSHError struct {
	Condition string
}

// Error implements error.
func (e *BOSHError) Error() string {
	return "load: the server terminated the BOSH session: " + e.Condition
}

// checkBOSHURL accepts http:// and https:// URLs.
func checkBOSHURL(raw string) (*url.URL, error) {
	return checkURL(raw, "BOSH", "http", "https")
}

// boshConn is one BOSH session. It is a net.Conn so that Session keeps
// one connection field: Write queues one element (the session's writes
// are whole elements), Close terminates the session; elements are read
// with next, not Read.
type boshConn struct {
	url string
	to  string
	h   *boshHTTP
	// ctx ends with Close: requests in flight stop.
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	changed  chan struct{} // closed and replaced at every change below
	sid      string
	rid      uint64 // the next request's
	next     uint64 // the rid whose answer is delivered next
	requests int    // requests the server allows out at once
	wait     time.Duration
	inflight int
	// held says a request is to be kept held at the server (after the
	// login); readers counts those waiting in nextElement. With neither,
	// no empty request goes out: during the login every request is
	// answered with what the next step needs, and an empty request
	// racing the restart request left ejabberd answering neither.
	held    bool
	readers int
	restart bool // a stream restart is to go out
	// wrote is closed once the last request sent has been written out:
	// the next one waits for it, so that requests reach the server in
	// rid order (ejabberd 23.01 answered neither of two that crossed).
	wrote    chan struct{}
	out      [][]byte // elements written, not sent yet
	outBytes int
	answers  map[uint64]boshAnswer // answered, not yet delivered
	in       []*stanza.Element     // delivered, not read yet
	err      error                 // the session ended
	ended    bool                  // Close ran
	rdead    time.Time
	wdead    time.Time
	timers   []*time.Timer
}

// boshAnswer is the outcome of one request.
type boshAnswer struct {
	body *stanza.Element
	err  error
}

// dialBOSH prepares BOSH session idx with d.BOSH, from source address
// d.Sources.For(idx); the session is created by the first stream
// (re)start (open).
func (d *Dialer) dialBOSH(idx int) (*boshConn, error) {
	u, err := checkBOSHURL(d.BOSH)
	if err != nil {
		return nil, err
	}
	var rb [8]byte
	if _, err := crand.Read(rb[:]); err != nil {
		return nil, fmt.Errorf("load: BOSH rid: %w", err)
	}
	c := &boshConn{
		url: d.BOSH,
		to:  d.Domain,
		h:   d.newBOSHHTTP(idx, u),
		// XEP-0124 §14.1: large and random, far below 2^53.
		rid:     binary.BigEndian.Uint64(rb[:])>>16 | 1,
		answers: map[uint64]boshAnswer{},
		changed: make(chan struct{}),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c, nil
}

// The bodies are written out by hand rather than serialised from
// elements: servers match the XEP-0206 attributes by their usual prefix
// (xmpp:version, xmpp:restart), which a serialiser would choose for
// itself.

// bodyStart is the start of every request's <body/>.
const bodyStart = "<body xmlns='" + xbosh.NSHTTPBind + "' xmlns:xmpp='" + xbosh.NSXBOSH + "' rid='"

// createBody is the session creation request (XEP-0124 §7.1, XEP-0206
// §5).
func (c *boshConn) createBody() []byte {
	b := strconv.AppendUint([]byte(bodyStart), c.rid, 10)
	b = append(b, "' to='"...)
	b = appendEscaped(b, c.to)
	b = append(b, "' content='text/xml; charset=utf-8' hold='1' ver='"+xbosh.Version+"' wait='"...)
	b = strconv.AppendInt(b, int64(boshWait/time.Second), 10)
	return append(b, "' xml:lang='en' xmpp:version='1.0'/>"...)
}

// Kinds of request besides the plain one.
const (
	boshPlain = iota
	boshRestart
	boshTerminate
)

// body is a request of the session with rid, of a kind (boshPlain,
// boshRestart, boshTerminate), carrying payloads.
func (c *boshConn) body(rid uint64, kind int, payloads [][]byte) []byte {
	b := strconv.AppendUint([]byte(bodyStart), rid, 10)
	b = append(b, "' sid='"...)
	b = appendEscaped(b, c.sid)
	switch kind {
	case boshRestart:
		b = append(b, "' to='"...)
		b = appendEscaped(b, c.to)
		b = append(b, "' xml:lang='en' xmpp:restart='true"...)
	case boshTerminate:
		b = append(b, "' type='terminate"...)
	}
	if len(payloads) == 0 {
		return append(b, "'/>"...)
	}
	b = append(b, "'>"...)
	for _, p := range payloads {
		b = append(b, p...)
	}
	return append(b, "</body>"...)
}

// open creates the session or, once it exists, restarts the stream
// (XEP-0206 §5): either way the stream features follow among the
// elements read.
func (c *boshConn) open(ctx context.Context) error {
	c.mu.Lock()
	if c.sid != "" {
		c.restart = true
		c.flushLocked()
		err := c.err
		c.mu.Unlock()
		return err
	}
	rid := c.rid
	req := c.createBody()
	c.mu.Unlock()
	resp := c.post(ctx, req, boshWait+boshSlack)
	if resp.err != nil {
		return fmt.Errorf("creating the BOSH session: %w", resp.err)
	}
	b := resp.body
	sid := b.Get("sid")
	if sid == "" {
		return errors.New("creating the BOSH session: the response has no sid")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sid, c.rid, c.next = sid, rid+1, rid+1
	c.wait = boshWait
	if w, err := strconv.Atoi(b.Get("wait")); err == nil && w > 0 && time.Duration(w)*time.Second < c.wait {
		c.wait = time.Duration(w) * time.Second
	}
	hold, err := strconv.Atoi(b.Get("hold"))
	if err != nil || hold < 1 {
		hold = 1
	}
	c.requests = hold + 1
	if r, err := strconv.Atoi(b.Get("requests")); err == nil && r > 0 {
		c.requests = r
	}
	c.deliverLocked(b)
	c.flushLocked()
	return c.err
}

// flushLocked sends what is due while the server allows more requests
// out: a stream restart, the elements written, or, when no request is
// out, the unread elements are few and the session is logged in or a
// reader waits, an empty one to be held.
func (c *boshConn) flushLocked() {
	if c.err != nil || c.ended || c.sid == "" {
		return
	}
	for c.inflight < c.requests {
		switch {
		case c.restart:
			c.restart = false
			c.sendLocked(boshRestart, nil)
		case len(c.out) > 0:
			out := c.out
			c.out, c.outBytes = nil, 0
			c.sendLocked(boshPlain, out)
		case c.inflight == 0 && len(c.in) < boshMaxUnread && (c.held || c.readers > 0 && len(c.in) == 0):
			c.sendLocked(boshPlain, nil)
		default:
			return
		}
	}
}

// sendLocked sends the next request in a goroutine of its own, which
// hands its answer to answered.
func (c *boshConn) sendLocked(kind int, payloads [][]byte) {
	rid := c.rid
	c.rid++
	c.inflight++
	b := c.body(rid, kind, payloads)
	timeout := c.wait + boshSlack
	prev, wrote := c.wrote, make(chan struct{})
	c.wrote = wrote
	go func() {
		c.answered(rid, c.postAfter(prev, wrote, b, timeout))
	}()
	c.broadcastLocked()
}

// answered records the answer to request rid, delivers the answers now
// in order, and sends what is due.
func (c *boshConn) answered(rid uint64, a boshAnswer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inflight--
	c.answers[rid] = a
	for {
		a, ok := c.answers[c.next]
		if !ok {
			break
		}
		delete(c.answers, c.next)
		c.next++
		if c.err != nil {
			continue
		}
		if a.err != nil {
			c.err = a.err
			continue
		}
		c.deliverLocked(a.body)
	}
	c.flushLocked()
	c.broadcastLocked()
}

// deliverLocked queues the payloads of a response for reading; a
// terminating response ends the session.
func (c *boshConn) deliverLocked(b *stanza.Element) {
	for _, el := range b.Elements() {
		if el.Name.Space == xbosh.NSHTTPBind {
			// An unqualified payload: it is jabber:client's (XEP-0206 §8).
			q, err := stream.ParseElement(stream.WithDefaultNS(el.AppendXML(nil, xbosh.NSHTTPBind), stanza.NSClient), stream.Limits{MaxStanzaBytes: boshMaxBody})
			if err != nil {
				c.err = fmt.Errorf("BOSH payload <%s/>: %w", el.Name.Local, err)
				return
			}
			el = q
		}
		c.in = append(c.in, el)
	}
	if b.Get("type") == "terminate" && c.err == nil {
		cond := b.Get("condition")
		if cond == "" {
			cond = "terminate without a condition"
		}
		c.err = &BOSHError{Condition: cond}
	}
}

// postAfter posts b once the previous request (prev, nil for none) has
// been written out, and closes wrote once b has.
func (c *boshConn) postAfter(prev, wrote chan struct{}, b []byte, timeout time.Duration) boshAnswer {
	var once sync.Once
	done := func() { once.Do(func() { close(wrote) }) }
	defer done()
	if prev != nil {
		select {
		case <-prev:
		case <-c.ctx.Done():
			return boshAnswer{err: fmt.Errorf("BOSH request: %w", c.ctx.Err())}
		}
	}
	return c.postWrote(c.ctx, b, timeout, done)
}

// post sends one request and parses the <body/> it is answered with.
func (c *boshConn) post(ctx context.Context, b []byte, timeout time.Duration) boshAnswer {
	return c.postWrote(ctx, b, timeout, nil)
}

// postWrote is post, calling wrote (if not nil) once the request is
// written.
func (c *boshConn) postWrote(ctx context.Context, b []byte, timeout time.Duration, wrote func()) boshAnswer {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	status, data, err := c.h.do(ctx, b, boshMaxBody, wrote)
	if err != nil {
		return boshAnswer{err: fmt.Errorf("BOSH request: %w", err)}
	}
	if status != http.StatusOK {
		return boshAnswer{err: &BOSHError{Condition: "HTTP " + strconv.Itoa(status) + " " + http.StatusText(status)}}
	}
	if len(data) > boshMaxBody {
		return boshAnswer{err: fmt.Errorf("BOSH response larger than %d bytes", boshMaxBody)}
	}
	el, err := stream.ParseElement(data, stream.Limits{MaxStanzaBytes: boshMaxBody})
	if err != nil {
		return boshAnswer{err: fmt.Errorf("BOSH response: %w", err)}
	}
	if el.Name.Space != xbosh.NSHTTPBind || el.Name.Local != "body" {
		return boshAnswer{err: fmt.Errorf("BOSH response <%s xmlns='%s'>, not a <body/>", el.Name.Local, el.Name.Space)}
	}
	return boshAnswer{body: el}
}

// nextElement returns the next element received, waiting for one until
// the read deadline.
func (c *boshConn) nextElement() (*stanza.Element, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		if len(c.in) > 0 {
			el := c.in[0]
			c.in[0] = nil
			c.in = c.in[1:]
			if len(c.in) == 0 {
				c.in = nil // let the backing array go
			}
			c.flushLocked()
			return el, nil
		}
		if c.err != nil {
			return nil, c.err
		}
		if c.ended {
			return nil, net.ErrClosed
		}
		if !c.rdead.IsZero() && !time.Now().Before(c.rdead) {
			return nil, os.ErrDeadlineExceeded
		}
		c.readers++
		c.flushLocked()
		ch := c.changed
		c.mu.Unlock()
		<-ch
		c.mu.Lock()
		c.readers--
	}
}

// hold keeps a request held at the server from now on, so that what
// the server sends arrives without delay.
func (c *boshConn) hold() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.held = true
	c.flushLocked()
}

// Write queues p, one element, for the next request.
func (c *boshConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.outBytes > 0 && c.outBytes+len(p) > boshMaxQueued {
		switch {
		case c.err != nil:
			return 0, c.err
		case c.ended:
			return 0, net.ErrClosed
		case !c.wdead.IsZero() && !time.Now().Before(c.wdead):
			return 0, os.ErrDeadlineExceeded
		}
		ch := c.changed
		c.mu.Unlock()
		<-ch
		c.mu.Lock()
	}
	if c.err != nil {
		return 0, c.err
	}
	if c.ended {
		return 0, net.ErrClosed
	}
	c.out = append(c.out, bytes.Clone(p))
	c.outBytes += len(p)
	c.flushLocked()
	return len(p), nil
}

// Read is not how a BOSH session is read (see nextElement).
func (c *boshConn) Read([]byte) (int, error) {
	return 0, errors.New("load: a BOSH session is read by element")
}

// Close terminates the session (XEP-0124 §13; one request more than
// 'requests' is allowed for it), waiting at most a second for the
// answer, and stops the requests still out.
func (c *boshConn) Close() error {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return nil
	}
	c.ended = true
	var term []byte
	prev := c.wrote
	if c.sid != "" && c.err == nil {
		term = c.body(c.rid, boshTerminate, c.out)
		c.rid++
		c.out, c.outBytes = nil, 0
	}
	for _, t := range c.timers {
		t.Stop()
	}
	c.broadcastLocked()
	c.mu.Unlock()
	if term != nil {
		if prev != nil {
			select {
			case <-prev:
			case <-time.After(time.Second):
			}
		}
		c.post(c.ctx, term, time.Second)
	}
	c.cancel()
	c.h.close()
	return nil
}

// broadcastLocked wakes everyone waiting for a change.
func (c *boshConn) broadcastLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// setDeadlines sets the read and/or write deadline, with a timer that
// wakes the waiting when it passes.
func (c *boshConn) setDeadlines(t time.Time, read, write bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if read {
		c.rdead = t
	}
	if write {
		c.wdead = t
	}
	for _, old := range c.timers {
		old.Stop()
	}
	c.timers = c.timers[:0]
	c.broadcastLocked()
	if !t.IsZero() && !c.ended {
		c.timers = append(c.timers, time.AfterFunc(time.Until(t), func() {
			c.mu.Lock()
			c.broadcastLocked()
			c.mu.Unlock()
		}))
	}
}

// SetDeadline bounds the waits of nextElement and Write.
func (c *boshConn) SetDeadline(t time.Time) error { c.setDeadlines(t, true, true); return nil }

// SetReadDeadline bounds the waits of nextElement.
func (c *boshConn) SetReadDeadline(t time.Time) error { c.setDeadlines(t, true, false); return nil }

// SetWriteDeadline bounds the waits of Write.
func (c *boshConn) SetWriteDeadline(t time.Time) error { c.setDeadlines(t, false, true); return nil }

// LocalAddr implements net.Conn; a session has no one local address.
func (c *boshConn) LocalAddr() net.Addr { return boshAddr(c.url) }

// RemoteAddr implements net.Conn: the endpoint's URL.
func (c *boshConn) RemoteAddr() net.Addr { return boshAddr(c.url) }

// boshAddr is a BOSH endpoint as a net.Addr.
type boshAddr string

// Network implements net.Addr.
func (boshAddr) Network() string { return "bosh" }

// String implements net.Addr.
func (a boshAddr) String() string { return string(a) }
