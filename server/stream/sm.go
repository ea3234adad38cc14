package stream

// Stream Management (XEP-0198) on the client stream.
//
// Entry points for the rest of the engine, including the inline
// negotiation of SASL 2 (XEP-0388) and Bind 2 (XEP-0386):
//
//   - c.enableSM(el) enables stream management on the bound session for an
//     <enable/> element and returns the <enabled/> element to send, or a
//     <failed/> element and an error. Stanzas handed to the writer after
//     it returns are counted, so the caller must send the returned element
//     before anything else can be queued for the session (Bind 2 embeds it
//     in <bound/> while the new session is not yet available).
//   - c.resumeSM(ctx, el, first) resumes the session named by a <resume/>
//     element on this authenticated, unbound xstream. On success the
//     stream is bound to the resumed session and first(<resumed/>) (or
//     <resumed/> itself when first is nil) is queued ahead of the
//     stanzas the client never acknowledged; on failure it returns the
//     <failed/> element to send. An error is a stream error.
//   - c.setCSI(active) sets the Client State Indication (csi.go).
//
// Outbound, every stanza handed to the writer while SM is on is kept in
// the unacknowledged queue (ackState.unacked) until the client's <a h/>
// covers it; ack requests go out every AckEvery stanzas, when what the
// session holds passes half its byte budget, and AckInterval
// after the oldest unacknowledged one. Inbound, the reader counts the
// stanzas it handled (smReader.inH).
//
// When a resumable session loses its connection abruptly, it is detached
// rather than ended: it stays bound in the session table (still available
// to its contacts), deliveries to it are queued, and it waits
// ResumeTimeout for a <resume/>. Ending a session for good hands back to
// the router every message it never acknowledged (other resources or
// offline storage), with a XEP-0203 delay, and answers IQ requests with
// <service-unavailable/>.

import (
	"context"
	"crypto/rand"
	"errors"
	"math"
	"time"

	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/session"
	smns "github.com/parley-xmpp/parley/xmpp/sm"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	xstream "github.com/parley-xmpp/parley/xmpp/stream"
)

// nsDelay is the delayed delivery namespace (XEP-0203).
const nsDelay = "urn:xmpp:delay"

// ackRequestXML is <r/> as it is written.
const ackRequestXML = `<r xmlns="urn:xmpp:sm:3"/>`

// resumeWait bounds how long a resumption waits for the old connection's
// reader to stop.
const resumeWait = 10 * time.Second

// errSMOrder is returned with a <failed/> for an <enable/> before binding
// or a second one.
var errSMOrder = errors.New("c2s: stream management enabled out of order")

// smReader is the stream-management state the reader goroutine owns.
type smReader struct {
	enabled bool
	inH     uint32 // stanzas handled from the client since <enable/>
	id      string // resumption id; "" when not resumable
	// timeoutMS is how long the session waits detached, in
	// milliseconds (a uint32 keeps conn within its size class; see
	// TestConnSizeClass).
	timeoutMS uint32
}

// timeout is how long the session waits detached.
func (r *smReader) timeout() time.Duration { return time.Duration(r.timeoutMS) * time.Millisecond }

// millis converts a resumption timeout to smReader.timeoutMS, capped at
// what a uint32 holds (some 49 days).
func millis(d time.Duration) uint32 {
	return uint32(min(max(d.Milliseconds(), 0), math.MaxUint32))
}

// smPhase is where a session stands with respect to its connection.
type smPhase uint8

const (
	smLive     smPhase = iota // the connection is up (or ending without resumption)
	smDetached                // the connection is gone; waiting for a resumption
	smTaken                   // a new stream is resuming the session
	smMoved                   // resumed: deliveries go to forward
	smEnded                   // ended for good
)

// ackState is the outbound side of stream management, guarded by
// outQueue.mu.
type ackState struct {
	on         bool // SM enabled: stanzas handed to the writer are counted
	resumable  bool
	phase      smPhase
	unacked    []*stanza.Element // handed to the writer, not acknowledged; oldest first
	acked      uint32            // the client's last h
	sinceReq   int               // stanzas handed out since the last <r/>
	reqTimer   *time.Timer
	expiry     *time.Timer
	forward    *conn // the stream that resumed this one
	detachedAt time.Time
	// id is the resumption id while a cluster journals what the session
	// is sent (clustersm.go); "" otherwise.
	id string
}

func isStanza(el *stanza.Element) bool { return stanza.KindOf(el) != stanza.KindOther }

