package client

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"

	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/sasl"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// Namespaces of the stream features negotiated here.
const (
	nsTLS     = "urn:ietf:params:xml:ns:xmpp-tls"
	nsSASL    = "urn:ietf:params:xml:ns:xmpp-sasl"
	nsBind    = "urn:ietf:params:xml:ns:xmpp-bind"
	nsSession = "urn:ietf:params:xml:ns:xmpp-session"
	nsSASLCB  = "urn:xmpp:sasl-cb:0" // XEP-0440
)

// negotiator drives stream negotiation (RFC 6120 §4.3) on one connection.
type negotiator struct {
	cfg       *Config
	log       *slog.Logger
	conn      net.Conn
	dec       *stream.Decoder
	limits    stream.Limits
	secure    bool
	mechanism string        // the SASL mechanism that succeeded
	header    stream.Header // the server's last stream header
	features  *stanza.Element
	fastMech  string     // the FAST mechanism requested or used (sasl2.go)
	fastToken *FastToken // the FAST token issued at login
	sm        smInfo     // stream management (sm.go)
}

// restart sends a new initial stream header and reads the server's header
// and features (RFC 6120 §4.3.3).
func (n *negotiator) restart() error {
	h := stream.Header{
		To:        n.cfg.JID.Domain(),
		Version:   "1.0",
		Lang:      "en",
		ContentNS: stanza.NSClient,
	}
	if n.secure {
		// RFC 6120 §4.7.1: include 'from' once the stream is protected.
		h.From = n.cfg.JID.Bare().String()
	}
	if _, err := n.conn.Write(stream.AppendHeader(nil, h)); err != nil {
		return fmt.Errorf("client: sending stream header: %w", err)
	}
	if n.dec == nil {
		n.dec = stream.NewDecoder(n.conn, n.limits)
	} else {
		n.dec.Reset(n.conn)
	}
	sh, err := n.dec.ReadHeader()
	if err != nil {
		return fmt.Errorf("client: reading stream header: %w", err)
	}
	n.header = sh
	if major, _, _ := strings.Cut(sh.Version, "."); major == "" || major == "0" {
		return fmt.Errorf("client: server stream version %q is not 1.0", sh.Version)
	}
	f, err := n.next()
	if err != nil {
		return fmt.Errorf("client: reading stream features: %w", err)
	}
	if f.Name.Space != stanza.NSStream || f.Name.Local != "features" {
		return fmt.Errorf("client: expected stream features, got <%s xmlns='%s'>", f.Name.Local, f.Name.Space)
	}
	n.features = f
	n.log.Debug("stream features", "features", f.String())
	return nil
}

// next reads the next element; a stream error becomes a *stream.Error and
// a closed stream io.ErrUnexpectedEOF.
func (n *negotiator) next() (*stanza.Element, error) {
	el, err := n.dec.Next()
	if err != nil {
		return nil, err
	}
	if el.Name.Space == stanza.NSStream && el.Name.Local == "error" {
		return nil, stream.ParseStreamError(el)
	}
	return el, nil
}

// write sends one element.
func (n *negotiator) write(el *stanza.Element) error {
	_, err := n.conn.Write(el.AppendXML(nil, stanza.NSClient))
	return err
}

// startTLS performs STARTTLS (RFC 6120 §5.4).
func (n *negotiator) startTLS(ctx context.Context) error {
	if n.features.Child(nsTLS, "starttls") == nil {
		return errors.New("client: server does not offer STARTTLS")
	}
	if err := n.write(stanza.New(nsTLS, "starttls")); err != nil {
		return fmt.Errorf("client: sending starttls: %w", err)
	}
	el, err := n.next()
	if err != nil {
		return fmt.Errorf("client: awaiting STARTTLS proceed: %w", err)
	}
	if el.Name.Space != nsTLS || el.Name.Local != "proceed" {
		return fmt.Errorf("client: server refused STARTTLS: <%s/>", el.Name.Local)
	}
	if n.dec.Buffered() > 0 {
		// Data pipelined after <proceed/> would be read as if TLS
		// protected it (STARTTLS command injection).
		return errors.New("client: server sent data after STARTTLS <proceed/>")
	}
	tc := tls.Client(n.conn, n.cfg.tlsConfig(n.cfg.JID.Domain()))
	if err := tc.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("client: TLS handshake: %w", err)
	}
	n.conn = tc
	n.secure = true
	return nil
}

