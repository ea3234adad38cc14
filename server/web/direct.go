package web

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"sync"
	"time"

	"golang.org/x/net/http/httpguts"
)

// ConnServer is a handler that also serves requests the server reads
// itself, without net/http, on a connection it handed back (Handback):
// the next request of a BOSH session, on a connection that waited for
// it in the poller. Only a plain request goes this way (see parseHead);
// anything else, and every first request of a connection, goes to
// net/http as before.
type ConnServer interface {
	http.Handler
	// ServeConn serves r, whose body is read from body (exactly
	// r.ContentLength bytes), answering on c and handing c back with
	// back once answered (or closing it).
	ServeConn(r *http.Request, body io.Reader, c net.Conn, back func(c net.Conn, buffered []byte))
	// MaxBody is the largest body ServeConn takes; a request with a
	// larger one goes to net/http (ServeHTTP refuses it there).
	MaxBody() int64
}

// headBufSize is the size of the buffer a handed-back connection's next
// request head is read into; a larger head goes to net/http.
const headBufSize = 4096

var headBufs = sync.Pool{New: func() any { b := make([]byte, headBufSize); return &b }}

// serveNext serves the requests of c, a connection handed back, on the
// calling goroutine: a request for the direct handler (ConnServer) is
// read and served here, anything else goes to net/http with what was
// read of it. With wait, c may have no input yet: its next request is
// waited for up to releaseAfter (awaitFirst), else c waits in the
// poller. A request answered at once is followed by the next one on the
// same goroutine; one held is answered later by another goroutine,
// which serves the connection's next request in turn (handback).
func (l *listener) serveNext(c net.Conn, wait bool) {
	for c != nil {
		var buffered []byte
		if c, buffered = l.serveOne(c, wait); c != nil {
			c = l.next(c, buffered)
		}
		wait = true
	}
}

// serveOne reads and serves one request of c (serveNext). It returns c
// and what was read past the request when the handler handed c back
// before returning (the response sent at once), for serveNext to go on
// with, else nil.
func (l *listener) serveOne(c net.Conn, wait bool) (net.Conn, []byte) {
	cs := l.s.direct
	if cs == nil || l.ctx.Err() != nil {
		l.requeue(c)
		return nil, nil
	}
	bp := headBufs.Get().(*[]byte)
	defer headBufs.Put(bp)
	buf := *bp
	n := 0
	if wait {
		var ok bool
		if n, ok = l.awaitFirst(c, buf, time.Now()); !ok {
			return nil, nil
		}
	}
	c.SetReadDeadline(time.Now().Add(l.s.headerTimeout()))
	end := bytes.Index(buf[:n], []byte("\r\n\r\n"))
	for end < 0 && n < len(buf) {
		m, err := c.Read(buf[n:])
		n += m
		if end = bytes.Index(buf[:n], []byte("\r\n\r\n")); end >= 0 {
			break // a head (or one this large: net/http's to judge)
		}
		if err != nil {
			// As net/http does: an idle connection closed, a head cut
			// short or too slow get no response.
			c.Close()
			return nil, nil
		}
	}
	c.SetReadDeadline(time.Time{})
	var h head
	if end < 0 || !parseHead(buf[:end+2], &h) || h.contentLength > cs.MaxBody() {
		l.requeue(&prefixConn{Conn: c, prefix: bytes.Clone(buf[:n])})
		return nil, nil
	}
	rest := buf[end+4 : n]
	var body io.Reader
	t := &turn{l: l}
	if int64(len(rest)) >= h.contentLength {
		body = bytes.NewReader(bytes.Clone(rest[:h.contentLength]))
		if extra := rest[h.contentLength:]; len(extra) > 0 {
			t.pipelined = bytes.Clone(extra)
		}
	} else {
		body = io.MultiReader(bytes.NewReader(bytes.Clone(rest)), io.LimitReader(c, h.contentLength-int64(len(rest))))
	}
	ctx := l.base
	if sc := tlsConn(c); sc != nil {
		ctx = context.WithValue(ctx, tlsConnKey{}, sc)
	}
	r := (&http.Request{
		Method:        http.MethodPost,
		URL:           &url.URL{Path: PathBOSH},
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h.header,
		Body:          http.NoBody,
		ContentLength: h.contentLength,
		Host:          h.host,
		Close:         h.close,
		RemoteAddr:    c.RemoteAddr().String(),
		RequestURI:    PathBOSH,
	}).WithContext(ctx)
	l.s.directs.Add(1)
	cs.ServeConn(r, body, c, t.back)
	return t.end()
}

