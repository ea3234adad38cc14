package client

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	ws "github.com/coder/websocket"

	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// nsFraming is the namespace of RFC 7395's <open/> and <close/>.
const nsFraming = "urn:ietf:params:xml:ns:xmpp-framing"

// dialWebSocket connects to an XMPP over WebSocket endpoint (RFC 7395)
// and returns it as the byte stream the rest of the client speaks: the
// adapter turns the stream header into <open/> and back, the closing tag
// into <close/>, and writes every element as a message of its own. It
// reports whether the channel is confidential (wss, or ws to a loopback
// address).
func dialWebSocket(ctx context.Context, rawURL string, cfg *Config) (net.Conn, bool, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") {
		return nil, false, fmt.Errorf("client: %q is not a ws:// or wss:// URL", rawURL)
	}
	opts := &ws.DialOptions{Subprotocols: []string{"xmpp"}}
	if u.Scheme == "wss" {
		tc := cfg.tlsConfig(cfg.JID.Domain())
		if cfg.TLS == nil || cfg.TLS.ServerName == "" {
			tc.ServerName = u.Hostname()
		}
		tc.NextProtos = []string{"http/1.1"}
		opts.HTTPClient = &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
	}
	c, resp, err := ws.Dial(ctx, rawURL, opts)
	if err != nil {
		return nil, false, fmt.Errorf("client: WebSocket %s: %w", rawURL, err)
	}
	if resp.Header.Get("Sec-WebSocket-Protocol") != "xmpp" {
		c.CloseNow()
		return nil, false, fmt.Errorf("client: %s did not accept the xmpp subprotocol", rawURL)
	}
	c.SetReadLimit(16 << 20)
	secure := u.Scheme == "wss"
	if ip := net.ParseIP(u.Hostname()); ip != nil && ip.IsLoopback() || u.Hostname() == "localhost" {
		secure = true
	}
	w := &wsConn{ws: c, local: dummyAddr("websocket"), remote: dummyAddr(u.Host)}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	return w, secure, nil
}

// wsConn is a net.Conn over an RFC 7395 WebSocket.
type wsConn struct {
	ws            *ws.Conn
	local, remote net.Addr
	ctx           context.Context
	cancel        context.CancelFunc

	rmu  sync.Mutex // serialises reads
	rbuf []byte     // translated bytes not yet read
	wmu  sync.Mutex // serialises writes

	// The deadlines, and how to end the read or write in progress when
	// one is set in the past.
	dmu     sync.Mutex
	rdead   time.Time
	wdead   time.Time
	rcancel context.CancelFunc
	wcancel context.CancelFunc
}

// Read returns the translation of the next message(s).
func (c *wsConn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for len(c.rbuf) == 0 {
		ctx, cancel := c.op(&c.rdead, &c.rcancel)
		_, msg, err := c.ws.Read(ctx)
		cancel()
		if err != nil {
			if ws.CloseStatus(err) != -1 {
				return 0, io.EOF
			}
			return 0, err
		}
		c.rbuf, err = fromFrame(msg)
		if err != nil {
			return 0, err
		}
	}
	n := copy(p, c.rbuf)
	c.rbuf = c.rbuf[n:]
	return n, nil
}

// fromFrame turns a message into stream bytes: <open/> into a stream
// header, <close/> into the closing tag, anything else as it is.
func fromFrame(msg []byte) ([]byte, error) {
	trimmed := bytes.TrimSpace(msg)
	if !bytes.Contains(trimmed[:min(len(trimmed), 200)], []byte(nsFraming)) {
		return msg, nil
	}
	el, err := stream.ParseElement(trimmed, stream.DefaultLimits())
	if err != nil {
		return nil, err
	}
	switch {
	case el.Name.Space == nsFraming && el.Name.Local == "open":
		h := stream.Header{ContentNS: stanza.NSClient, To: el.Get("to"), From: el.Get("from"), ID: el.Get("id"), Version: el.Get("version")}
		for _, a := range el.Attr {
			if a.Name.Space == stanza.NSXML && a.Name.Local == "lang" {
				h.Lang = a.Value
			}
		}
		return stream.AppendHeader(nil, h), nil
	case el.Name.Space == nsFraming && el.Name.Local == "close":
		if uri := el.Get("see-other-uri"); uri != "" {
			return nil, &SeeOtherURIError{URI: uri}
		}
		return []byte(stream.Close), nil
	}
	return msg, nil
}

// SeeOtherURIError ends a WebSocket stream the server closed sending the
// client to another endpoint (RFC 7395 §3.6.1, <close see-other-uri/>),
// e.g. a server that stops sending its clients to another node of its
// cluster. The client should connect to URI instead, unless that lowers
// its security (wss:// to ws://).
type SeeOtherURIError struct {
	URI string
}

