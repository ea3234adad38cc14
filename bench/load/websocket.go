package load

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"

	ws "github.com/coder/websocket"

	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// XMPP over WebSocket (RFC 7395): a session's connection is a WebSocket
// that carries one XML element per text message. The stream header is an
// <open/> element of the framing namespace (the server answers with one,
// then its features), the stream's end a <close/>; every message is a
// complete element that declares its namespace. There is no STARTTLS:
// wss:// has TLS of its own, ws:// none.

// nsFraming is the namespace of RFC 7395's <open/> and <close/>.
const nsFraming = "urn:ietf:params:xml:ns:xmpp-framing"

// wsSubprotocol is the WebSocket subprotocol of XMPP (RFC 7395 §3.2).
const wsSubprotocol = "xmpp"

// ErrFramedClose is returned by a WebSocket session's reads once the
// server sent <close/>.
var ErrFramedClose = errors.New("load: the server closed the stream (<close/>)")

// checkWebSocketURL accepts ws:// and wss:// URLs.
func checkWebSocketURL(raw string) (*url.URL, error) {
	return checkURL(raw, "WebSocket", "ws", "wss")
}

// checkURL accepts URLs of the plain or the TLS scheme with a host, of
// the transport named kind.
func checkURL(raw, kind, plain, secure string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("load: %s URL: %w", kind, err)
	}
	if (u.Scheme != plain && u.Scheme != secure) || u.Host == "" {
		return nil, fmt.Errorf("load: %s URL %q: want %s://host:port/path or %s://…", kind, raw, plain, secure)
	}
	return u, nil
}

// dialWebSocket opens connection idx to d.WebSocket (from source address
// d.Sources.For(idx)), with the xmpp subprotocol, and returns it as a
// net.Conn whose every Write is one text message.
func (d *Dialer) dialWebSocket(ctx context.Context, idx int) (net.Conn, error) {
	u, err := checkWebSocketURL(d.WebSocket)
	if err != nil {
		return nil, err
	}
	tr := d.httpTransport(idx, u.Scheme == "wss")
	tr.DisableKeepAlives = true
	c, resp, err := ws.Dial(ctx, d.WebSocket, &ws.DialOptions{
		HTTPClient:   &http.Client{Transport: tr},
		Subprotocols: []string{wsSubprotocol},
	})
	if err != nil {
		return nil, fmt.Errorf("connect: WebSocket %s: %w", d.WebSocket, err)
	}
	if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != wsSubprotocol {
		c.CloseNow()
		return nil, fmt.Errorf("connect: WebSocket %s: subprotocol %q, want %q", d.WebSocket, got, wsSubprotocol)
	}
	// The connection outlives the login's context: Login bounds the
	// login with deadlines, which the net.Conn turns into closing it.
	return ws.NetConn(context.Background(), c, ws.MessageText), nil
}

// httpTransport is an HTTP/1.1 client transport for connection idx, from
// source address d.Sources.For(idx), with TLS when secure (the WebSocket
// upgrade needs HTTP/1.1; BOSH keeps to it as its clients do).
func (d *Dialer) httpTransport(idx int, secure bool) *http.Transport {
	var nd net.Dialer
	if la := d.Sources.For(idx); la != nil {
		nd.LocalAddr = la // only when set: a typed nil would not be nil
	}
	tr := &http.Transport{DialContext: nd.DialContext}
	if secure {
		tc := d.tlsConfig(idx)
		tc.NextProtos = []string{"http/1.1"}
		tr.TLSClientConfig = tc
	}
	return tr
}

// appendOpen appends RFC 7395's <open/> for domain.
func appendOpen(buf []byte, domain string) []byte {
	buf = append(buf, "<open xmlns='"+nsFraming+"' to='"...)
	buf = appendEscaped(buf, domain)
	return append(buf, "' version='1.0' xml:lang='en'/>"...)
}

// framedClose is RFC 7395's <close/>.
const framedClose = "<close xmlns='" + nsFraming + "'/>"

// openFramed opens a (new) stream over a WebSocket: it sends <open/> and
// reads the server's <open/>. The decoder reads the messages after a
// stream header of its own, so that each element the server sends is a
// child of that stream.
func (s *Session) openFramed(domain string) error {
	if err := s.writeBytes(appendOpen(nil, domain)); err != nil {
		return fmt.Errorf("sending <open/>: %w", err)
	}
	src := io.MultiReader(bytes.NewReader(stream.AppendHeader(nil, stream.Header{Version: "1.0", ContentNS: stanza.NSClient})), s.conn)
	if s.dec == nil {
		s.dec = stream.NewDecoder(src, stream.Limits{})
	} else {
		s.dec.Reset(src)
	}
	if _, err := s.dec.ReadHeader(); err != nil {
		return fmt.Errorf("reading the stream header: %w", err)
	}
	el, err := s.next()
	if err != nil {
		return fmt.Errorf("reading <open/>: %w", err)
	}
	if el.Name.Space != nsFraming || el.Name.Local != "open" {
		return fmt.Errorf("expected <open/>, got <%s xmlns='%s'/>", el.Name.Local, el.Name.Space)
	}
	if v := el.Get("version"); v != "1.0" {
		return fmt.Errorf("<open/> of version %q, want 1.0", v)
	}
	return nil
}
