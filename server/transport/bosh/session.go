package bosh

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/parley-xmpp/parley/server/stream"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	xstream "github.com/parley-xmpp/parley/xmpp/stream"
)

// closeMark is what AppendClose appends: Write sees it at the end of the
// bytes that close the stream (the engine never writes a NUL).
const closeMark = "\x00"

// input is one item for the engine's reader.
type input struct {
	el     *stanza.Element
	header bool  // a stream (re)start
	eof    bool  // the client terminated the session
	err    error // the session was lost
	size   int
}

// pending is one request of a session: ahead of a gap in the 'rid'
// sequence, or processed and held until there is something to answer.
type pending struct {
	rid     uint64
	body    *stanza.Element
	create  bool
	final   bool // a terminate request: held until the session ends (§13)
	arrived time.Time
	rs      responder   // its response goes there, once
	sent    bool        // the response went
	timer   *time.Timer // 'wait' (arm)
}

// send answers p, once. Under the session's lock.
func (p *pending) send(b []byte) {
	if p.sent {
		return
	}
	p.sent = true
	if p.timer != nil {
		p.timer.Stop()
	}
	p.rs.deliver(b)
}

// lastRequest is what the polling rules (§11, §12) remember of the last
// new request processed.
type lastRequest struct {
	rid      uint64
	arrived  time.Time
	empty    bool // no payload, pause, restart or terminate
	answered bool
	payload  bool // its response carried payloads
}

// session is one BOSH session: a stream.Transport of the engine.
type session struct {
	h              *Handler
	sid            string
	wait           time.Duration
	hold, requests int
	legacy, acks   bool
	ver            string // the protocol version in use: the lower of the client\'s and Version
	secure         bool
	overTLS        bool // its creation request came over TLS (for see-other-uri)
	remote         string
	header         xstream.Header
	events         stream.Reader
	start          time.Time
	bound          bool
	done           chan struct{} // closed when the session ends
	inReady        chan struct{} // signalled when input arrives
	mu             sync.Mutex
	lastRid        uint64              // the highest rid processed, all lower ones too
	ahead          map[uint64]*pending // requests waiting for a gap to fill
	held           []*pending          // processed requests waiting for output, oldest first
	responses      map[uint64][]byte   // the last responses by rid, for retransmission
	in             []input
	inBytes        int
	out            [][]byte
	outBytes       int
	drained        chan struct{} // closed, and replaced, when output is taken
	closing        bool          // the engine closed the stream: the next response terminates
	ended          bool          // no more input: closed, or lost
	gone           bool          // forgotten by the handler
	deadline       time.Time
	streamID, from string
	inactivity     time.Duration // the next idle period's bound (a pause changes it once)
	idleGen        uint64        // invalidates inactivity timers
	lim            xstream.Limits
	idle           *time.Timer
	last           lastRequest
	resume         func()      // the parked reader's (Park), under mu
	parkTimer      *time.Timer // wakes the parked reader for its next time limit

	// Reader-owned: the stream's time limits.
	lastInput time.Time // when the reader last got input
	pinged    time.Time // when the pending idle ping went out, or zero
	woke      time.Time // when the reader last resumed after parking
	parked    bool
}

var (
	_ stream.Transport = (*session)(nil)
	_ stream.Parker    = (*session)(nil)
)

// maxInput bounds the input waiting for the engine's reader; a client
// sending faster than the engine reads is ended (policy-violation).
func (s *session) maxInput() int { return max(4*s.h.max, 1<<20) }

// maxOutput bounds the output waiting for a request; Write waits beyond.
func (s *session) maxOutput() int { return s.h.max + framing }