// kickLocked starts the writer if there is something to write. q.mu is
// held.
func (c *conn) kickLocked() {
	q := &c.out
	if !q.writing && !q.closed && len(q.items) > 0 && q.ack.phase == smLive {
		q.writing = true
		go c.flush()
	}
}

// queueNonza queues an element that is not a stanza (SM or CSI) behind
// what is already queued; it is never counted.
func (c *conn) queueNonza(el *stanza.Element) error {
	q := &c.out
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed || q.ack.phase != smLive {
		return errClosed
	}
	q.items = append(q.items, el)
	c.kickLocked()
	return nil
}

// handOffLocked records the stanzas of a batch the writer is about to
// write as unacknowledged, and reports whether an ack request should
// follow them. q.mu is held.
func (c *conn) handOffLocked(batch []*stanza.Element) bool {
	a := &c.out.ack
	if !a.on {
		return false
	}
	n := 0
	for _, st := range batch {
		if isStanza(st) {
			a.unacked = append(a.unacked, st)
			n++
		}
	}
	if n == 0 {
		return false
	}
	a.sinceReq += n
	if len(a.unacked) > c.cfg.SM.MaxUnacked && !c.out.slow {
		c.out.slow = true
		c.log.Warn("c2s: too many unacknowledged stanzas, closing", "unacked", len(a.unacked))
		go c.Close(&xstream.Error{Condition: xstream.PolicyViolation, Text: "too many unacknowledged stanzas"})
	}
	// An ack is asked for every AckEvery stanzas, and as soon as what the
	// session holds passes half its byte budget: large stanzas would
	// otherwise fill the budget before AckEvery of them went out, and
	// whoever waits for the backlog to drain (a paced offline flush)
	// would wait for AckInterval.
	if a.sinceReq >= c.cfg.SM.AckEvery || (c.out.maxBytes > 0 && 2*c.out.bytes > c.out.maxBytes) {
		a.sinceReq = 0
		return true
	}
	if a.reqTimer == nil {
		a.reqTimer = time.AfterFunc(c.cfg.SM.AckInterval, c.ackTimer)
	}
	return false
}

// ackTimer requests an ack when stanzas stayed unacknowledged for
// AckInterval.
func (c *conn) ackTimer() {
	q := &c.out
	q.mu.Lock()
	defer q.mu.Unlock()
	q.ack.reqTimer = nil
	if q.ack.on && q.ack.phase == smLive && !q.closed && len(q.ack.unacked) > 0 {
		q.ack.sinceReq = 0
		q.items = append(q.items, smns.Request())
		c.kickLocked()
	}
}

// handleNonza handles the top-level elements of stream management and
// client state indication once the client is authenticated.
func (c *conn) handleNonza(ctx context.Context, el *stanza.Element) error {
	if el.Name.Space == nsCSI {
		return c.handleCSI(el)
	}
	if c.cfg.SM.Disabled {
		return &xstream.Error{Condition: xstream.UnsupportedStanzaType, Text: "stream management is not offered"}
	}
	switch el.Name.Local {
	case smns.NameEnable:
		if c.sm.enabled {
			// XEP-0198 §3: a second <enable/> SHOULD end the xstream.
			return &xstream.Error{Condition: xstream.PolicyViolation, Text: "stream management is already enabled"}
		}
		if f, err := c.startSM(el, true); err != nil {
			c.log.Info("c2s: cannot enable stream management", "err", err)
			return c.queueNonza(f)
		}
		return nil
	case smns.NameResume:
		if c.ph != phaseBind {
			return c.queueNonza(smns.Failed{Condition: stanza.UnexpectedRequest}.Element())
		}
		f, err := c.resumeSM(ctx, el, nil)
		if err != nil {
			return err
		}
		if f != nil {
			return c.queueNonza(f)
		}
		return nil
	case smns.NameRequest:
		if !c.sm.enabled {
			return &xstream.Error{Condition: xstream.UnsupportedStanzaType, Text: "stream management is not enabled"}
		}
		// What the acknowledged stanzas caused is durable before the
		// client is told: the archive's writes (which go behind their
		// delivery), then, in a cluster, what a resumption elsewhere
		// needs (it reports this h).
		c.cfg.Router.Barrier(ctx, c.session)
		if rs := c.cfg.SM.Cluster; rs != nil {
			rs.Checkpoint(ctx, c.sm.id, c.sm.inH)
		}
		return c.queueNonza(smns.Ack(c.sm.inH))
	case smns.NameAck:
		if !c.sm.enabled {
			return &xstream.Error{Condition: xstream.UnsupportedStanzaType, Text: "stream management is not enabled"}
		}
		h, err := smns.ParseH(el)
		if err != nil {
			return &xstream.Error{Condition: xstream.BadFormat, Text: err.Error()}
		}
		if se := c.acknowledge(h); se != nil {
			c.log.Warn("c2s: client acknowledged more than was sent", "h", h)
			return se
		}
		if rs := c.smCluster(); rs != nil {
			rs.Acked(c.sm.id, h)
		}
		return nil
	}
	return &xstream.Error{Condition: xstream.UnsupportedStanzaType, Text: "unexpected element " + el.Name.Local}
}

