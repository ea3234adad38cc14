package client

// Stream Management (XEP-0198) for the client: with
// Config.StreamManagement the client enables SM (with resumption) right
// after binding, counts the stanzas it receives and answers the server's
// <r/>, keeps the stanzas it sent until the server acknowledges them, and
// requests an ack every smAckEvery stanzas. After the connection is lost,
// Resume continues the same session on a new connection: the server
// resends what the client did not receive, the client resends what the
// server did not acknowledge.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/sasl2"
	smns "github.com/parley-xmpp/parley/xmpp/sm"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// smAckEvery is after how many sent stanzas the client requests an ack.
const smAckEvery = 5

// ErrNotResumable is returned by Resume for a client without a resumable
// stream-management session.
var ErrNotResumable = errors.New("client: no resumable stream management session")

// smState is the client's stream-management state, guarded by its own
// mutex (taken inside Client.wmu when sending).
type smState struct {
	enabled  bool
	id       string // resumption id; "" when not resumable
	max      time.Duration
	inH      uint32            // stanzas received
	acked    uint32            // the server's last h
	unacked  []*stanza.Element // sent, not acknowledged, oldest first
	sinceReq int
}

// smInfo is what negotiation learnt about SM.
type smInfo struct {
	enabled bool
	en      smns.Enabled
	early   []*stanza.Element // stanzas received before <enabled/>
	// resume, when set, is resumed inline in SASL2 (XEP-0198 §9.2); the
	// server's <resumed/> or <failed/> is then kept in resumed or
	// resumeFailed.
	resume       *smns.Resume
	resumed      *smns.Resume
	resumeFailed *smns.Failed
}

// inlineEnabled records the outcome of an <enable/> sent inside a Bind 2
// request, read from the <bound/> element.
func (s *smInfo) inlineEnabled(bound *stanza.Element) error {
	if el := bound.Child(smns.NS, smns.NameEnabled); el != nil {
		en, err := smns.ParseEnabled(el)
		if err != nil {
			return fmt.Errorf("client: inline stream management: %w", err)
		}
		s.enabled, s.en = true, en
	}
	return nil
}

// hasSMFeature reports whether the server offers SM anywhere in its
// features (after binding, or inline in SASL 2).
func hasSMFeature(el *stanza.Element) bool {
	if el == nil {
		return false
	}
	if smns.Is(el, smns.NameFeature) {
		return true
	}
	for _, c := range el.Elements() {
		if hasSMFeature(c) {
			return true
		}
	}
	return false
}

// negotiateSM negotiates the stream and then, if configured and offered,
// enables stream management.
func negotiateSM(ctx context.Context, n *negotiator, cfg *Config) (jid.JID, error) {
	bound, err := negotiate(ctx, n, cfg)
	if err != nil || !cfg.StreamManagement || n.sm.enabled || !hasSMFeature(n.features) {
		return bound, err
	}
	return bound, n.enableSM()
}

// enableSM sends <enable resume='true'/> and waits for the answer.
func (n *negotiator) enableSM() error {
	if err := n.write(smns.Enable{Resume: true}.Element()); err != nil {
		return err
	}
	for {
		el, err := n.next()
		if err != nil {
			return fmt.Errorf("client: enabling stream management: %w", err)
		}
		switch {
		case smns.Is(el, smns.NameEnabled):
			en, err := smns.ParseEnabled(el)
			if err != nil {
				return fmt.Errorf("client: enabling stream management: %w", err)
			}
			n.sm.enabled, n.sm.en = true, en
			return nil
		case smns.Is(el, smns.NameFailed):
			f, _ := smns.ParseFailed(el)
			n.log.Debug("stream management refused", "condition", f.Condition)
			return nil
		default:
			n.sm.early = append(n.sm.early, el)
		}
	}
}

// startSM records the negotiated SM session on a new client and hands it
// what arrived during negotiation. It runs before the loops start.
func (c *Client) startSM(n *negotiator) {
	if !n.sm.enabled {
		return
	}
	c.sm.enabled = true
	c.sm.id = n.sm.en.ID
	c.sm.max = time.Duration(n.sm.en.Max) * time.Second
	for _, el := range n.sm.early {
		if stanza.KindOf(el) != stanza.KindOther {
			c.sm.inH++
		}
		c.route(el)
	}
}