// request handles one request of the session (not its creation): rs
// gets its response, at once or when the request, held, is answered.
func (s *session) request(rs responder, body *stanza.Element, rid uint64) {
	s.mu.Lock()
	s.idleGen++ // a request: the inactivity timer stops
	p := &pending{rid: rid, body: body, arrived: time.Now(), rs: rs}
	reply := func(status int, b []byte) {
		s.mu.Unlock()
		rs.respond(status, b)
	}
	switch {
	case rid <= s.lastRid:
		if b, ok := s.responses[rid]; ok {
			s.flush()
			reply(http.StatusOK, b) // a retransmission (§14.3)
			return
		}
		replaced := false
		for i, q := range s.held {
			if q.rid == rid {
				// Not answered yet: the old request gets a recoverable
				// error, this one takes its place (§14.3).
				q.send([]byte(`<body xmlns="` + NSHTTPBind + `" type="error"/>`))
				p.create, p.final = q.create, q.final
				s.held[i] = p
				replaced = true
			}
		}
		if !replaced {
			reply(s.failLocked("item-not-found"))
			return
		}
	case rid > s.lastRid+uint64(s.requests):
		reply(s.failLocked("item-not-found")) // outside the window (§14.2)
		return
	case rid > s.lastRid+1:
		if q := s.ahead[rid]; q != nil {
			q.send([]byte(`<body xmlns="` + NSHTTPBind + `" type="error"/>`))
		}
		s.ahead[rid] = p
	default:
		if st, b, failed := s.process(p); failed {
			reply(st, b)
			return
		}
		for q := s.ahead[s.lastRid+1]; q != nil; q = s.ahead[s.lastRid+1] {
			delete(s.ahead, q.rid)
			if st, b, failed := s.process(q); failed {
				q.send(b) // its request awaits it
				reply(st, b)
				return
			}
		}
	}
	s.arm(p)
	s.flush()
	s.mu.Unlock()
	rs.wait()
}

// process takes in a request whose turn it is: its payloads go to the
// engine's reader and it is held. failed reports that the session ended.
func (s *session) process(p *pending) (status int, resp []byte, failed bool) {
	s.lastRid = p.rid
	body := p.body
	p.body = nil
	if s.overactive(p, body) {
		// Not the sid: with the next rid it is all it takes to act as
		// the session (XEP-0124 §14), so it stays out of the log.
		s.h.opts.Log.Info("bosh: empty requests more frequent than the polling interval", "remote", s.remote)
		st, b := s.failLocked("policy-violation")
		return st, b, true
	}
	if !s.ended {
		if attrNS(body, NSXBOSH, "restart") == "true" {
			s.push(input{header: true})
		}
		for _, el := range body.Elements() {
			size := len(el.Bytes())
			if s.inBytes+size > s.maxInput() {
				st, b := s.failLocked("policy-violation")
				return st, b, true
			}
			s.push(input{el: el, size: size})
		}
		if body.Get("type") == "terminate" {
			s.push(input{eof: true})
			p.final = true // it carries the acknowledgement (§13)
		}
	}
	s.held = append(s.held, p)
	if v, err := strconv.Atoi(body.Get("pause")); err == nil && v > 0 {
		// A pause (§10): every held request is answered now, and the
		// session lives for the pause without a request.
		s.inactivity = min(time.Duration(v)*time.Second, MaxPause)
		for len(s.held) > 0 {
			s.answer(s.held[0], nil, false)
		}
	}
	return 0, nil, false
}

// overactive reports whether p, the next new request, breaks the polling
// rules: it is empty and arrives less than 'polling' after the previous
// request, which (§11) is still unanswered, so that with it all of the
// 'requests' allowed are waiting; or (§12, a polling session: hold or
// wait 0) was empty too and answered without payloads.
func (s *session) overactive(p *pending, body *stanza.Element) bool {
	empty := len(body.Elements()) == 0 && body.Get("pause") == "" && body.Get("type") != "terminate" &&
		attrNS(body, NSXBOSH, "restart") != "true"
	prev := s.last
	s.last = lastRequest{rid: p.rid, arrived: p.arrived, empty: empty}
	if !empty || prev.rid+1 != p.rid || p.arrived.Sub(prev.arrived) >= s.h.opts.Polling {
		return false
	}
	if s.hold == 0 || s.wait == 0 {
		return prev.empty && prev.answered && !prev.payload
	}
	return !prev.answered && len(s.held)+1 >= s.requests
}