// Error implements error.
func (e *SeeOtherURIError) Error() string {
	return "client: the server closed the WebSocket stream, sending the client to " + e.URI
}

// Write sends what the client writes — a stream header, elements, the
// closing tag — one message per element.
func (c *wsConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	ctx, cancel := c.op(&c.wdead, &c.wcancel)
	defer cancel()
	items, err := splitWrite(p)
	if err != nil {
		return 0, fmt.Errorf("client: WebSocket: %w", err)
	}
	for _, it := range items {
		msg := it.el
		switch {
		case it.header != nil:
			open := stanza.New(nsFraming, "open", "version", "1.0")
			for _, a := range [][2]string{{"to", it.header.To}, {"from", it.header.From}} {
				if a[1] != "" {
					open.Set(a[0], a[1])
				}
			}
			if it.header.Lang != "" {
				open.SetNS(stanza.NSXML, "lang", it.header.Lang)
			}
			msg = open.AppendXML(nil, "")
		case it.close:
			msg = []byte(`<close xmlns="` + nsFraming + `"/>`)
		}
		if err := c.ws.Write(ctx, ws.MessageText, msg); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// written is one item of what the client writes to a framed transport
// (WebSocket, BOSH): a stream header, the closing tag, or one element
// qualified by jabber:client.
type written struct {
	header *stream.Header
	close  bool
	el     []byte
}

// splitWrite splits what the client writes into items.
func splitWrite(p []byte) ([]written, error) {
	var out []written
	b := bytes.TrimSpace(p)
	for len(b) > 0 {
		switch {
		case bytes.HasPrefix(b, []byte("<?xml")) || bytes.HasPrefix(b, []byte("<stream:stream")):
			d := stream.NewDecoder(bytes.NewReader(b), stream.DefaultLimits())
			h, err := d.ReadHeader()
			if err != nil {
				return nil, fmt.Errorf("a stream header: %w", err)
			}
			out = append(out, written{header: &h})
			end := bytes.IndexByte(b, '>')
			if bytes.HasPrefix(b, []byte("<?xml")) {
				end += bytes.IndexByte(b[end+1:], '>') + 1
			}
			b = bytes.TrimSpace(b[end+1:])
		case bytes.HasPrefix(b, []byte(stream.Close)):
			out = append(out, written{close: true})
			b = bytes.TrimSpace(b[len(stream.Close):])
		default:
			n, err := stream.ElementEnd(b)
			if err != nil {
				return nil, err
			}
			out = append(out, written{el: stream.WithDefaultNS(b[:n], stanza.NSClient)})
			b = bytes.TrimSpace(b[n:])
		}
	}
	return out, nil
}

// op returns the context of a read or write: bounded by its deadline, and
// cancelled when a deadline in the past is set while it runs.
func (c *wsConn) op(dead *time.Time, cancelp *context.CancelFunc) (context.Context, context.CancelFunc) {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	var ctx context.Context
	var cancel context.CancelFunc
	if dead.IsZero() {
		ctx, cancel = context.WithCancel(c.ctx)
	} else {
		ctx, cancel = context.WithDeadline(c.ctx, *dead)
	}
	*cancelp = cancel
	return ctx, cancel
}

func (c *wsConn) Close() error {
	c.cancel()
	return c.ws.CloseNow()
}

func (c *wsConn) LocalAddr() net.Addr  { return c.local }
func (c *wsConn) RemoteAddr() net.Addr { return c.remote }

// SetDeadline sets both deadlines. A read that reaches its deadline ends
// the WebSocket (the library closes it), which is what the client's uses
// of deadlines (timeouts, aborting) mean anyway.
func (c *wsConn) SetDeadline(t time.Time) error {
	c.SetReadDeadline(t)
	return c.SetWriteDeadline(t)
}

func (c *wsConn) SetReadDeadline(t time.Time) error { return c.setDeadline(t, &c.rdead, &c.rcancel) }

func (c *wsConn) SetWriteDeadline(t time.Time) error { return c.setDeadline(t, &c.wdead, &c.wcancel) }

func (c *wsConn) setDeadline(t time.Time, dead *time.Time, cancel *context.CancelFunc) error {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	*dead = t
	if !t.IsZero() && !t.After(time.Now()) && *cancel != nil {
		(*cancel)() // end the operation in progress now
	}
	return nil
}

// dummyAddr names a WebSocket end.
type dummyAddr string

func (a dummyAddr) Network() string { return "websocket" }
func (a dummyAddr) String() string  { return string(a) }
