package s2s

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"

	"github.com/parley-xmpp/parley/server/s2s/certid"
	"github.com/parley-xmpp/parley/server/s2s/dialback"
	"github.com/parley-xmpp/parley/server/s2s/resolve"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// initiator opens a stream from a local domain to a remote one, as an
// initiating server (RFC 6120 §4-§6): it finds and connects to the remote
// servers, negotiates TLS and checks their certificate, and, when asked
// to, authenticates the local domain. Links use it to carry stanzas, and
// the dialback verifier to ask a domain's authoritative server about a
// key. It is used by one goroutine.
type initiator struct {
	pool *Pool
	pair
	log *slog.Logger
	// authenticate says whether to authenticate the local domain; a
	// verification stream does not.
	authenticate bool

	// Results of the negotiation.
	peerVerified certid.Method // how the peer's certificate named it; "" if it did not
	peerErr      error         // why it did not
	auth         string        // "SASL EXTERNAL" or "dialback"
	tlsVer       string
	header       stream.Header   // the peer's last stream header
	features     *stanza.Element // and its features
}

// establish connects and negotiates until the local domain is
// authenticated.
func (n *initiator) establish(ctx context.Context) (net.Conn, *stream.Decoder, error) {
	o := &n.pool.opts
	ctx, cancel := context.WithTimeout(ctx, o.ConnectTimeout)
	defer cancel()
	pol := o.Policy(n.remote)
	targets, err := o.Finder.Targets(ctx, n.remote)
	if err != nil {
		if len(targets) == 0 {
			return nil, nil, err
		}
		n.log.Info("s2s: DNS lookup failed, trying the domain itself", "err", err)
	}
	raw, target, err := o.Dialer.Dial(ctx, targets)
	if err != nil {
		return nil, nil, err
	}
	// Closing the connection is how a timeout or a shutdown interrupts
	// the negotiation below.
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	conn, dec, err := n.negotiate(raw, target, pol)
	if !stop() || err != nil {
		raw.Close()
		if err == nil || ctx.Err() != nil {
			err = fmt.Errorf("negotiating with %s: %w", target, context.Cause(ctx))
		}
		return nil, nil, err
	}
	return conn, dec, nil
}

// negotiate runs the stream negotiation of an initiating server (RFC
// 6120 §4-§6): STARTTLS (or direct TLS), then SASL EXTERNAL (XEP-0178)
// or dialback (XEP-0220).
func (n *initiator) negotiate(raw net.Conn, target resolve.Target, pol Policy) (net.Conn, *stream.Decoder, error) {
	conn := raw
	secure := false
	if target.DirectTLS {
		tc := tls.Client(raw, n.tlsConfig(true))
		if err := tc.Handshake(); err != nil {
			return nil, nil, fmt.Errorf("TLS with %s: %w", target, err)
		}
		conn, secure = tc, true
	}
	dec := stream.NewDecoder(conn, stream.Limits{})
	authed := false
	for {
		h, features, err := n.open(conn, dec)
		if err != nil {
			return nil, nil, err
		}
		n.header, n.features = h, features
		if !secure {
			if features.Child(nsTLS, "starttls") != nil {
				tc, err := n.startTLS(conn, dec)
				if err != nil {
					return nil, nil, err
				}
				conn, secure = tc, true
				dec.Reset(conn)
				continue
			}
			if !pol.AllowPlain {
				return nil, nil, fmt.Errorf("%s offers no STARTTLS, and TLS is required", target)
			}
		}
		if secure {
			if err := n.checkPeer(pol); err != nil {
				return nil, nil, err
			}
		}
		if authed || !n.authenticate {
			return conn, dec, nil
		}
		if ok, err := n.external(conn, dec, features); err != nil {
			return nil, nil, err
		} else if ok {
			authed = true
			continue // the stream restarts after SASL success
		}
		if err := n.dialback(conn, dec, h, features, pol); err != nil {
			return nil, nil, err
		}
		return conn, dec, nil
	}
}