// push hands one item to the engine's reader.
func (s *session) push(it input) {
	s.in = append(s.in, it)
	s.inBytes += it.size
	select {
	case s.inReady <- struct{}{}:
	default:
	}
	s.wakeLocked()
}

// wakeLocked resumes the parked reader, if any. Under s.mu.
func (s *session) wakeLocked() {
	r := s.resume
	if r == nil {
		return
	}
	s.resume = nil
	if s.parkTimer != nil {
		s.parkTimer.Stop()
		s.parkTimer = nil
	}
	go r()
}

// arm starts p's 'wait': a held request still unanswered then is
// answered empty. The timer runs whether or not the client is still
// there, so that when it went away the inactivity period starts. Under
// s.mu.
func (s *session) arm(p *pending) {
	if !p.sent && p.timer == nil {
		p.timer = time.AfterFunc(s.wait, func() { s.waited(p) })
	}
}

// recheck is how often a request that 'wait' does not end (the creation
// request, a terminate request, one ahead of a gap) is looked at again
// when 'wait' is shorter.
const recheck = time.Second

// waited answers p empty if it is still held: 'wait' has passed. A
// request that 'wait' does not end is looked at again later.
func (s *session) waited(p *pending) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.sent {
		return
	}
	for _, q := range s.held {
		if q != p {
			continue
		}
		if !p.create && !p.final {
			s.answer(p, nil, false)
			s.flush() // with none held, the inactivity period starts
			return
		}
		p.timer.Reset(max(s.wait, recheck))
		return
	}
	if s.ahead[p.rid] == p {
		p.timer.Reset(max(s.wait, recheck))
	}
}

// flush answers held requests: the oldest gets the output waiting, if
// any, and no more than hold stay held. With none held the inactivity
// timer runs.
func (s *session) flush() {
	for len(s.held) > 0 && (len(s.out) > 0 || s.closing || s.ended) {
		if s.held[0].final && !s.closing && !s.ended {
			// The terminate request carries the acknowledgement of the
			// end (§13): what comes before the end waits to go with it.
			// (The engine ends the stream once it reads the request's
			// end of input; a Write that finds no room waits at most
			// until its deadline.)
			break
		}
		payload := s.out
		s.out, s.outBytes = nil, 0
		close(s.drained)
		s.drained = make(chan struct{})
		s.answer(s.held[0], payload, s.closing || s.ended)
	}
	for len(s.held) > s.hold && !s.held[0].create && !s.held[0].final {
		s.answer(s.held[0], nil, false)
	}
	if len(s.held) == 0 && !s.gone {
		s.idleGen++
		gen, d := s.idleGen, s.inactivity
		s.inactivity = s.h.opts.Inactivity
		if s.idle != nil {
			s.idle.Stop()
		}
		s.idle = time.AfterFunc(d, func() { s.expire(gen) })
	}
}

// answer responds to p, the first held request, and keeps the response
// for a retransmission. A terminating response ends the session.
func (s *session) answer(p *pending, payload [][]byte, terminating bool) {
	var b bytes.Buffer
	b.WriteString(`<body xmlns="` + NSHTTPBind + `" xmlns:stream="` + stanza.NSStream + `" xmlns:xmpp="` + NSXBOSH + `"`)
	attr := func(name, value string) {
		b.WriteString(" " + name + `="`)
		b.WriteString(escape(value))
		b.WriteString(`"`)
	}
	if p.create {
		attr("sid", s.sid)
		attr("wait", strconv.Itoa(int(s.wait/time.Second)))
		attr("requests", strconv.Itoa(s.requests))
		attr("hold", strconv.Itoa(s.hold))
		attr("inactivity", strconv.Itoa(int(s.h.opts.Inactivity/time.Second)))
		attr("polling", strconv.Itoa(int(s.h.opts.Polling/time.Second)))
		attr("maxpause", strconv.Itoa(int(MaxPause/time.Second)))
		attr("ver", s.ver)
		attr("from", s.from)
		attr("authid", s.streamID)
		attr("xmpp:version", "1.0")
		attr("xmpp:restartlogic", "true")
		if s.acks {
			attr("ack", strconv.FormatUint(p.rid, 10))
		}
	} else if s.acks && p.rid < s.lastRid {
		attr("ack", strconv.FormatUint(s.lastRid, 10)) // §9.1
	}
	if terminating {
		attr("type", "terminate")
		switch {
		case s.closing && containsStreamError(payload):
			attr("condition", "remote-stream-error") // XEP-0206 §7
		case !s.closing:
			attr("condition", "remote-connection-failed")
		}
	}
	if len(payload) == 0 {
		b.WriteString("/>")
	} else {
		b.WriteString(">")
		for _, el := range payload {
			b.Write(el)
		}
		b.WriteString("</body>")
	}
	if p.rid == s.last.rid {
		s.last.answered, s.last.payload = true, len(payload) > 0
	}
	// Kept for a retransmission: the responses to the last 'requests'
	// rids, those a client may still be waiting for (§14.3), each in a
	// slice of its own size (the buffer's is up to twice that).
	resp := bytes.Clone(b.Bytes())
	s.responses[p.rid] = resp
	for rid := range s.responses {
		if rid+uint64(s.requests) <= s.lastRid {
			delete(s.responses, rid)
		}
	}
	for i, q := range s.held {
		if q == p {
			s.held = append(s.held[:i], s.held[i+1:]...)
			break
		}
	}
	if terminating {
		s.forget() // before the client can read the response and send again
	}
	p.send(resp)
}

