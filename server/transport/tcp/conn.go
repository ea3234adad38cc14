package tcp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/parley-xmpp/parley/server/stream"
	"github.com/parley-xmpp/parley/server/tlsrec"
	"github.com/parley-xmpp/parley/xmpp/sasl"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	xstream "github.com/parley-xmpp/parley/xmpp/stream"
)

// conn is the transport of one client connection: a TCP socket, TLS on
// it (direct or after STARTTLS), the deadline reader and the decoder. It
// implements stream.Transport, stream.TLSUpgrader and stream.Parker.
type conn struct {
	l *Listener
	// limits are the engine's when the connection came (they may change
	// on a configuration reload; an open connection keeps its own): a
	// snapshot shared with the connections that came under the same
	// limits (Listener.limits), never modified.
	limits *stream.Limits
	raw    net.Conn                    // the TCP connection
	tls    atomic.Pointer[tlsrec.Conn] // TLS on raw, once up: then in use instead of raw
	cb     map[string][]byte           // channel bindings of tls, set before it (StartTLS)

	rd  deadlineReader
	dec *xstream.Decoder

	// preauthKey is the address counted against Config.PreauthPerAddress,
	// until the connection authenticated or is gone; then, or if not
	// counted, the zero Addr. (A flag beside it took the struct, 320
	// bytes without it, to the allocator's next size class.)
	preauthKey netip.Addr
}

var (
	_ stream.Transport   = (*conn)(nil)
	_ stream.TLSUpgrader = (*conn)(nil)
	_ stream.Parker      = (*conn)(nil)
	_ stream.InputEnder  = (*conn)(nil)
)

func newConn(l *Listener, nc net.Conn) *conn {
	c := &conn{l: l, raw: nc, limits: l.limits()}
	c.rd = deadlineReader{conn: nc, clk: l.clk, idle: c.limits.IdlePing, pingWait: c.limits.PingTimeout,
		lim: newLimiter(c.limits.PreauthRate)}
	c.dec = xstream.NewDecoder(&c.rd, xstream.Limits{})
	return c
}

// Open implements stream.Transport: it starts the authentication
// deadline, and on a direct TLS listener (XEP-0368) runs the handshake.
func (c *conn) Open(ctx context.Context, r stream.Reader) error {
	c.rd.events = r
	c.rd.setHardDeadline(c.l.clk.now().Add(c.limits.PreauthTimeout))
	if c.l.cfg.DirectTLS {
		if err := c.StartTLS(ctx); err != nil {
			c.l.log.Info("c2s: TLS handshake failed", "remote", c.RemoteAddr(), "err", err)
			return err
		}
	}
	return nil
}

// ReadHeader implements stream.Transport.
func (c *conn) ReadHeader() (xstream.Header, error) { return c.dec.ReadHeader() }

// Next implements stream.Transport.
func (c *conn) Next() (*stanza.Element, error) { return c.dec.Next() }

// Restart implements stream.Transport.
func (c *conn) Restart() { c.dec.Reset(&c.rd) }

// SetLimits implements stream.Transport.
func (c *conn) SetLimits(l xstream.Limits) { c.dec.SetLimits(l) }

// Buffered implements stream.Transport.
func (c *conn) Buffered() bool { return c.dec.PendingData() }

// Authenticated implements stream.Transport: the connection stops counting
// against its address and takes Limits.Rate. The channel bindings go: no
// SASL exchange follows on this stream, and an idle session would keep
// their map (some 400 bytes) for its whole life.
func (c *conn) Authenticated() {
	c.releasePreauth()
	c.rd.lim = newLimiter(c.limits.Rate)
	c.cb = nil
}

// Bound implements stream.Transport.
func (c *conn) Bound() {
	c.rd.setHardDeadline(time.Time{})
	c.rd.pings = true
	if parkSupported {
		c.rd.parkAfter = c.limits.ParkAfter
		c.rd.canPark = c.Parkable
	}
}

// End implements stream.Transport.
// It runs on the reader goroutine after the last read, so it also drops
// what the reader held (EndInput), when the engine did not already.
func (c *conn) End() {
	c.releasePreauth()
	c.Close()
	c.EndInput()
}

// EndInput implements stream.InputEnder: the TLS layer's read buffer
// (with whatever the peer sent after its closing tag, a close_notify say)
// and AEAD, and the decoder's buffers, go back at once.
func (c *conn) EndInput() {
	if tc := c.tls.Load(); tc != nil {
		tc.Discard()
	}
	c.dec.Discard()
}

// AppendOpen implements stream.Transport.
func (c *conn) AppendOpen(buf []byte, h xstream.Header) []byte { return xstream.AppendHeader(buf, h) }

