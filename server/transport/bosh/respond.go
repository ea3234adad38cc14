package bosh

import (
	"bytes"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/parley-xmpp/parley/server/web"
)

// responder answers one request, once: on the connection taken from
// net/http (connResponder), or through net/http (httpResponder).
type responder interface {
	// respond sends the response now, on the calling goroutine; not
	// under a session's lock.
	respond(status int, body []byte)
	// deliver sends a held request's response (status 200); called
	// under the session's lock, so it does not block.
	deliver(body []byte)
	// wait returns once a held request's response is sent, or its
	// client is gone (the request stays held, and is answered at 'wait'
	// for nobody); at once when deliver sends the response itself.
	wait()
}

// responseTimeout bounds writing a response on a connection taken from
// net/http.
const responseTimeout = 30 * time.Second

// responder returns r's responder: on r's connection, taken from net/http
// when it came through web.Serve (web.Handback), else through w. Call it
// once r's body is read.
func (h *Handler) responder(w http.ResponseWriter, r *http.Request) responder {
	back := web.Handback(r)
	if back == nil {
		return &httpResponder{w: w, r: r, ch: make(chan []byte, 1)}
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		h.opts.Log.Debug("bosh: the connection stays with net/http", "remote", r.RemoteAddr, "err", err)
		return &httpResponder{w: w, r: r, ch: make(chan []byte, 1)}
	}
	var buffered []byte
	if n := brw.Reader.Buffered(); n > 0 {
		p, _ := brw.Reader.Peek(n) // pipelined: the next request
		buffered = bytes.Clone(p)
	}
	// net/http's buffered reader and writer go with brw.
	return &connResponder{conn: conn, buffered: buffered, back: back, close: r.Close || !r.ProtoAtLeast(1, 1)}
}

// The response headers of the binding: CORS for every response, the
// type and caching of a <body/>. corsHeaders and bodyHeaders are the
// same, as written on a connection taken from net/http.
var (
	corsHeader = [][2]string{
		{"Access-Control-Allow-Origin", "*"},
		{"Access-Control-Allow-Methods", "POST, OPTIONS"},
		{"Access-Control-Allow-Headers", "Content-Type"},
		{"Access-Control-Max-Age", "86400"},
	}
	bodyHeader = [][2]string{
		{"Content-Type", "text/xml; charset=utf-8"},
		{"Cache-Control", "no-store"},
		{"X-Content-Type-Options", "nosniff"},
	}
	corsHeaders = headerLines(corsHeader)
	bodyHeaders = headerLines(bodyHeader)
)

// headerLines writes hs as HTTP header lines.
func headerLines(hs [][2]string) string {
	var b strings.Builder
	for _, h := range hs {
		b.WriteString(h[0] + ": " + h[1] + "\r\n")
	}
	return b.String()
}

// setHeaders sets the response headers of the binding: CORS for every
// response, the type and caching of a <body/>.
func setHeaders(hd http.Header, body bool) {
	for _, h := range corsHeader {
		hd.Set(h[0], h[1])
	}
	if body {
		for _, h := range bodyHeader {
			hd.Set(h[0], h[1])
		}
	}
}

// httpResponder answers through net/http: its goroutine waits while the
// request is held.
type httpResponder struct {
	w    http.ResponseWriter
	r    *http.Request
	ch   chan []byte // deliver's response, for wait
	sent atomic.Bool
}

func (x *httpResponder) respond(status int, body []byte) {
	if x.sent.Swap(true) {
		return
	}
	setHeaders(x.w.Header(), status != http.StatusNoContent)
	x.w.WriteHeader(status)
	x.w.Write(body)
}

func (x *httpResponder) deliver(body []byte) {
	select {
	case x.ch <- body:
	default: // delivered already
	}
}

func (x *httpResponder) wait() {
	select {
	case b := <-x.ch:
		x.respond(http.StatusOK, b)
	case <-x.r.Context().Done():
	}
}

// connResponder answers on the connection taken from net/http, then
// hands it back for the next request (or closes it). A held request has
// no goroutine: deliver writes the response on one of its own.
type connResponder struct {
	conn     net.Conn
	buffered []byte // read past the request: the next one
	back     func(net.Conn, []byte)
	close    bool // the client asked for the connection to close after it
	sent     atomic.Bool
}

func (x *connResponder) respond(status int, body []byte) {
	if x.sent.Swap(true) {
		return
	}
	b := make([]byte, 0, 512+len(body))
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(status)...)
	b = append(b, "\r\nDate: "...)
	b = time.Now().UTC().AppendFormat(b, http.TimeFormat)
	b = append(b, "\r\n"+corsHeaders...)
	if status != http.StatusNoContent {
		b = append(b, bodyHeaders+"Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
		b = append(b, "\r\n"...)
	}
	if x.close {
		b = append(b, "Connection: close\r\n"...)
	}
	b = append(b, "\r\n"...)
	b = append(b, body...)
	_ = x.conn.SetWriteDeadline(time.Now().Add(responseTimeout))
	_, err := x.conn.Write(b)
	_ = x.conn.SetWriteDeadline(time.Time{})
	if err != nil || x.close {
		x.conn.Close()
		return
	}
	x.back(x.conn, x.buffered)
}

func (x *connResponder) deliver(body []byte) { go x.respond(http.StatusOK, body) }

func (x *connResponder) wait() {}