// countHandled counts a stanza the reader handled (XEP-0198 §4).
func (c *conn) countHandled(el *stanza.Element) {
	if c.sm.enabled && isStanza(el) {
		c.sm.inH++
	}
}

// acknowledge drops what the client's h covers from the unacknowledged
// queue, or returns the handled-count-too-high stream error.
func (c *conn) acknowledge(h uint32) *xstream.Error {
	q := &c.out
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.ackLocked(h)
}

// ackLocked drops what h covers from the unacknowledged queue and from
// the queue's byte count. q.mu is held.
func (q *outQueue) ackLocked(h uint32) *xstream.Error {
	a := &q.ack
	n := smns.Delta(h, a.acked)
	if uint64(n) > uint64(len(a.unacked)) {
		return smns.HandledCountTooHigh(h, a.acked+uint32(len(a.unacked)))
	}
	done := 0
	for _, st := range a.unacked[:n] {
		done += stanzaCost(st)
	}
	clear(a.unacked[:n])
	a.unacked = a.unacked[n:]
	if len(a.unacked) == 0 {
		a.unacked = nil
	}
	a.acked = h
	q.releaseLocked(done)
	return nil
}

// enableSM enables stream management for an <enable/> element: see the
// top of this file.
func (c *conn) enableSM(el *stanza.Element) (*stanza.Element, error) {
	return c.startSM(el, false)
}

// startSM enables stream management; with queue, the <enabled/> element
// is queued in the same step, ahead of every counted stanza.
func (c *conn) startSM(el *stanza.Element, queue bool) (*stanza.Element, error) {
	if c.cfg.SM.Disabled {
		return smns.Failed{Condition: stanza.FeatureNotImplemented}.Element(), errors.New("c2s: stream management is disabled")
	}
	e, err := smns.ParseEnable(el)
	if err != nil {
		return smns.Failed{Condition: stanza.BadRequest}.Element(), err
	}
	if c.session == nil || c.sm.enabled {
		return smns.Failed{Condition: stanza.UnexpectedRequest}.Element(), errSMOrder
	}
	var en smns.Enabled
	timeout := c.cfg.SM.ResumeTimeout
	if e.Max > 0 && time.Duration(e.Max)*time.Second < timeout {
		timeout = time.Duration(e.Max) * time.Second
	}
	resume := e.Resume && timeout > 0
	if resume {
		id := ""
		if rs := c.cfg.SM.Cluster; rs != nil {
			id = rs.NewID()
		} else {
			id = rand.Text()
		}
		en = smns.Enabled{ID: id, Resume: true, Max: int(timeout / time.Second)}
	}
	out := en.Element()
	q := &c.out
	q.mu.Lock()
	q.ack.on = true
	q.ack.resumable = resume
	if resume && c.cfg.SM.Cluster != nil {
		q.ack.id = en.ID
	}
	if queue {
		q.items = append(q.items, out)
		c.kickLocked()
	}
	q.mu.Unlock()
	c.sm = smReader{enabled: true, id: en.ID, timeoutMS: millis(timeout)}
	if resume {
		c.cfg.Sessions.AddResumable(en.ID, c.session)
		if rs := c.cfg.SM.Cluster; rs != nil {
			rs.Enabled(c.session, en.ID, timeout)
		}
	}
	c.log.Debug("c2s: stream management enabled", "resume", resume)
	return out, nil
}

