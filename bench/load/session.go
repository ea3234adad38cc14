package load

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/parley-xmpp/parley/xmpp/sasl"
	"github.com/parley-xmpp/parley/xmpp/sasl2"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// Namespaces used during login.
const (
	nsTLS      = "urn:ietf:params:xml:ns:xmpp-tls"
	nsSASL     = "urn:ietf:params:xml:ns:xmpp-sasl"
	nsBind     = "urn:ietf:params:xml:ns:xmpp-bind"
	nsSession  = "urn:ietf:params:xml:ns:xmpp-session"
	nsRoster   = "jabber:iq:roster"
	nsRegister = "jabber:iq:register"
	nsRegFeat  = "http://jabber.org/features/iq-register"
)

// ErrNoRegistration is returned when --create is asked of a server that
// does not offer in-band registration (XEP-0077).
var ErrNoRegistration = errors.New("load: server does not offer in-band registration (create the accounts with its own tool)")

// Dialer holds what every login shares.
type Dialer struct {
	// Addrs are the server addresses (host:port), used round-robin
	// (Pairing says how).
	Addrs []string
	// Pairing spreads the sessions over Addrs (the nodes of a cluster):
	// the chat scenario's partners on different nodes (the default) or
	// on the same one.
	Pairing Pairing
	// Domain is the XMPP domain of the accounts.
	Domain string
	// DirectTLS selects XEP-0368 direct TLS instead of STARTTLS.
	DirectTLS bool
	// TLS is the client TLS configuration; ServerName defaults to Domain.
	TLS *tls.Config
	// Mechanism is SCRAM-SHA-1, SCRAM-SHA-256 or PLAIN.
	Mechanism string
	// Sources are the local addresses to bind.
	Sources *Sources
	// Keys caches SCRAM client keys; nil disables caching.
	Keys *KeyCache
	// Resource is the resource requested at bind (suffixed by the index).
	Resource string
	// WebSocket is the ws:// or wss:// URL of the server's XMPP over
	// WebSocket endpoint (RFC 7395). When set, sessions connect there
	// instead of Addrs, and DirectTLS does not apply: wss:// negotiates
	// TLS (with TLS) before the upgrade, ws:// has none.
	WebSocket string
	// BOSH is the http:// or https:// URL of the server's BOSH endpoint
	// (XEP-0124, XEP-0206). When set, sessions connect there instead of
	// Addrs, as with WebSocket.
	BOSH string
	// Returning, when set, keeps each account's TLS session ticket and
	// FAST token and uses them at its next login (see [Returning]); the
	// logins use SASL2 when the server offers it.
	Returning *Returning
}

// Account is one account's credentials.
type Account struct {
	User, Password string
}

// LoginOptions are per-login choices.
type LoginOptions struct {
	// Register creates the account with in-band registration first; an
	// existing account (conflict) is not an error.
	Register bool
	// NoPresence skips the initial presence.
	NoPresence bool
}

// Session is one logged-in stream. Writes are safe for concurrent use;
// reads (Next) belong to one goroutine.
type Session struct {
	// Index is the account index.
	Index int
	// JID is the full JID bound by the server.
	JID string
	// Bare is the bare JID.
	Bare string
	// RosterSize is the number of roster items with subscription "both"
	// found at login.
	RosterSize int
	// Resumed says the TLS handshake resumed a session (a ticket, no
	// certificate signature); FastAuth that the login used a FAST token.
	Resumed  bool
	FastAuth bool

	conn net.Conn
	// tls is the TLS connection under conn, if any.
	tls *tls.Conn
	// framed says the connection is a WebSocket (RFC 7395): one element
	// a message, <open/> and <close/> for the stream's ends.
	framed bool
	// bosh is conn when the connection is a BOSH session, which is read
	// by element, without a decoder.
	bosh     *boshConn
	dec      *stream.Decoder
	features *stanza.Element
	wmu      sync.Mutex
	wbuf     []byte
}

// Login connects, authenticates, binds a resource, fetches the roster and
// (unless opts.NoPresence) sends initial presence. The context bounds the
// whole login.
func (d *Dialer) Login(ctx context.Context, idx int, acc Account, opts LoginOptions) (*Session, error) {
	conn, err := d.dial(ctx, idx)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	s := &Session{Index: idx, conn: conn, framed: d.WebSocket != "" || d.BOSH != ""}
	s.bosh, _ = conn.(*boshConn)
	if err := d.negotiate(ctx, s, acc, opts); err != nil {
		s.conn.Close()
		return nil, err
	}
	if !stop() {
		s.conn.Close()
		return nil, ctx.Err()
	}
	s.conn.SetDeadline(time.Time{})
	if s.bosh != nil {
		s.bosh.hold()
	}
	return s, nil
}