// smInbound counts a received stanza and consumes SM elements; it reports
// whether el was consumed.
func (c *Client) smInbound(el *stanza.Element) bool {
	c.smMu.Lock()
	if !c.sm.enabled {
		c.smMu.Unlock()
		return false
	}
	if el.Name.Space != smns.NS {
		if stanza.KindOf(el) != stanza.KindOther {
			c.sm.inH++
		}
		c.smMu.Unlock()
		return false
	}
	h := c.sm.inH
	c.smMu.Unlock()
	switch el.Name.Local {
	case smns.NameRequest:
		ctx, cancel := context.WithTimeout(context.Background(), closeWait)
		defer cancel()
		if err := c.write(ctx, smns.Ack(h).AppendXML(nil, stanza.NSClient), nil); err != nil {
			c.log.Debug("cannot answer an ack request", "err", err)
		}
	case smns.NameAck:
		ah, err := smns.ParseH(el)
		if err != nil {
			c.log.Debug("bad ack from the server", "err", err)
			return true
		}
		c.smMu.Lock()
		c.ackLocked(ah)
		c.smMu.Unlock()
	}
	return true
}

// ackLocked drops what the server's h acknowledges. smMu is held.
func (c *Client) ackLocked(h uint32) {
	n := smns.Delta(h, c.sm.acked)
	if uint64(n) > uint64(len(c.sm.unacked)) {
		c.log.Debug("the server acknowledged more than was sent", "h", h)
		n = uint32(len(c.sm.unacked))
	}
	clear(c.sm.unacked[:n])
	c.sm.unacked = c.sm.unacked[n:]
	c.sm.acked = h
}

// smTrack keeps a stanza about to be written until it is acknowledged,
// and appends an ack request every smAckEvery stanzas. It runs under wmu,
// so the order kept is the order written.
func (c *Client) smTrack(st *stanza.Element, b []byte) []byte {
	if st == nil || stanza.KindOf(st) == stanza.KindOther {
		return b
	}
	c.smMu.Lock()
	defer c.smMu.Unlock()
	if !c.sm.enabled {
		return b
	}
	c.sm.unacked = append(c.sm.unacked, st)
	c.sm.sinceReq++
	if c.sm.sinceReq >= smAckEvery {
		c.sm.sinceReq = 0
		b = append(b, `<r xmlns="urn:xmpp:sm:3"/>`...)
	}
	return b
}

// StreamManagement reports whether stream management is enabled and, if
// the session can be resumed, its resumption id.
func (c *Client) StreamManagement() (enabled bool, resumeID string) {
	c.smMu.Lock()
	defer c.smMu.Unlock()
	return c.sm.enabled, c.sm.id
}

// Unacked returns how many sent stanzas the server has not acknowledged.
func (c *Client) Unacked() int {
	c.smMu.Lock()
	defer c.smMu.Unlock()
	return len(c.sm.unacked)
}

// RequestAck asks the server to acknowledge what it received.
func (c *Client) RequestAck(ctx context.Context) error {
	return c.write(ctx, smns.Request().AppendXML(nil, stanza.NSClient), nil)
}

// Abort drops the connection without closing the stream, as a lost
// network would: the server keeps a resumable session for Resume.
func (c *Client) Abort() {
	c.wmu.Lock()
	c.closing = true // nothing more is written, not even the closing tag
	c.wmu.Unlock()
	c.setErr(fmt.Errorf("client: connection aborted"))
	c.conn.Close()
	<-c.done
}

// Resume opens a new connection and resumes this client's session on it
// (XEP-0198 §5). The stream of c must have ended (see Abort); what c
// received stays readable with c.Recv. The returned client continues the
// session: the server resends the stanzas c did not receive, and Resume
// resends those the server did not acknowledge. When the server cannot
// resume, the error wraps an sm.Failed and the caller should Dial afresh.
// With Config.SASL2, when the server offers it, the session is resumed
// inside the SASL2 authentication (XEP-0198 §9.2), saving the round trips
// of a stream restart.
func (c *Client) Resume(ctx context.Context) (*Client, error) {
	return c.ResumeAt(ctx, c.cfg.Address)
}