func containsStreamError(payload [][]byte) bool {
	for _, el := range payload {
		if bytes.HasPrefix(el, []byte("<stream:error")) {
			return true
		}
	}
	return false
}

// escape escapes an attribute value.
func escape(v string) string {
	var b bytes.Buffer
	for _, r := range v {
		switch r {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '"':
			b.WriteString("&quot;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// failLocked ends the session with a terminal binding condition and
// returns the response to the request that caused it; the held requests
// get the same.
func (s *session) failLocked(condition string) (int, []byte) {
	b := terminate(condition)
	for _, p := range s.held {
		p.send(b)
	}
	for _, p := range s.ahead {
		p.send(b)
	}
	s.held, s.ahead = nil, map[uint64]*pending{}
	s.lose(fmt.Errorf("bosh: session ended with %s: %w", condition, io.ErrUnexpectedEOF))
	s.forget()
	status := http.StatusOK
	if s.legacy { // §17.1: HTTP errors only for a client without 'ver'
		switch condition {
		case "item-not-found":
			status = http.StatusNotFound
		case "bad-request":
			status = http.StatusBadRequest
		case "policy-violation":
			status = http.StatusForbidden
		}
	}
	return status, b
}

// lose ends the input with err: the engine treats the stream as a
// connection lost (a stream-managed session stays resumable).
func (s *session) lose(err error) {
	if s.ended {
		return
	}
	s.push(input{err: err})
	s.ended = true
	close(s.done)
}

// forget removes the session from the handler.
func (s *session) forget() {
	if !s.gone {
		s.gone = true
		s.h.remove(s)
	}
}

// expire ends a session that had no request for its inactivity period.
func (s *session) expire(gen uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if gen != s.idleGen || len(s.held) > 0 || s.gone {
		return
	}
	for _, p := range s.ahead {
		p.send(terminate("item-not-found"))
	}
	s.ahead = map[uint64]*pending{}
	s.lose(fmt.Errorf("bosh: no request within the inactivity period: %w", io.ErrUnexpectedEOF))
	s.forget()
}

// Open starts the stream: its header is the session creation request's.
func (s *session) Open(ctx context.Context, r stream.Reader) error {
	s.events = r
	s.start = time.Now()
	s.lastInput = s.start
	return nil
}

// read waits for the next input within the stream's time limits;
// stream.ErrPark when a bound stream has been silent for ParkAfter.
func (s *session) read() (input, error) {
	if s.parked {
		s.parked = false
		s.woke = time.Now() // the park timer counts from here
	}
	for {
		due, park := s.timers(true)
		it, ok := s.waitInput(due)
		if ok {
			s.lastInput, s.pinged = time.Now(), time.Time{}
			return it, it.err
		}
		if park {
			return input{}, stream.ErrPark
		}
		if err := s.expired(); err != nil {
			return input{}, err
		}
	}
}

// timers returns when the stream's next time limit falls due (zero:
// none): the authentication deadline before binding, then the idle
// ping's and the ping's answer's; and the park timer's, when withPark and
// it comes first.
func (s *session) timers(withPark bool) (due time.Time, park bool) {
	limits := s.h.eng.Config().Limits
	switch {
	case !s.bound:
		due = s.start.Add(limits.PreauthTimeout)
	case !s.pinged.IsZero():
		due = s.pinged.Add(limits.PingTimeout)
	case limits.IdlePing > 0:
		due = s.lastInput.Add(limits.IdlePing)
	}
	if withPark && s.bound && limits.ParkAfter > 0 {
		from := s.lastInput
		if s.woke.After(from) {
			from = s.woke
		}
		if p := from.Add(limits.ParkAfter); due.IsZero() || p.Before(due) {
			return p, true
		}
	}
	return due, false
}

// expired acts on the time limits due now: an error that ends the
// stream, or nil after sending an idle ping.
func (s *session) expired() error {
	limits := s.h.eng.Config().Limits
	now := time.Now()
	switch {
	case !s.bound:
		if !now.Before(s.start.Add(limits.PreauthTimeout)) {
			return stream.ErrAuthTimeout
		}
	case !s.pinged.IsZero():
		if !now.Before(s.pinged.Add(limits.PingTimeout)) {
			return stream.ErrIdle
		}
	case limits.IdlePing > 0 && !now.Before(s.lastInput.Add(limits.IdlePing)):
		s.pinged = now
		s.events.IdlePing()
	}
	return nil
}

// waitInput waits for one input item, or until due (zero: for ever).
func (s *session) waitInput(due time.Time) (input, bool) {
	var expire <-chan time.Time
	if !due.IsZero() {
		t := time.NewTimer(time.Until(due))
		defer t.Stop()
		expire = t.C
	}
	for {
		s.mu.Lock()
		if len(s.in) > 0 {
			it := s.in[0]
			s.in[0] = input{}
			s.in = s.in[1:]
			s.inBytes -= it.size
			if len(s.in) == 0 {
				s.in = nil // the backing array goes with the last item
			}
			s.mu.Unlock()
			return it, true
		}
		ended := s.ended
		s.mu.Unlock()
		if ended {
			return input{err: io.ErrClosedPipe}, true
		}
		select {
		case <-s.inReady:
		case <-s.done:
		case <-expire:
			return input{}, false
		}
	}
}

// Parkable implements stream.Parker: a bound stream with no input
// waiting for the reader.
func (s *session) Parkable() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bound && len(s.in) == 0 && !s.ended
}

// Park implements stream.Parker: the reader goroutine ends, and a new one
// resumes when input arrives, the session ends, or the stream's next time
// limit falls due. A BOSH session's input comes from requests, not from a
// socket: nothing is watched but the session itself.
func (s *session) Park(resume func()) {
	s.parked = true
	s.h.parks.Add(1)
	due, _ := s.timers(false)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.in) > 0 || s.ended {
		go resume()
		return
	}
	s.resume = resume
	if !due.IsZero() {
		s.parkTimer = time.AfterFunc(max(time.Until(due), time.Millisecond), func() {
			s.mu.Lock()
			s.wakeLocked()
			s.mu.Unlock()
		})
	}
}

// ReadHeader returns the stream's header: the session creation
// request's, again at each restart (XEP-0206 §5).
func (s *session) ReadHeader() (xstream.Header, error) {
	it, err := s.read()
	if err != nil {
		return xstream.Header{}, err
	}
	switch {
	case it.eof:
		return xstream.Header{}, io.EOF
	case !it.header:
		return xstream.Header{}, &xstream.Error{Condition: xstream.BadFormat, Text: "a stream restart (xmpp:restart) was expected"}
	}
	return s.header, nil
}

// Next returns the next payload; a terminate request is the end of the
// stream.
func (s *session) Next() (*stanza.Element, error) {
	it, err := s.read()
	switch {
	case err != nil:
		return nil, err
	case it.eof:
		return nil, io.EOF
	case it.header:
		return nil, &xstream.Error{Condition: xstream.BadFormat, Text: "a stream restart within the stream"}
	}
	s.mu.Lock()
	lim := s.lim
	s.mu.Unlock()
	if lim.MaxStanzaBytes > 0 && it.size > lim.MaxStanzaBytes {
		return nil, &xstream.Error{Condition: xstream.PolicyViolation, Text: "element too large"}
	}
	return it.el, nil
}

func (s *session) Restart() {}

func (s *session) SetLimits(l xstream.Limits) {
	s.mu.Lock()
	s.lim = l
	s.mu.Unlock()
}

func (s *session) Buffered() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.in) > 0
}