// resumeSM resumes a detached (or still attached) session on this stream:
// see the top of this file.
func (c *conn) resumeSM(ctx context.Context, el *stanza.Element, first func(*stanza.Element) *stanza.Element) (*stanza.Element, error) {
	if c.session != nil || c.user.IsZero() {
		return smns.Failed{Condition: stanza.UnexpectedRequest}.Element(), nil
	}
	if c.cfg.SM.Disabled {
		return smns.Failed{Condition: stanza.FeatureNotImplemented}.Element(), nil
	}
	r, err := smns.ParseResume(el)
	if err != nil {
		return smns.Failed{Condition: stanza.BadRequest}.Element(), nil
	}
	notFound := smns.Failed{Condition: stanza.ItemNotFound}.Element()
	s := c.cfg.Sessions.Resumable(r.PrevID)
	if s == nil && c.cfg.SM.Cluster != nil {
		return c.resumeRemote(ctx, r, first) // another node's (clustersm.go)
	}
	if s == nil || s.JID().Bare() != c.user {
		c.log.Info("c2s: no session to resume", "previd", r.PrevID)
		return notFound, nil
	}
	old, ok := s.Conn().(*conn)
	if !ok || old == c {
		return notFound, nil
	}
	old.out.mu.Lock()
	was := old.out.ack.phase
	if was != smLive && was != smDetached {
		old.out.mu.Unlock()
		return notFound, nil
	}
	old.out.ack.phase = smTaken
	if t := old.out.ack.expiry; t != nil {
		t.Stop()
	}
	old.out.mu.Unlock()
	if was == smLive {
		// XEP-0198 §5: the old stream, if still open, ends with <conflict/>.
		old.Close(&xstream.Error{Condition: xstream.Conflict, Text: "the session was resumed on another stream"})
	}
	// The old reader's handled count is final once it has stopped.
	wait := time.NewTimer(resumeWait)
	defer wait.Stop()
	select {
	case <-old.done:
	case <-wait.C:
		c.log.Error("c2s: the resumed connection did not stop in time")
		old.expireTaken(ctx)
		return notFound, nil
	}
	// <resumed h/> acknowledges the stanzas the old stream handled: what
	// they left to be made durable (the archive's writes) is, first.
	c.cfg.Router.Barrier(ctx, s)
	inH := old.sm.inH
	old.out.mu.Lock()
	oa := &old.out.ack
	if se := old.out.ackLocked(r.H); se != nil {
		old.out.mu.Unlock()
		c.log.Warn("c2s: resumption acknowledged more than was sent", "h", r.H)
		old.endSession(ctx)
		return nil, se
	}
	// The stream is bound from here on; before the session points at c
	// (SetConn) or old forwards to it, since deliveries to c read
	// c.session and the JID in its log records (the slow-consumer path).
	c.sm = smReader{enabled: true, id: r.PrevID, inH: inH, timeoutMS: old.sm.timeoutMS}
	c.enterSession(s)
	pending := make([]*stanza.Element, 0, len(oa.unacked)+len(old.out.items)+len(old.out.csi.held))
	pending = append(pending, oa.unacked...)
	pending = appendStanzas(pending, old.out.items)
	pending = appendStanzas(pending, old.out.csi.held)
	oa.unacked, old.out.items, old.out.csi.held = nil, nil, nil
	moved := old.out.bytes
	old.out.bytes = 0
	oa.phase, oa.forward = smMoved, c
	old.stopTimersLocked()
	q := &c.out
	q.mu.Lock()
	q.bytes += moved
	q.ack.on, q.ack.resumable, q.ack.acked, q.ack.id = true, true, oa.acked, oa.id
	resumed := smns.Resume{PrevID: r.PrevID, H: inH}.ResumedElement()
	if first != nil {
		resumed = first(resumed)
	}
	q.items = append(q.items, resumed)
	q.items = append(q.items, pending...)
	c.kickLocked()
	q.mu.Unlock()
	old.out.mu.Unlock()
	s.SetConn(c)
	s.SetDetached(false)
	c.log.Info("c2s: session resumed", "resent", len(pending), "h", inH)
	return nil, nil
}

func appendStanzas(dst, src []*stanza.Element) []*stanza.Element {
	for _, st := range src {
		if st != nil && isStanza(st) {
			dst = append(dst, st)
		}
	}
	return dst
}

// stopTimersLocked stops the ack-request and expiry timers. q.mu is held.
func (c *conn) stopTimersLocked() {
	a := &c.out.ack
	if a.reqTimer != nil {
		a.reqTimer.Stop()
		a.reqTimer = nil
	}
	if a.expiry != nil {
		a.expiry.Stop()
		a.expiry = nil
	}
}