// dial opens connection idx: a BOSH session with d.BOSH or a WebSocket
// to d.WebSocket when set, else a
// TCP connection to one of d.Addrs.
func (d *Dialer) dial(ctx context.Context, idx int) (net.Conn, error) {
	if d.BOSH != "" {
		return d.dialBOSH(idx)
	}
	if d.WebSocket != "" {
		return d.dialWebSocket(ctx, idx)
	}
	if len(d.Addrs) == 0 {
		return nil, errors.New("load: no server address")
	}
	var nd net.Dialer
	if la := d.Sources.For(idx); la != nil {
		nd.LocalAddr = la // only when set: a typed nil would not be nil
	}
	conn, err := nd.DialContext(ctx, "tcp", d.Addrs[d.Pairing.node(idx, len(d.Addrs))])
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	return conn, nil
}

// peer completes p, a dialer for a second server of which only Addrs,
// Domain and possibly TLS are set, with d's other settings. Its TLS
// server name is its own domain.
func (d *Dialer) peer(p Dialer) Dialer {
	out := *d
	out.Addrs, out.Domain, out.WebSocket, out.BOSH = p.Addrs, p.Domain, p.WebSocket, p.BOSH
	if p.TLS != nil {
		out.TLS = p.TLS
	}
	out.TLS = out.TLS.Clone()
	if out.TLS != nil {
		out.TLS.ServerName = p.Domain
	}
	return out
}

// tlsConfig returns the TLS configuration of connection idx: with the
// account's own session cache when returning clients are kept.
func (d *Dialer) tlsConfig(idx int) *tls.Config {
	c := d.TLS.Clone()
	if c == nil {
		c = &tls.Config{}
	}
	if c.ServerName == "" {
		c.ServerName = d.Domain
	}
	if d.Returning != nil {
		c.ClientSessionCache = d.Returning.cache(idx)
	}
	return c
}

// handshake runs the client TLS handshake on s's connection.
func (d *Dialer) handshake(ctx context.Context, s *Session) error {
	tc := tls.Client(s.conn, d.tlsConfig(s.Index))
	if err := tc.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("TLS handshake: %w", err)
	}
	s.conn, s.tls, s.Resumed = tc, tc, tc.ConnectionState().DidResume
	return nil
}

// keys returns the SCRAM key cache (a fresh one if none is shared).
func (d *Dialer) keys() *KeyCache {
	if d.Keys == nil {
		return NewKeyCache()
	}
	return d.Keys
}

func (d *Dialer) negotiate(ctx context.Context, s *Session, acc Account, opts LoginOptions) error {
	if s.framed {
		// TLS, if any, came with the WebSocket or BOSH URL (wss://, https://).
	} else if d.DirectTLS {
		if err := d.handshake(ctx, s); err != nil {
			return err
		}
	}
	if err := s.restart(ctx, d.Domain); err != nil {
		return err
	}
	if !d.DirectTLS && !s.framed {
		if s.features.Child(nsTLS, "starttls") == nil {
			return errors.New("server does not offer STARTTLS")
		}
		if err := s.write(stanza.New(nsTLS, "starttls")); err != nil {
			return err
		}
		el, err := s.next()
		if err != nil {
			return fmt.Errorf("STARTTLS: %w", err)
		}
		if el.Name.Local != "proceed" {
			return fmt.Errorf("STARTTLS refused: <%s/>", el.Name.Local)
		}
		if err := d.handshake(ctx, s); err != nil {
			return err
		}
		if err := s.restart(ctx, d.Domain); err != nil {
			return err
		}
	}
	if opts.Register {
		if err := s.register(acc); err != nil {
			return err
		}
	}
	if d.Returning != nil && s.features.Child(sasl2.NS, "authentication") != nil {
		// SASL2: the authenticated stream's features follow the
		// success, without a restart.
		if err := d.authenticate2(s, acc); err != nil {
			return err
		}
		return s.bind(d.Resource, opts)
	}
	if err := d.authenticate(s, acc); err != nil {
		return err
	}
	if err := s.restart(ctx, d.Domain); err != nil {
		return err
	}
	return s.bind(d.Resource, opts)
}