// open sends a stream header and reads the peer's and its features.
func (n *initiator) open(conn net.Conn, dec *stream.Decoder) (stream.Header, *stanza.Element, error) {
	hdr := stream.AppendHeader(nil, stream.Header{
		ContentNS: stanza.NSServer, From: n.local, To: n.remote, Version: "1.0",
		Attr: []stanza.Attr{{Name: xmlnsName("db"), Value: dialback.NS}},
	})
	if _, err := conn.Write(hdr); err != nil {
		return stream.Header{}, nil, fmt.Errorf("writing the stream header: %w", err)
	}
	h, err := dec.ReadHeader()
	if err != nil {
		return stream.Header{}, nil, fmt.Errorf("reading the stream header: %w", err)
	}
	if h.ContentNS != stanza.NSServer {
		return h, nil, fmt.Errorf("the peer's stream is %q, not jabber:server", h.ContentNS)
	}
	if h.Version != "1.0" {
		return h, nil, fmt.Errorf("the peer speaks stream version %q, not 1.0 (no TLS)", h.Version)
	}
	features, err := n.next(dec)
	if err != nil {
		return h, nil, err
	}
	if features.Name.Space != stanza.NSStream || features.Name.Local != "features" {
		return h, nil, fmt.Errorf("expected stream features, got <%s/>", features.Name.Local)
	}
	return h, features, nil
}

// next reads the next element, turning a stream error into an error.
func (n *initiator) next(dec *stream.Decoder) (*stanza.Element, error) {
	el, err := dec.Next()
	if err != nil {
		return nil, fmt.Errorf("reading from the peer: %w", err)
	}
	if se := stream.ParseStreamError(el); se != nil {
		return nil, fmt.Errorf("the peer sent %w", se)
	}
	return el, nil
}

func (n *initiator) startTLS(conn net.Conn, dec *stream.Decoder) (net.Conn, error) {
	if _, err := conn.Write([]byte("<starttls xmlns='" + nsTLS + "'/>")); err != nil {
		return nil, fmt.Errorf("writing starttls: %w", err)
	}
	el, err := n.next(dec)
	if err != nil {
		return nil, err
	}
	if el.Name.Space != nsTLS || el.Name.Local != "proceed" {
		return nil, fmt.Errorf("STARTTLS refused: <%s/>", el.Name.Local)
	}
	if dec.Buffered() > 0 {
		return nil, errors.New("the peer sent data after <proceed/>")
	}
	tc := tls.Client(conn, n.tlsConfig(false))
	if err := tc.Handshake(); err != nil {
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	return tc, nil
}

// tlsConfig verifies the peer with certid (RFC 6125 names that Go's own
// check does not know), records the result, and never fails the
// handshake over it: whether an unverified peer may still be used
// (dialback) is the policy's call, in checkPeer.
func (n *initiator) tlsConfig(direct bool) *tls.Config {
	cfg := &tls.Config{
		ServerName:         n.remote,
		MinVersion:         n.pool.opts.MinTLS,
		InsecureSkipVerify: true, // verified below, with XMPP's identity rules
		VerifyConnection: func(cs tls.ConnectionState) error {
			n.peerVerified, n.peerErr = certid.Verify(cs.PeerCertificates, n.remote, certid.Options{Roots: n.pool.opts.Roots})
			return nil
		},
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if c := n.pool.certificate(n.local); c != nil {
				return c, nil
			}
			return &tls.Certificate{}, nil
		},
	}
	if direct {
		cfg.NextProtos = []string{alpnServer}
	}
	return cfg
}

// checkPeer applies the policy to the peer's certificate.
func (n *initiator) checkPeer(pol Policy) error {
	if n.peerVerified != "" {
		return nil
	}
	if pol.RequireVerified || pol.NoDialback || n.pool.opts.Dialback == nil {
		return fmt.Errorf("the certificate of %s does not verify: %w", n.remote, n.peerErr)
	}
	return nil
}