// channelBindings returns the channel-binding data available on conn.
func channelBindings(conn net.Conn) map[string][]byte {
	tc, ok := conn.(*tls.Conn)
	if !ok {
		return nil
	}
	st := tc.ConnectionState()
	cb := map[string][]byte{}
	// RFC 9266 §3: tls-exporter is defined for TLS 1.3 (and TLS 1.2 with
	// extended master secret, which crypto/tls enforces by failing).
	if st.Version >= tls.VersionTLS13 {
		if b, err := st.ExportKeyingMaterial(sasl.ExporterLabel, nil, 32); err == nil {
			cb[sasl.TLSExporter] = b
		}
	}
	if len(st.PeerCertificates) > 0 {
		cb[sasl.TLSServerEndPoint] = sasl.EndPointBinding(st.PeerCertificates[0])
	}
	return cb
}

// cbTypes returns the XEP-0440 channel-binding types advertised, as a
// top-level feature or (in older versions) inside <mechanisms/>.
func cbTypes(features *stanza.Element) []string {
	el := features.Child(nsSASLCB, "sasl-channel-binding")
	if el == nil {
		if m := features.Child(nsSASL, "mechanisms"); m != nil {
			el = m.Child(nsSASLCB, "sasl-channel-binding")
		}
	}
	if el == nil {
		return nil
	}
	var out []string
	for _, c := range el.ChildrenNamed(nsSASLCB, "channel-binding") {
		if t := c.Get("type"); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// authenticate performs SASL (RFC 6120 §6).
func (n *negotiator) authenticate() error {
	mechsEl := n.features.Child(nsSASL, "mechanisms")
	if mechsEl == nil {
		return errors.New("client: server offers no SASL mechanisms")
	}
	var mechs []string
	for _, m := range mechsEl.ChildrenNamed(nsSASL, "mechanism") {
		mechs = append(mechs, strings.TrimSpace(m.Text()))
	}
	types := cbTypes(n.features)
	cb := channelBindings(n.conn)
	haveCB := false
	for t := range cb {
		if len(types) == 0 || slices.Contains(types, t) {
			haveCB = true
		}
	}
	name := n.cfg.Mechanism
	if name == "" {
		name = sasl.Preferred(mechs, haveCB)
		if name == "" {
			return fmt.Errorf("client: no supported SASL mechanism among %v", mechs)
		}
	}
	mech, err := sasl.NewClient(name, sasl.ClientConfig{
		Username:         n.cfg.JID.Local(),
		Password:         n.cfg.Password,
		ChannelBindings:  cb,
		ServerMechanisms: mechs,
		ServerCBTypes:    types,
	})
	if err != nil {
		return fmt.Errorf("client: SASL %s: %w", name, err)
	}
	n.log.Debug("SASL", "mechanism", name, "offered", mechs, "cb", types)
	initial, err := mech.Start()
	if err != nil {
		return fmt.Errorf("client: SASL %s: %w", name, err)
	}
	if err := n.write(stanza.New(nsSASL, "auth", "mechanism", name).AppendText(encodeSASL(initial))); err != nil {
		return fmt.Errorf("client: sending auth: %w", err)
	}
	for {
		el, err := n.next()
		if err != nil {
			return fmt.Errorf("client: SASL %s: %w", name, err)
		}
		if el.Name.Space != nsSASL {
			return fmt.Errorf("client: SASL %s: unexpected <%s xmlns='%s'>", name, el.Name.Local, el.Name.Space)
		}
		switch el.Name.Local {
		case "failure":
			return failure(name, el)
		case "challenge":
			data, err := decodeSASL(el.Text())
			if err == nil {
				var resp []byte
				if resp, err = mech.Next(data); err == nil {
					if err := n.write(stanza.New(nsSASL, "response").AppendText(encodeSASL(resp))); err != nil {
						return fmt.Errorf("client: sending SASL response: %w", err)
					}
					continue
				}
			}
			return n.abort(name, err)
		case "success":
			data, err := decodeSASL(el.Text())
			if err != nil {
				return fmt.Errorf("client: SASL %s success: %w", name, err)
			}
			if len(data) > 0 || !mech.Done() {
				if _, err := mech.Next(data); err != nil {
					return fmt.Errorf("client: SASL %s: server not verified: %w", name, err)
				}
			}
			if !mech.Done() {
				return fmt.Errorf("client: SASL %s: server reported success before the exchange completed", name)
			}
			n.mechanism = name
			return nil
		default:
			return fmt.Errorf("client: SASL %s: unexpected <%s/>", name, el.Name.Local)
		}
	}
}

// abort cancels the SASL exchange after a local error (RFC 6120 §6.4.4)
// and returns that error.
func (n *negotiator) abort(name string, cause error) error {
	cause = fmt.Errorf("client: SASL %s: %w", name, cause)
	if err := n.write(stanza.New(nsSASL, "abort")); err != nil {
		return cause
	}
	if el, err := n.next(); err == nil && el.Name.Space == nsSASL && el.Name.Local == "failure" {
		return errors.Join(cause, failure(name, el))
	}
	return cause
}

// failure converts a <failure/> element to an *AuthError.
func failure(mech string, el *stanza.Element) *AuthError {
	e := &AuthError{Mechanism: mech}
	for _, c := range el.Elements() {
		if c.Name.Local == "text" {
			e.Text = c.Text()
		} else if e.Condition == "" {
			e.Condition = c.Name.Local
		}
	}
	if e.Condition == "" {
		e.Condition = "not-authorized"
	}
	return e
}

// encodeSASL encodes a SASL payload; empty is "=" (RFC 6120 §6.4.2).
func encodeSASL(b []byte) string {
	if len(b) == 0 {
		return "="
	}
	return base64.StdEncoding.EncodeToString(b)
}

// decodeSASL decodes a SASL payload; empty and "=" are both empty.
func decodeSASL(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "=" {
		return nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("incorrect base64 encoding: %w", err)
	}
	return b, nil
}

// bind performs resource binding (RFC 6120 §7) and, when required, legacy
// session establishment; it returns the bound full JID.
func (n *negotiator) bind(resource string) (jid.JID, error) {
	if n.features.Child(nsBind, "bind") == nil {
		return jid.JID{}, errors.New("client: server does not offer resource binding")
	}
	b := stanza.New(nsBind, "bind")
	if resource != "" {
		b.Append(stanza.New(nsBind, "resource").AppendText(resource))
	}
	res, err := n.iq(stanza.NewIQ(stanza.TypeSet, "bind-1", "", b))
	if err != nil {
		return jid.JID{}, fmt.Errorf("client: binding resource: %w", err)
	}
	raw := ""
	if rb := res.Child(nsBind, "bind"); rb != nil {
		raw = strings.TrimSpace(rb.ChildText(nsBind, "jid"))
	}
	bound, err := jid.Parse(raw)
	if err != nil {
		return jid.JID{}, fmt.Errorf("client: server bound invalid JID %q: %w", raw, err)
	}
	if bound.Resource() == "" || bound.Bare() != n.cfg.JID.Bare() {
		return jid.JID{}, fmt.Errorf("client: server bound unexpected JID %q", raw)
	}
	if s := n.features.Child(nsSession, "session"); s != nil && s.Child("", "optional") == nil && !n.cfg.NoSession {
		if _, err := n.iq(stanza.NewIQ(stanza.TypeSet, "sess-1", "", stanza.New(nsSession, "session"))); err != nil {
			return jid.JID{}, fmt.Errorf("client: establishing session: %w", err)
		}
	}
	return bound, nil
}

// iq sends an IQ during negotiation and reads its reply synchronously.
func (n *negotiator) iq(req *stanza.Element) (*stanza.Element, error) {
	if err := n.write(req); err != nil {
		return nil, err
	}
	for {
		el, err := n.next()
		if err != nil {
			return nil, err
		}
		if stanza.KindOf(el) != stanza.KindIQ || el.ID() != req.ID() {
			n.log.Debug("ignoring element during negotiation", "el", el.String())
			continue
		}
		switch el.Type() {
		case stanza.TypeResult:
			return el, nil
		case stanza.TypeError:
			return el, replyError(el)
		}
	}
}

// replyError returns the *stanza.Error of an error reply.
func replyError(el *stanza.Element) *stanza.Error {
	if e := stanza.ParseError(el); e != nil {
		return e
	}
	return stanza.Errorf(stanza.UndefinedCondition, "error reply without <error/>")
}