// restart opens a (new) stream and reads the server's header and features.
func (s *Session) restart(ctx context.Context, domain string) error {
	if s.bosh != nil {
		if err := s.bosh.open(ctx); err != nil {
			return err
		}
		return s.readFeatures()
	}
	if s.framed {
		if err := s.openFramed(domain); err != nil {
			return err
		}
		return s.readFeatures()
	}
	h := stream.Header{To: domain, Version: "1.0", Lang: "en", ContentNS: stanza.NSClient}
	if _, err := s.conn.Write(stream.AppendHeader(nil, h)); err != nil {
		return fmt.Errorf("sending stream header: %w", err)
	}
	if s.dec == nil {
		s.dec = stream.NewDecoder(s.conn, stream.Limits{})
	} else {
		s.dec.Reset(s.conn)
	}
	if _, err := s.dec.ReadHeader(); err != nil {
		return fmt.Errorf("reading stream header: %w", err)
	}
	return s.readFeatures()
}

// readFeatures reads the stream features that follow a stream header.
func (s *Session) readFeatures() error {
	f, err := s.next()
	if err != nil {
		return fmt.Errorf("reading stream features: %w", err)
	}
	if f.Name.Space != stanza.NSStream || f.Name.Local != "features" {
		return fmt.Errorf("expected stream features, got <%s/>", f.Name.Local)
	}
	s.features = f
	return nil
}

// next reads one element; a stream error becomes an error.
func (s *Session) next() (*stanza.Element, error) {
	var el *stanza.Element
	var err error
	if s.bosh != nil {
		el, err = s.bosh.nextElement()
	} else {
		el, err = s.dec.Next()
	}
	if err != nil {
		return nil, err
	}
	if el.Name.Space == stanza.NSStream && el.Name.Local == "error" {
		return nil, stream.ParseStreamError(el)
	}
	if s.framed && el.Name.Space == nsFraming && el.Name.Local == "close" {
		return nil, ErrFramedClose
	}
	return el, nil
}

// Next returns the next element received after login.
func (s *Session) Next() (*stanza.Element, error) { return s.next() }

func (s *Session) write(el *stanza.Element) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	scope := stanza.NSClient
	if s.framed {
		scope = "" // a WebSocket message declares its namespace
	}
	s.wbuf = el.AppendXML(s.wbuf[:0], scope)
	if _, err := s.conn.Write(s.wbuf); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// Send writes one stanza.
func (s *Session) Send(el *stanza.Element) error { return s.write(el) }

// SendRaw writes bytes the caller built: one well-formed stanza, in the
// jabber:client namespace unless it declares another.
func (s *Session) SendRaw(b []byte) error {
	if s.framed {
		b = stream.WithDefaultNS(b, stanza.NSClient)
	}
	return s.writeBytes(b)
}