// external authenticates with SASL EXTERNAL (XEP-0178 §3) when the peer
// offers it and a certificate covers the local domain. It reports false,
// with no error, when EXTERNAL is not possible or failed: dialback may
// follow on the same stream.
func (n *initiator) external(conn net.Conn, dec *stream.Decoder, features *stanza.Element) (bool, error) {
	offered := false
	if mechs := features.Child(nsSASL, "mechanisms"); mechs != nil {
		for _, m := range mechs.ChildrenNamed(nsSASL, "mechanism") {
			offered = offered || m.Text() == "EXTERNAL"
		}
	}
	if !offered || n.pool.certificate(n.local) == nil {
		return false, nil
	}
	auth := "<auth xmlns='" + nsSASL + "' mechanism='EXTERNAL'>" + base64.StdEncoding.EncodeToString([]byte(n.local)) + "</auth>"
	if _, err := conn.Write([]byte(auth)); err != nil {
		return false, fmt.Errorf("writing auth: %w", err)
	}
	el, err := n.next(dec)
	if err != nil {
		return false, err
	}
	switch {
	case el.Name.Space == nsSASL && el.Name.Local == "success":
		n.setAuth("SASL EXTERNAL", conn)
		return true, nil
	case el.Name.Space == nsSASL && el.Name.Local == "failure":
		n.log.Info("s2s: SASL EXTERNAL refused, trying dialback", "failure", el.String())
		return false, nil
	}
	return false, fmt.Errorf("unexpected answer to SASL EXTERNAL: <%s/>", el.Name.Local)
}

// dialback authenticates the local domain with Server Dialback (XEP-0220
// §2.1.1): the key for the stream ID the peer gave, then its verdict.
func (n *initiator) dialback(conn net.Conn, dec *stream.Decoder, h stream.Header, features *stanza.Element, pol Policy) error {
	keyer := n.pool.opts.Dialback
	offered := features.Child(dialback.NSFeature, "dialback") != nil
	if keyer == nil || pol.NoDialback || !offered {
		return fmt.Errorf("no authentication method in common with %s (SASL EXTERNAL failed or not offered; dialback %s)",
			n.remote, map[bool]string{true: "not allowed", false: "not offered"}[offered])
	}
	if h.ID == "" {
		return errors.New("the peer's stream has no id: dialback is impossible")
	}
	req := dialback.Message{Kind: dialback.Result, From: n.local, To: n.remote, Key: keyer.Key(n.remote, n.local, h.ID)}
	if _, err := conn.Write(req.AppendXML(nil)); err != nil {
		return fmt.Errorf("writing the dialback key: %w", err)
	}
	for {
		el, err := n.next(dec)
		if err != nil {
			return err
		}
		if el.Name.Space != dialback.NS {
			return fmt.Errorf("unexpected <%s/> while waiting for the dialback result", el.Name.Local)
		}
		m, err := dialback.Parse(el)
		if err != nil {
			return fmt.Errorf("dialback answer: %w", err)
		}
		if m.Kind != dialback.Result || m.From != n.remote || m.To != n.local {
			// XEP-0220 §3.1: answers must match a request on this stream.
			return fmt.Errorf("dialback answer for %s→%s, not ours", m.From, m.To)
		}
		switch m.Type {
		case dialback.TypeValid:
			n.setAuth("dialback", conn)
			return nil
		case dialback.TypeError:
			return fmt.Errorf("dialback refused with an error: %v", m.Err)
		default:
			return errors.New("dialback refused: the key was found invalid")
		}
	}
}

func (n *initiator) setAuth(method string, conn net.Conn) {
	n.auth, n.tlsVer = method, "none"
	if tc, ok := conn.(*tls.Conn); ok {
		n.tlsVer = tls.VersionName(tc.ConnectionState().Version)
	}
}