// turn is the hand-back of one request served by serveOne: while
// ServeConn runs (the response sent at once) it is left for serveOne's
// caller to go on with, so that a connection's requests do not nest;
// after (a held request answered), the goroutine that answered goes on
// with the connection (handback).
type turn struct {
	l         *listener
	pipelined []byte // read past the request: the next one
	mu        sync.Mutex
	over      bool // serveOne returned
	c         net.Conn
	buffered  []byte
}

// back is the request's hand-back (ConnServer.ServeConn).
func (t *turn) back(c net.Conn, buffered []byte) {
	buffered = append(t.pipelined, buffered...)
	t.mu.Lock()
	if !t.over {
		t.c, t.buffered = c, buffered
		t.mu.Unlock()
		return
	}
	t.mu.Unlock()
	t.l.handback(c, buffered)
}

// end marks serveOne's return: what was handed back until now.
func (t *turn) end() (net.Conn, []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.over = true
	return t.c, t.buffered
}

// head is what the direct path keeps of a request head.
type head struct {
	header        http.Header // as net/http's Request.Header
	host          string
	contentLength int64
	close         bool
}

// directLine is the request line the direct path takes.
const directLine = "POST " + PathBOSH + " HTTP/1.1\r\n"

// parseHead parses b, a request head (its lines, each ending in CRLF,
// without the empty line), into h, as net/http would, if it is one the
// direct path takes: the request line "POST /http-bind HTTP/1.1", one
// valid Host header, one Content-Length, no Transfer-Encoding, no Expect,
// every header line a valid name, a colon and a valid value. It returns
// false for anything else, which net/http then reads (and accepts or
// refuses) as before.
func parseHead(b []byte, h *head) bool {
	if !bytes.HasPrefix(b, []byte(directLine)) {
		return false
	}
	b = b[len(directLine):]
	h.header = make(http.Header, 8)
	for len(b) > 0 {
		i := bytes.Index(b, []byte("\r\n"))
		if i < 0 {
			return false
		}
		line := b[:i]
		b = b[i+2:]
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || !httpguts.ValidHeaderFieldName(string(line[:colon])) {
			return false // also a continuation line (obsolete folding)
		}
		value := string(bytes.Trim(line[colon+1:], " \t"))
		if !httpguts.ValidHeaderFieldValue(value) {
			return false
		}
		key := textproto.CanonicalMIMEHeaderKey(string(line[:colon]))
		h.header[key] = append(h.header[key], value)
	}
	hd := h.header
	if len(hd["Host"]) != 1 || !httpguts.ValidHostHeader(hd["Host"][0]) ||
		len(hd["Content-Length"]) != 1 || hd["Transfer-Encoding"] != nil || hd["Expect"] != nil {
		return false
	}
	cl := hd["Content-Length"][0]
	if len(cl) == 0 || len(cl) > 18 {
		return false
	}
	for i := 0; i < len(cl); i++ {
		if cl[i] < '0' || cl[i] > '9' {
			return false
		}
		h.contentLength = h.contentLength*10 + int64(cl[i]-'0')
	}
	h.host = hd["Host"][0]
	delete(hd, "Host")
	h.close = httpguts.HeaderValuesContainsToken(hd["Connection"], "close")
	if pragma := hd["Pragma"]; len(pragma) > 0 && pragma[0] == "no-cache" && hd["Cache-Control"] == nil {
		hd["Cache-Control"] = []string{"no-cache"} // RFC 7234 §5.4, as net/http
	}
	return true
}