// deliverAway handles a delivery of st, of cost n (stanzaCost), to a
// session whose connection is gone or going: queued while it may be
// resumed, forwarded once resumed. q.mu is held and released.
func (c *conn) deliverAway(st *stanza.Element, n int) error {
	q := &c.out
	a := &q.ack
	switch a.phase {
	case smMoved:
		fwd := a.forward
		q.mu.Unlock()
		return fwd.Deliver(st)
	case smEnded:
		q.mu.Unlock()
		return errClosed
	}
	if !isStanza(st) {
		q.mu.Unlock()
		return nil
	}
	if len(a.unacked)+len(q.items)+len(q.csi.held) >= c.cfg.SM.MaxUnacked ||
		(q.maxBytes > 0 && q.bytes > 0 && q.bytes+n > q.maxBytes) {
		detached := a.phase == smDetached
		if detached {
			a.phase = smEnded
		}
		bytes := q.bytes
		q.mu.Unlock()
		if detached {
			// Nothing may be lost: the session ends and what it holds
			// goes back to the router, like this stanza.
			c.log.Info("c2s: detached session's queue is full, ending it", "queued_bytes", bytes)
			go c.endSession(context.Background())
		}
		return errSlowConsumer
	}
	q.items = append(q.items, st)
	q.bytes += n
	if a.id != "" && stanza.KindOf(st) == stanza.KindMessage {
		c.journalLocked(st) // releases q.mu
		return nil
	}
	q.mu.Unlock()
	return nil
}

// lostConnection reports whether a stream ended without either side
// closing it: the case where a resumable session is kept.
func (c *conn) lostConnection(err error) bool {
	if err == nil || c.closing.Load() {
		return false
	}
	if errors.Is(err, ErrIdle) {
		return true
	}
	var se *xstream.Error
	return !errors.As(err, &se) && !errors.Is(err, ErrAuthTimeout) && !errors.Is(err, errClosed)
}

// hibernate keeps a resumable session whose connection was lost, and
// reports whether the session is kept (or was taken over by a
// resumption) so that finish must not end it.
func (c *conn) hibernate(ctx context.Context, lost bool) bool {
	q := &c.out
	q.mu.Lock()
	defer q.mu.Unlock()
	a := &q.ack
	switch a.phase {
	case smTaken, smMoved:
		return true
	case smEnded:
		// Already ended by someone else (a resumption that gave up
		// waiting for this reader, expireTaken): ending it again would
		// emit SessionEnded twice.
		return true
	case smLive:
	default:
		return false
	}
	if !lost || !a.resumable || c.sm.id == "" {
		a.phase = smEnded
		return false
	}
	a.phase = smDetached
	a.detachedAt = c.cfg.Now()
	q.closed = true
	// Held stanzas are older than anything delivered from now on.
	q.items = appendStanzas(q.items, q.csi.held)
	q.csi.held = nil
	clear(q.csi.latest)
	if a.reqTimer != nil {
		a.reqTimer.Stop()
		a.reqTimer = nil
	}
	ctx = context.WithoutCancel(ctx)
	a.expiry = time.AfterFunc(c.sm.timeout(), func() { c.expire(ctx) })
	c.session.SetDetached(true)
	c.log.Info("c2s: connection lost, session kept for resumption", "timeout", c.sm.timeout(), "unacked", len(a.unacked))
	return true
}

// endFrom marks the session ended if it stands in phase from, and reports
// whether it did: the caller then ends it.
func (c *conn) endFrom(from smPhase) bool {
	q := &c.out
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.ack.phase != from {
		return false
	}
	q.ack.phase = smEnded
	return true
}

// expire ends a detached session whose resumption time is over.
func (c *conn) expire(ctx context.Context) {
	if c.endFrom(smDetached) {
		c.log.Info("c2s: session not resumed in time")
		c.endSession(ctx)
	}
}

// expireTaken ends a session whose resumption failed half-way.
func (c *conn) expireTaken(ctx context.Context) {
	if c.endFrom(smTaken) {
		go c.endSession(ctx)
	}
}

// endIfDetached ends a detached session at once, for Close: a detached
// session replaced by a new one of the same resource ends without waiting
// for its resumption time.
func (c *conn) endIfDetached() {
	if c.endFrom(smDetached) {
		go c.endSession(context.Background())
	}
}

// drainAll closes the queue for good and returns every stanza the client
// has not acknowledged, oldest first, and when the session was detached.
func (c *conn) drainAll() ([]*stanza.Element, time.Time) {
	q := &c.out
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.ack.phase = smEnded
	c.stopTimersLocked()
	c.waitWriterLocked() // the batch it is writing may come back
	left := append([]*stanza.Element(nil), q.ack.unacked...)
	left = appendStanzas(left, q.items)
	left = appendStanzas(left, q.csi.held)
	q.ack.unacked, q.items, q.csi.held = nil, nil, nil
	q.bytes = 0
	return left, q.ack.detachedAt
}