// ResumeAt is Resume through another server address (host:port), as a
// client does when its server sent it elsewhere (<see-other-host/>) or
// another node of a cluster took over; "" resolves the domain as Dial
// does.
func (c *Client) ResumeAt(ctx context.Context, address string) (*Client, error) {
	c.smMu.Lock()
	id, inH := c.sm.id, c.sm.inH
	c.smMu.Unlock()
	if id == "" {
		return nil, ErrNotResumable
	}
	select {
	case <-c.done:
	default:
		return nil, errors.New("client: Resume needs a stream that has ended")
	}
	cfg := c.cfg
	cfg.Address = address
	log := c.log
	limits := cfg.Limits
	if limits == (stream.Limits{}) {
		limits = stream.DefaultLimits()
	}
	raw, secure, err := cfg.dial(ctx, log, limits)
	if err != nil {
		return nil, err
	}
	n := &negotiator{cfg: &cfg, log: log, conn: raw, limits: limits, secure: secure}
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		raw.SetDeadline(time.Unix(1, 0))
		close(fired)
	})
	h, err := n.resume(ctx, id, inH)
	if !stop() {
		<-fired
		if err == nil {
			err = ctx.Err()
		}
	}
	if err != nil {
		if n.dec != nil {
			n.conn.SetWriteDeadline(time.Now().Add(time.Second))
			n.conn.Write([]byte(stream.Close))
		}
		n.conn.Close()
		return nil, err
	}
	raw.SetDeadline(time.Time{})
	nc := c.successor(n)
	if n.fastToken != nil {
		nc.fast = n.fastToken
	}
	c.smMu.Lock()
	c.ackLocked(h)
	resend := c.sm.unacked
	c.sm.unacked = nil
	nc.sm = smState{enabled: true, id: id, max: c.sm.max, inH: inH, acked: h}
	c.smMu.Unlock()
	go nc.readLoop()
	go nc.dispatchLoop()
	for _, st := range resend {
		if err := nc.Send(ctx, st); err != nil {
			return nc, fmt.Errorf("client: resending after resumption: %w", err)
		}
	}
	nc.log.Debug("session resumed", "resent", len(resend))
	return nc, nil
}

// resume authenticates on a new stream and asks to resume id; it returns
// the server's count of the stanzas it handled.
func (n *negotiator) resume(ctx context.Context, id string, h uint32) (uint32, error) {
	if err := n.restart(); err != nil {
		return 0, err
	}
	if !n.secure {
		if err := n.startTLS(ctx); err != nil {
			return 0, err
		}
		if err := n.restart(); err != nil {
			return 0, err
		}
	}
	if n.sasl2Offered() && sasl2.ParseFeature(n.features.Child(sasl2.NS, "authentication")).InlineFeature(smns.NS, smns.NameFeature) != nil {
		return n.resume2(id, h)
	}
	if err := n.authenticate(); err != nil {
		return 0, err
	}
	if err := n.restart(); err != nil {
		return 0, err
	}
	if err := n.write(smns.Resume{PrevID: id, H: h}.Element()); err != nil {
		return 0, err
	}
	el, err := n.next()
	if err != nil {
		return 0, fmt.Errorf("client: resuming: %w", err)
	}
	if smns.Is(el, smns.NameFailed) {
		f, err := smns.ParseFailed(el)
		if err != nil {
			return 0, fmt.Errorf("client: resuming: %w", err)
		}
		return 0, fmt.Errorf("client: resumption refused: %w", f)
	}
	r, err := smns.ParseResume(el)
	if err != nil || !smns.Is(el, smns.NameResumed) || r.PrevID != id {
		return 0, fmt.Errorf("client: unexpected answer to <resume/>: %s", el)
	}
	return r.H, nil
}

// resume2 authenticates with SASL2 and resumes id inline.
func (n *negotiator) resume2(id string, h uint32) (uint32, error) {
	n.sm.resume = &smns.Resume{PrevID: id, H: h}
	if _, err := n.authenticate2(""); err != nil {
		return 0, err
	}
	switch r := n.sm.resumed; {
	case r != nil && r.PrevID == id:
		return r.H, nil
	case r != nil:
		return 0, fmt.Errorf("client: the server resumed %q, not %q", r.PrevID, id)
	case n.sm.resumeFailed != nil:
		return 0, fmt.Errorf("client: resumption refused: %w", *n.sm.resumeFailed)
	}
	return 0, errors.New("client: the server answered an inline <resume/> with neither <resumed/> nor <failed/>")
}

// successor returns the client that continues c's session on the stream
// n negotiated; its loops are not started.
func (c *Client) successor(n *negotiator) *Client {
	nc := &Client{
		log:       c.log,
		jid:       c.jid,
		features:  c.features,
		mechanism: n.mechanism,
		fast:      c.fast,
		conn:      n.conn,
		dec:       n.dec,
		idPrefix:  c.idPrefix,
		pending:   map[string]*pendingIQ{},
		inbox:     newQueue(),
		recv:      newQueue(),
		done:      make(chan struct{}),
		cfg:       c.cfg,
	}
	nc.ids.Store(c.ids.Load())
	c.mu.Lock()
	nc.handlers = append([]handler(nil), c.handlers...)
	c.mu.Unlock()
	return nc
}