// writeBytes writes b as it is (over a WebSocket, as one message).
func (s *Session) writeBytes(b []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if _, err := s.conn.Write(b); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// Close ends the stream politely and closes the connection.
func (s *Session) Close() error {
	s.wmu.Lock()
	s.conn.SetWriteDeadline(time.Now().Add(time.Second))
	switch {
	case s.bosh != nil:
		// Close terminates the BOSH session.
	case s.framed:
		s.conn.Write([]byte(framedClose))
	default:
		s.conn.Write([]byte(stream.Close))
	}
	s.wmu.Unlock()
	return s.conn.Close()
}

// iq sends a request and reads until its reply, dropping anything else.
func (s *Session) iq(req *stanza.Element) (*stanza.Element, error) {
	if err := s.write(req); err != nil {
		return nil, err
	}
	for {
		el, err := s.next()
		if err != nil {
			return nil, err
		}
		if stanza.KindOf(el) != stanza.KindIQ || el.ID() != req.ID() {
			continue
		}
		if el.Type() == stanza.TypeError {
			if e := stanza.ParseError(el); e != nil {
				return el, e
			}
			return el, errors.New("error reply")
		}
		return el, nil
	}
}

func (s *Session) register(acc Account) error {
	if s.features.Child(nsRegFeat, "register") == nil {
		return ErrNoRegistration
	}
	q := stanza.New(nsRegister, "query").Append(
		stanza.New(nsRegister, "username").AppendText(acc.User),
		stanza.New(nsRegister, "password").AppendText(acc.Password))
	_, err := s.iq(stanza.NewIQ(stanza.TypeSet, "reg1", "", q))
	var se *stanza.Error
	if errors.As(err, &se) && se.Condition == stanza.Conflict {
		return nil
	}
	if err != nil {
		return fmt.Errorf("in-band registration: %w", err)
	}
	return nil
}

func (d *Dialer) authenticate(s *Session, acc Account) error {
	mech := d.Mechanism
	offered := false
	if m := s.features.Child(nsSASL, "mechanisms"); m != nil {
		for _, c := range m.ChildrenNamed(nsSASL, "mechanism") {
			if strings.TrimSpace(c.Text()) == mech {
				offered = true
			}
		}
	}
	if !offered {
		return fmt.Errorf("server does not offer %s", mech)
	}
	var initial []byte
	var sc *scramClient
	if mech == sasl.Plain {
		initial = []byte("\x00" + acc.User + "\x00" + acc.Password)
	} else {
		var err error
		if sc, err = newScramClient(d.keys(), mech, acc.User, acc.Password); err != nil {
			return err
		}
		initial = sc.first()
	}
	if err := s.write(stanza.New(nsSASL, "auth", "mechanism", mech).AppendText(base64.StdEncoding.EncodeToString(initial))); err != nil {
		return err
	}
	for {
		el, err := s.next()
		if err != nil {
			return fmt.Errorf("SASL: %w", err)
		}
		data, derr := decodeSASL(el.Text())
		switch el.Name.Local {
		case "challenge":
			if sc == nil || derr != nil {
				return errors.New("SASL: unexpected challenge")
			}
			resp, err := sc.final(data)
			if err != nil {
				return err
			}
			if err := s.write(stanza.New(nsSASL, "response").AppendText(base64.StdEncoding.EncodeToString(resp))); err != nil {
				return err
			}
		case "success":
			if sc != nil {
				if derr != nil {
					return errors.New("SASL: bad success data")
				}
				if err := sc.verify(data); err != nil {
					return err
				}
			}
			return nil
		case "failure":
			cond := "not-authorized"
			if c := el.FirstElement(); c != nil {
				cond = c.Name.Local
			}
			return fmt.Errorf("SASL %s failure: %s", mech, cond)
		default:
			return fmt.Errorf("SASL: unexpected <%s/>", el.Name.Local)
		}
	}
}

// decodeSASL decodes a SASL payload; empty and "=" are both empty
// (RFC 6120 §6.4.2).
func decodeSASL(text string) ([]byte, error) {
	text = strings.TrimSpace(text)
	if text == "" || text == "=" {
		return nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(text)
	if err != nil {
		return nil, fmt.Errorf("SASL payload: %w", err)
	}
	return b, nil
}

func (s *Session) bind(resource string, opts LoginOptions) error {
	if s.features.Child(nsBind, "bind") == nil {
		return errors.New("server does not offer resource binding")
	}
	b := stanza.New(nsBind, "bind")
	if resource != "" {
		b.Append(stanza.New(nsBind, "resource").AppendText(fmt.Sprintf("%s%d", resource, s.Index)))
	}
	res, err := s.iq(stanza.NewIQ(stanza.TypeSet, "bind1", "", b))
	if err != nil {
		return fmt.Errorf("bind: %w", err)
	}
	if rb := res.Child(nsBind, "bind"); rb != nil {
		s.JID = strings.TrimSpace(rb.ChildText(nsBind, "jid"))
	}
	bare, _, ok := strings.Cut(s.JID, "/")
	if !ok {
		return fmt.Errorf("bind: server bound %q", s.JID)
	}
	s.Bare = bare
	if f := s.features.Child(nsSession, "session"); f != nil && f.Child("", "optional") == nil && f.Child(nsSession, "optional") == nil {
		if _, err := s.iq(stanza.NewIQ(stanza.TypeSet, "sess1", "", stanza.New(nsSession, "session"))); err != nil {
			return fmt.Errorf("session: %w", err)
		}
	}
	ros, err := s.iq(stanza.NewIQ(stanza.TypeGet, "roster1", "", stanza.New(nsRoster, "query")))
	if err != nil {
		return fmt.Errorf("roster get: %w", err)
	}
	if q := ros.Child(nsRoster, "query"); q != nil {
		for _, it := range q.ChildrenNamed(nsRoster, "item") {
			if it.Get("subscription") == "both" {
				s.RosterSize++
			}
		}
	}
	if !opts.NoPresence {
		if err := s.SendRaw([]byte("<presence/>")); err != nil {
			return err
		}
	}
	return nil
}
