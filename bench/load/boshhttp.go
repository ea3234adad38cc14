package load

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// boshHTTP is a BOSH session's HTTP/1.1 client: up to boshMaxIdle kept
// connections to the endpoint, each request written in one write and its
// response read on the requesting goroutine. Go's net/http client (a
// Transport with its connection goroutines, a request and a response
// value with header maps per request) cost the generator as much CPU per
// BOSH login as the server spent serving it, so that a storm measured
// the generator; this one does what a BOSH session needs and no more.
// A response is read with net/http's ReadResponse (any framing).
type boshHTTP struct {
	host string // the Host header
	path string // the request target
	dial func(ctx context.Context) (net.Conn, error)

	mu     sync.Mutex
	idle   []*boshHTTPConn
	closed bool
}

// boshMaxIdle is how many connections a session keeps: the held request's
// and the other's.
const boshMaxIdle = 2

// boshHTTPConn is one kept connection.
type boshHTTPConn struct {
	net.Conn
	br *bufio.Reader
}

// newBOSHHTTP returns the client of the endpoint u (http or https) for
// session idx of d: its source address and TLS configuration.
func (d *Dialer) newBOSHHTTP(idx int, u *url.URL) *boshHTTP {
	var nd net.Dialer
	if la := d.Sources.For(idx); la != nil {
		nd.LocalAddr = la // only when set: a typed nil would not be nil
	}
	addr := u.Host
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		addr = net.JoinHostPort(u.Hostname(), port)
	}
	var tc *tls.Config
	if u.Scheme == "https" {
		tc = d.tlsConfig(idx)
		tc.NextProtos = []string{"http/1.1"}
	}
	return &boshHTTP{
		host: u.Host,
		path: u.RequestURI(),
		dial: func(ctx context.Context) (net.Conn, error) {
			raw, err := nd.DialContext(ctx, "tcp", addr)
			if err != nil || tc == nil {
				return raw, err
			}
			c := tls.Client(raw, tc)
			if err := c.HandshakeContext(ctx); err != nil {
				raw.Close()
				return nil, fmt.Errorf("TLS handshake: %w", err)
			}
			return c, nil
		},
	}
}

// errBOSHClosed is the error of a request after close.
var errBOSHClosed = errors.New("the BOSH session's connections are closed")

// get returns a kept connection (reused) or a new one.
func (h *boshHTTP) get(ctx context.Context) (c *boshHTTPConn, reused bool, err error) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, false, errBOSHClosed
	}
	if n := len(h.idle); n > 0 {
		c = h.idle[n-1]
		h.idle[n-1] = nil
		h.idle = h.idle[:n-1]
		h.mu.Unlock()
		return c, true, nil
	}
	h.mu.Unlock()
	conn, err := h.dial(ctx)
	if err != nil {
		return nil, false, err
	}
	return &boshHTTPConn{Conn: conn, br: bufio.NewReaderSize(conn, 4096)}, false, nil
}

// put keeps c for the next request, or closes it.
func (h *boshHTTP) put(c *boshHTTPConn) {
	h.mu.Lock()
	if !h.closed && len(h.idle) < boshMaxIdle {
		h.idle = append(h.idle, c)
		c = nil
	}
	h.mu.Unlock()
	if c != nil {
		c.Close()
	}
}

// close closes the kept connections; later requests fail.
func (h *boshHTTP) close() {
	h.mu.Lock()
	idle := h.idle
	h.idle, h.closed = nil, true
	h.mu.Unlock()
	for _, c := range idle {
		c.Close()
	}
}

// do posts body and returns the response's status and body (at most
// limit bytes and one more). wrote, if not nil, is called once the
// request is written. A request on a kept connection that the server had
// closed (no byte of a response) is sent once more on a new connection:
// the same rid again, which a BOSH server answers as a retransmission if
// it had it (XEP-0124 §14.3).
func (h *boshHTTP) do(ctx context.Context, body []byte, limit int64, wrote func()) (int, []byte, error) {
	req := make([]byte, 0, len(body)+128+len(h.path)+len(h.host))
	req = append(req, "POST "...)
	req = append(req, h.path...)
	req = append(req, " HTTP/1.1\r\nHost: "...)
	req = append(req, h.host...)
	req = append(req, "\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: "...)
	req = strconv.AppendInt(req, int64(len(body)), 10)
	req = append(req, "\r\n\r\n"...)
	req = append(req, body...)
	for attempt := 0; ; attempt++ {
		c, reused, err := h.get(ctx)
		if err != nil {
			return 0, nil, err
		}
		status, data, keep, answered, err := h.roundTrip(ctx, c, req, limit, wrote)
		if err == nil {
			if keep {
				h.put(c)
			} else {
				c.Close()
			}
			return status, data, nil
		}
		c.Close()
		if !reused || answered || attempt > 0 || ctx.Err() != nil {
			return 0, nil, err
		}
	}
}

// roundTrip writes req on c and reads the response; answered reports
// that some of a response came.
func (h *boshHTTP) roundTrip(ctx context.Context, c *boshHTTPConn, req []byte, limit int64, wrote func()) (status int, data []byte, keep, answered bool, err error) {
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := c.Write(req); err != nil {
		return 0, nil, false, false, err
	}
	if wrote != nil {
		wrote()
	}
	if _, err := c.br.Peek(1); err != nil {
		return 0, nil, false, false, err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return 0, nil, false, true, err
	}
	data, err = io.ReadAll(io.LimitReader(resp.Body, limit+1))
	resp.Body.Close()
	if err != nil {
		return 0, nil, false, true, err
	}
	if !stop() {
		return 0, nil, false, true, ctx.Err() // the deadline is spent
	}
	c.SetDeadline(time.Time{})
	keep = !resp.Close && int64(len(data)) <= limit
	return resp.StatusCode, data, keep, true, nil
}