func (s *session) Authenticated() {}
func (s *session) Bound()         { s.bound = true }
func (s *session) End()           { s.Close() }

// AppendOpen records the stream's id and sender for the session creation
// response; a <body/> wrapper has no stream header.
func (s *session) AppendOpen(buf []byte, h xstream.Header) []byte {
	s.mu.Lock()
	s.streamID, s.from = h.ID, h.From
	s.mu.Unlock()
	return buf
}

// AppendStreamElement writes <stream:features/> or <stream:error/> with
// the stream prefix declared on the element itself.
func (s *session) AppendStreamElement(buf []byte, el *stanza.Element) []byte {
	return stream.AppendStandalone(buf, el)
}

// AppendClose marks the end of the stream: the response carrying it
// terminates the session.
func (s *session) AppendClose(buf []byte) []byte { return append(buf, closeMark...) }

// Write queues b, serialised elements, for the next response, each
// qualified by jabber:client (XEP-0206 §6). When the client does not
// fetch what is queued, Write waits, until the write deadline.
func (s *session) Write(b []byte) error {
	closing := bytes.HasSuffix(b, []byte(closeMark))
	if closing {
		b = b[:len(b)-len(closeMark)]
	}
	var els [][]byte
	size := 0
	for len(b) > 0 {
		n, err := xstream.ElementEnd(b)
		if err != nil {
			return fmt.Errorf("bosh: %w", err)
		}
		el := xstream.WithDefaultNS(b[:n], stanza.NSClient)
		if &el[0] == &b[0] {
			el = bytes.Clone(el) // b is the engine's buffer
		}
		els = append(els, el)
		size += len(el)
		b = b[n:]
	}
	s.mu.Lock()
	for {
		if s.ended || s.closing {
			s.mu.Unlock()
			return io.ErrClosedPipe
		}
		if s.outBytes == 0 || s.outBytes+size <= s.maxOutput() {
			s.out = append(s.out, els...)
			s.outBytes += size
			if closing {
				s.closing = true
			}
			s.flush()
			s.mu.Unlock()
			return nil
		}
		drained, deadline := s.drained, s.deadline
		s.mu.Unlock()
		if !waitDrained(drained, s.done, deadline) {
			return errTimeout
		}
		s.mu.Lock()
	}
}

// waitDrained waits for drained or done; false when the deadline (zero:
// none) passed first.
func waitDrained(drained, done <-chan struct{}, deadline time.Time) bool {
	var expire <-chan time.Time
	if !deadline.IsZero() {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		expire = t.C
	}
	select {
	case <-drained:
	case <-done:
	case <-expire:
		return false
	}
	return true
}

func (s *session) SetWriteDeadline(t time.Time) error {
	s.mu.Lock()
	s.deadline = t
	s.mu.Unlock()
	return nil
}

// Close ends the session's input; held requests get what is queued and
// the end. A session with output left for no held request stays until
// the client fetches it or its inactivity period passes.
func (s *session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended {
		s.ended = true
		close(s.done)
		s.wakeLocked()
	}
	s.flush()
	return nil
}

func (s *session) Secure() bool                       { return s.secure }
func (s *session) ChannelBindings() map[string][]byte { return nil }
func (s *session) RemoteAddr() string                 { return s.remote }

// TransportName implements stream.Named.
func (s *session) TransportName() string { return "bosh" }