// endSessionWait bounds the routing of what an ended session held.
const endSessionWait = 30 * time.Second

// endSession ends the session for good: it unbinds it, lets modules react
// (unavailable presence) and hands back what the client never received or
// acknowledged.
func (c *conn) endSession(ctx context.Context) {
	// This must run even when the server is shutting down: the session's
	// contacts get its unavailable presence and its undelivered messages
	// go to storage.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), endSessionWait)
	defer cancel()
	s := c.session
	table := c.cfg.Sessions
	if c.sm.id != "" {
		table.RemoveResumable(c.sm.id, s)
		if rs := c.cfg.SM.Cluster; rs != nil {
			rs.Forget(c.sm.id)
		}
	}
	table.Unbind(s)
	left, since := c.drainAll()
	s.SetDetached(false)
	c.cfg.Router.Emit(ctx, module.SessionEnded, s)
	c.reroute(ctx, left, since)
	c.log.Info("c2s: session ended", "requeued", len(left))
}

// reroute hands stanzas a session never acknowledged back to the router:
// messages go to another resource or to offline storage (the router
// decides) with a delay stamp, IQ requests are answered with an error.
func (c *conn) reroute(ctx context.Context, left []*stanza.Element, since time.Time) {
	if since.IsZero() {
		since = c.cfg.Now()
	}
	for _, st := range left {
		switch stanza.KindOf(st) {
		case stanza.KindMessage:
			if st.From() == "" || st.MessageType() == stanza.TypeError {
				continue
			}
			if c.archivedForSync(st) {
				// MAM-only: the client catches up from its archive, where
				// this message already is; storing it offline as well would
				// deliver it twice.
				continue
			}
			c.cfg.Router.Route(ctx, c.delayed(st, since))
		case stanza.KindIQ:
			if !st.IsRequest() || st.From() == "" || st.From() == c.domain {
				continue // server-originated requests (pings) need no answer
			}
			reply := stanza.ErrorReply(st, stanza.Err(stanza.ServiceUnavailable))
			if reply.From() == "" {
				reply.Set("from", c.session.JID().String())
			}
			c.cfg.Router.Route(ctx, reply)
		}
	}
}

// archivedForSync reports whether st is in the account's archive (it
// carries a XEP-0359 stanza-id by the account) while the ended session
// synchronised from that archive (XEP-0313) and no other resource of the
// account is available to take it.
func (c *conn) archivedForSync(st *stanza.Element) bool {
	if c.session.Value(module.ArchiveSync{}) == nil {
		return false
	}
	bare := c.session.JID().Bare()
	archived := false
	for _, sid := range st.ChildrenNamed(nsStanzaID, "stanza-id") {
		if sid.Get("by") == bare.String() {
			archived = true
		}
	}
	return archived && len(c.cfg.Sessions.Available(bare)) == 0
}

// nsStanzaID is the XEP-0359 namespace.
const nsStanzaID = "urn:xmpp:sid:0"

// delayed returns st with a XEP-0203 delay stamp from the server, unless
// it already carries one.
func (c *conn) delayed(st *stanza.Element, at time.Time) *stanza.Element {
	if st.Child(nsDelay, "delay") != nil {
		return st
	}
	d := stanza.New(nsDelay, "delay", "from", c.domain, "stamp", at.UTC().Format("2006-01-02T15:04:05.000Z"))
	return st.Clone().Append(d.AppendText("Resent after the session ended"))
}

// endDetached ends, at shutdown, the detached sessions of this server's
// connections, so that what they hold reaches offline storage.
func (s *Server) endDetached(ctx context.Context) {
	for _, ss := range s.cfg.Load().Sessions.All() {
		if !ss.Detached() {
			continue
		}
		if c, ok := ss.Conn().(*conn); ok && c.srv == s {
			c.expire(ctx)
		}
	}
}

// smFeatures returns the stream features of stream management and client
// state indication offered once the client is authenticated.
func (c *conn) smFeatures() []*stanza.Element {
	var out []*stanza.Element
	if !c.cfg.SM.Disabled {
		out = append(out, smns.Feature())
	}
	if !c.cfg.CSI.Disabled {
		out = append(out, stanza.New(nsCSI, "csi"))
	}
	return out
}

var _ session.Conn = (*conn)(nil)
