package stream

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"sync"

	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/session"
	"github.com/parley-xmpp/parley/xmpp/bind2"
	smns "github.com/parley-xmpp/parley/xmpp/sm"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	xstream "github.com/parley-xmpp/parley/xmpp/stream"
)

// nsCSIFeature is XEP-0352's namespace, advertised as a Bind 2 inline
// feature.
const nsCSIFeature = "urn:xmpp:csi:0"

// enterSession makes s the connection's session: the stream is bound.
func (c *conn) enterSession(s *session.Session) {
	c.session = s
	c.fullJID = s.JID().String()
	c.ph = phaseBound
	c.t.Bound()
	c.t.SetLimits(c.boundLimits())
}

// bind2Features lists the session features that can be enabled inline
// with Bind 2: stream management and client state indication here, and
// whatever modules registered (e.g. carbons).
func (c *conn) bind2Features() []string {
	var out []string
	if !c.cfg.SM.Disabled {
		out = append(out, smns.NS)
	}
	if !c.cfg.CSI.Disabled {
		out = append(out, nsCSIFeature)
	}
	for _, f := range c.cfg.Router.Bind2Features() {
		out = append(out, f.NS)
	}
	return out
}

// bind2Resource returns the resource of a Bind 2 request: the client's
// tag, then an identifier that is stable for one client installation
// (XEP-0386 §3.3.1) when the client sent a user-agent id, random
// otherwise. The id itself never shows: it is hashed with the server
// secret.
func (c *conn) bind2Resource(tag, uaID string) string {
	var id string
	if uaID != "" {
		m := hmac.New(sha256.New, c.cfg.FakeSecret)
		m.Write([]byte("parley bind2 resource\x00" + c.user.String() + "\x00" + tag + "\x00" + uaID))
		id = base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(m.Sum(nil)[:10])
	} else {
		id = NewID()[:16]
	}
	return bind2.Resource(c.user, tag, id)
}

// bind2 performs a Bind 2 request (XEP-0386 §3.3) for the authenticated
// user: it binds a resource (replacing an earlier session of the same
// client, whose resource is the same), enables the inline features, and
// returns the session, not yet bound to the connection, with the <bound/>
// element. Deliveries to the session are held until release is called,
// so that nothing reaches the client before the SASL2 <success/> that
// announces the session.
func (c *conn) bind2(ctx context.Context, req bind2.Request, uaID string) (s *session.Session, bound *stanza.Element, release func(), err error) {
	full, err := c.user.WithResource(c.bind2Resource(req.Tag, uaID))
	if err != nil {
		return nil, nil, nil, err
	}
	hold := &heldConn{c: c}
	s = session.NewSession(full, hold)
	replaced, err := c.cfg.Sessions.Bind(s)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := c.revokedLogin(s, replaced); err != nil {
		return nil, nil, nil, err
	}
	if replaced != nil {
		c.log.Info("c2s: Bind 2 replaces the client's earlier session", "jid", full)
		replaced.Conn().Close(&xstream.Error{Condition: xstream.Conflict, Text: "replaced by a new session"})
	}
	c.enterSession(s)
	var results []*stanza.Element
	mods := c.cfg.Router.Bind2Features()
	for _, f := range req.Features {
		switch {
		case f.Name.Space == smns.NS && f.Name.Local == "enable" && !c.cfg.SM.Disabled:
			out, err := c.enableSM(f)
			if err != nil {
				c.log.Info("c2s: inline stream management failed", "err", err)
			}
			results = append(results, out)
		case f.Name.Space == nsCSIFeature && (f.Name.Local == "active" || f.Name.Local == "inactive") && !c.cfg.CSI.Disabled:
			c.setCSI(f.Name.Local == "active")
		default:
			handled := false
			for _, m := range mods {
				if m.NS == f.Name.Space {
					handled = true
					if out := m.Fn(ctx, s, f); out != nil {
						results = append(results, out)
					}
				}
			}
			if !handled {
				c.log.Debug("c2s: ignoring an unknown Bind 2 feature", "ns", f.Name.Space, "name", f.Name.Local)
			}
		}
	}
	c.log.Info("c2s: session bound with Bind 2")
	return s, bind2.Bound(results...), func() {
		hold.release(s)
		c.cfg.Router.Emit(ctx, module.SessionBound, s)
	}, nil
}

// heldConn stands for the connection while a Bind 2 session is announced:
// it keeps what is delivered to the session until release hands it to
// the connection, in order.
type heldConn struct {
	c        *conn
	mu       sync.Mutex
	held     []*stanza.Element
	bytes    int // stanzaCost of held, bounded as the queue's
	released bool
}

func (h *heldConn) Deliver(st *stanza.Element) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.released {
		return h.c.Deliver(st)
	}
	n := stanzaCost(st)
	if len(h.held) >= max(h.c.out.max, 1) || (h.c.out.maxBytes > 0 && h.bytes > 0 && h.bytes+n > h.c.out.maxBytes) {
		return errSlowConsumer
	}
	h.held = append(h.held, st)
	h.bytes += n
	return nil
}

func (h *heldConn) Close(err *xstream.Error) { h.c.Close(err) }

func (h *heldConn) RemoteAddr() string { return h.c.RemoteAddr() }

// release delivers what was held and points the session at the real
// connection.
func (h *heldConn) release(s *session.Session) {
	h.mu.Lock()
	h.released = true
	held := h.held
	h.held = nil
	for _, st := range held {
		if err := h.c.Deliver(st); err != nil && !errors.Is(err, errClosed) {
			break
		}
	}
	h.mu.Unlock()
	s.SetConn(h.c)
}

// Transport names the transport of the held connection.
func (h *heldConn) Transport() string { return h.c.Transport() }