// AppendStreamElement implements stream.Transport.
func (c *conn) AppendStreamElement(buf []byte, el *stanza.Element) []byte {
	return appendStreamElement(buf, el)
}

// AppendClose implements stream.Transport.
func (c *conn) AppendClose(buf []byte) []byte { return append(buf, xstream.Close...) }

// Write implements stream.Transport.
func (c *conn) Write(b []byte) error {
	var err error
	if tc := c.tls.Load(); tc != nil {
		_, err = tc.Write(b)
	} else {
		_, err = c.raw.Write(b)
	}
	return err
}

// SetWriteDeadline implements stream.Transport.
func (c *conn) SetWriteDeadline(t time.Time) error {
	if tc := c.tls.Load(); tc != nil {
		return tc.SetWriteDeadline(t)
	}
	return c.raw.SetWriteDeadline(t)
}

// Close implements stream.Transport.
func (c *conn) Close() error {
	if tc := c.tls.Load(); tc != nil {
		return tc.Close()
	}
	return c.raw.Close()
}

// Secure implements stream.Transport: TLS is up.
func (c *conn) Secure() bool { return c.tls.Load() != nil }

// ChannelBindings implements stream.Transport: tls-exporter (RFC 9266;
// TLS 1.3, or 1.2 with extended master secret) and tls-server-end-point
// (RFC 5929). Both are fixed once the handshake is done, so they are
// computed once per connection: a login asked for them up to five times
// (stream features, SASL2 and FAST mechanism lists, the exchange), each
// time an HKDF export and a hash of the certificate, 12 % of the bytes
// the server allocated in a login storm.
func (c *conn) ChannelBindings() map[string][]byte {
	if c.tls.Load() == nil {
		return nil
	}
	return c.cb
}

// RemoteAddr implements stream.Transport.
func (c *conn) RemoteAddr() string { return c.raw.RemoteAddr().String() }

// TransportName names the transport in metrics (stream.Named).
func (c *conn) TransportName() string { return "tcp" }

// errNoTLS: a direct TLS listener was configured without TLS.
var errNoTLS = errors.New("c2s: no TLS configuration")

// CanStartTLS implements stream.TLSUpgrader.
func (c *conn) CanStartTLS() bool { return c.l.tls != nil }

// StartTLS implements stream.TLSUpgrader.
func (c *conn) StartTLS(ctx context.Context) error {
	if c.l.tls == nil {
		return errNoTLS
	}
	hctx, cancel := context.WithTimeout(ctx, c.limits.PreauthTimeout)
	defer cancel()
	tc, st, err := c.l.tls.Handshake(hctx, c.raw)
	if err != nil {
		return err
	}
	// The handshake state is not kept (it would hold the handshake's
	// secrets and transcript): what SASL needs of it is taken now.
	c.cb = c.computeChannelBindings(&st)
	c.tls.Store(tc) // after cb: whoever sees TLS up sees its bindings
	c.rd.conn = tc
	return nil
}

// computeChannelBindings is called once, right after the handshake, with
// its state (StartTLS).
func (c *conn) computeChannelBindings(st *tls.ConnectionState) map[string][]byte {
	cb := make(map[string][]byte, 2)
	{
		if data, err := st.ExportKeyingMaterial(sasl.ExporterLabel, []byte{}, 32); err == nil {
			cb[sasl.TLSExporter] = data
		}
	}
	if leaf := c.serverCert(st.ServerName); leaf != nil {
		cb[sasl.TLSServerEndPoint] = sasl.EndPointBinding(leaf)
	}
	return cb
}

// serverCert returns the certificate this server presented for a name.
func (c *conn) serverCert(name string) *x509.Certificate {
	var cert *tls.Certificate
	cfg := c.l.cfg.TLS
	if cfg.GetCertificate != nil {
		cert, _ = cfg.GetCertificate(&tls.ClientHelloInfo{ServerName: name})
	} else if len(cfg.Certificates) > 0 {
		cert = &cfg.Certificates[0]
	}
	if cert == nil || len(cert.Certificate) == 0 {
		return nil
	}
	if cert.Leaf != nil {
		return cert.Leaf
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil
	}
	return leaf
}

// appendStreamElement writes an element of the streams namespace with the
// conventional stream: prefix, and its children in the jabber:client scope.
func appendStreamElement(buf []byte, el *stanza.Element) []byte {
	if el.Name.Space != stanza.NSStream {
		return el.AppendXML(buf, stanza.NSClient)
	}
	buf = append(buf, "<stream:"...)
	buf = append(buf, el.Name.Local...)
	buf = append(buf, '>')
	for _, ch := range el.Elements() {
		buf = ch.AppendXML(buf, stanza.NSClient)
	}
	buf = append(buf, "</stream:"...)
	buf = append(buf, el.Name.Local...)
	return append(buf, '>')
}
