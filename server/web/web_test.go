package web_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/tlsrec"
	"github.com/parley-xmpp/parley/server/web"
	"github.com/parley-xmpp/parley/xmpptest"
)

// serve runs a web.Server on a loopback port until the test ends.
func serve(t *testing.T, o web.Options) string {
	t.Helper()
	addr, _ := serveServer(t, web.New(o))
	return addr
}

// TestSlowloris: a client that sends its headers a byte at a time is cut
// off at the header timeout, and others are served meanwhile.
func TestSlowloris(t *testing.T) {
	addr := serve(t, web.Options{HeaderTimeout: 300 * time.Millisecond})
	slow, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	slow.Write([]byte("GET /.well-known/host-meta HTTP/1.1\r\nHost: x\r\n"))
	resp, err := http.Get("http://" + addr + "/.well-known/host-meta.json")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("another client while one is slow: %v %v", resp, err)
	}
	resp.Body.Close()
	start := time.Now()
	slow.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, err := slow.Write([]byte("X")); err != nil {
			break // closed by the server
		}
		line, err := bufio.NewReader(slow).ReadString('\n')
		if err != nil || strings.Contains(line, "408") || strings.Contains(line, "400") {
			break
		}
		time.Sleep(50 * time.Millisecond)
		if time.Since(start) > 5*time.Second {
			t.Fatal("the slow client is still connected after 5 s")
		}
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("cut off after %v", d)
	}
}

// TestUnknownPaths: everything but the endpoints is 404, and the
// discovery documents allow any origin.
func TestUnknownPaths(t *testing.T) {
	addr := serve(t, web.Options{})
	for _, p := range []string{"/", "/xmpp-websocket", "/../etc/passwd", "/upload/x"} {
		resp, err := http.Get("http://" + addr + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %s", p, resp.Status)
		}
	}
}

// serveServer runs srv on a loopback port; stop (also at the test's
// end) stops it.
func serveServer(t *testing.T, srv *web.Server) (addr string, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ctx, ln) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return ln.Addr().String(), stop
}

// dial connects to addr, with a deadline of 10 s for everything.
func dial(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c, bufio.NewReader(c)
}

// readResponse reads one response and its body.
func readResponse(t *testing.T, br *bufio.Reader, what string) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// hijacker answers every request on the connection it takes from
// net/http and hands the connection back (web.Handback).
type hijacker struct{}

func (hijacker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	back := web.Handback(r)
	if back == nil {
		http.Error(w, "not served by web.Serve", http.StatusInternalServerError)
		return
	}
	c, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	var buffered []byte
	if n := brw.Reader.Buffered(); n > 0 {
		p, _ := brw.Reader.Peek(n)
		buffered = append(buffered, p...)
	}
	io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nmine"+r.URL.Path[len("/mine/"):])
	back(c, buffered)
}

// TestHandback: a connection a handler took from net/http and handed
// back waits for its next request in the poller, and net/http serves
// that request, whatever its path; input pipelined behind a hijacked
// request is the next request; the server's end closes a waiting
// connection.
func TestHandback(t *testing.T) {
	srv := web.New(web.Options{Handlers: map[string]http.Handler{"/mine/": hijacker{}}})
	addr, stop := serveServer(t, srv)
	defer stop()
	c, br := dial(t, addr)
	get := func(path string) string {
		t.Helper()
		resp, b := readResponse(t, br, "GET "+path)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s %q", path, resp.Status, b)
		}
		return b
	}
	req := func(path string) string { return "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n" }

	io.WriteString(c, req("/mine/-1"))
	if b := get("/mine/-1"); b != "mine-1" {
		t.Fatalf("hijacked response %q", b)
	}
	xmpptest.Eventually(t, "the connection handed back parks", func() bool { return srv.Parks() == 1 })
	io.WriteString(c, req(web.PathHostMeta+".json"))
	if b := get(web.PathHostMeta + ".json"); !strings.Contains(b, "links") {
		t.Fatalf("host-meta after a hand-back: %q", b)
	}
	// Two requests at once: the first hijacked, the second read ahead.
	io.WriteString(c, req("/mine/-2")+req("/mine/-3")+req(web.PathHostMeta+".json"))
	for _, want := range []string{"mine-2", "mine-3"} {
		if b := get("/mine/"); b != want {
			t.Fatalf("pipelined: %q, want %q", b, want)
		}
	}
	if b := get(web.PathHostMeta + ".json"); !strings.Contains(b, "links") {
		t.Fatalf("host-meta pipelined behind hand-backs: %q", b)
	}

	io.WriteString(c, req("/mine/-4"))
	get("/mine/-4")
	xmpptest.Eventually(t, "the connection parks again", func() bool { return srv.Parks() >= 2 })
	stop()
	if n, err := br.Read(make([]byte, 1)); err == nil {
		t.Fatalf("a waiting connection still open after the server stopped: read %d", n)
	}
}

// direct is a BOSH handler that answers on the connection, through
// net/http (ServeHTTP, hijacking) or, on a connection handed back, as a
// web.ConnServer; each answer names the way it came and echoes the body.
type direct struct {
	depths chan int // when not nil: the stack depths of ServeConn's calls answered at once
}

func (direct) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	back := web.Handback(r)
	c, brw, err := http.NewResponseController(w).Hijack()
	if back == nil || err != nil {
		http.Error(w, "no hand-back", http.StatusInternalServerError)
		return
	}
	var buffered []byte
	if n := brw.Reader.Buffered(); n > 0 {
		p, _ := brw.Reader.Peek(n)
		buffered = append(buffered, p...)
	}
	answer(c, "http:"+string(b), r.Close, func(c net.Conn) { back(c, buffered) })
}

// ServeConn answers at once, within the call; a body starting with
// "held" is answered after ServeConn returned (a held request answered
// later, on another goroutine). It records, in depths, how deep the
// stack is in each call answered at once.
func (d direct) ServeConn(r *http.Request, body io.Reader, c net.Conn, back func(net.Conn, []byte)) {
	b, err := io.ReadAll(body)
	if err != nil || int64(len(b)) != r.ContentLength || r.Host != "x" {
		c.Close()
		return
	}
	s := "direct:" + string(b) + r.Header.Get("X-Check")
	if web.OverTLS(r) {
		s += "+tls"
	}
	if strings.HasPrefix(string(b), "held") {
		go func() {
			time.Sleep(5 * time.Millisecond) // ServeConn has returned
			answer(c, s, r.Close, func(c net.Conn) { back(c, nil) })
		}()
		return
	}
	if d.depths != nil {
		d.depths <- runtime.Callers(0, make([]uintptr, 256))
	}
	answer(c, s, r.Close, func(c net.Conn) { back(c, nil) })
}

func (direct) MaxBody() int64 { return 64 }

// TestAwaitFirst: the next request of a connection handed back that
// comes within a second is read by the goroutine that answered the
// previous one, whether it answered within ServeConn or later (a held
// request), without the poller; requests answered at once follow each
// other in a loop, not in nested calls. A connection that waits longer
// goes to the poller, and its next request is served all the same.
func TestAwaitFirst(t *testing.T) {
	h := direct{depths: make(chan int, 100)}
	srv := web.New(web.Options{BOSH: h})
	srv.SetKeepFor(time.Hour)
	addr, _ := serveServer(t, srv)
	c, br := dial(t, addr)
	exchange := func(body string) {
		t.Helper()
		io.WriteString(c, "POST /http-bind HTTP/1.1\r\nHost: x\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body)
		if _, b := readResponse(t, br, body); b != "http:"+body && b != "direct:"+body {
			t.Fatalf("%s: %q", body, b)
		}
	}
	exchange("first") // through net/http
	for i := range 20 {
		if i%4 == 3 {
			exchange("held" + strconv.Itoa(i))
		} else {
			exchange("now" + strconv.Itoa(i))
		}
	}
	if d := srv.Direct(); d != 20 {
		t.Fatalf("%d requests served directly, want 20", d)
	}
	if p := srv.Polled(); p != 0 {
		t.Fatalf("%d waits in the poller, want none", p)
	}
	if p := srv.Parks(); p < 20 {
		t.Fatalf("%d waits counted, want 20 at least", p)
	}
	// Three answered at once between two held requests (each answered
	// on a new goroutine): their depths must be the same.
	var depths []int
	for range 15 {
		depths = append(depths, <-h.depths)
	}
	for i := 1; i < len(depths); i++ {
		if i%3 != 0 && depths[i] != depths[i-1] {
			t.Fatalf("ServeConn called at depths %v: requests answered at once nest", depths)
		}
	}

	srv = web.New(web.Options{BOSH: direct{}})
	srv.SetKeepFor(20 * time.Millisecond)
	addr, _ = serveServer(t, srv)
	c, br = dial(t, addr)
	exchange("first")
	exchange("now")
	xmpptest.Eventually(t, "the connection waits in the poller", func() bool { return srv.Polled() == 1 })
	exchange("now, after the poller")
	exchange("held, after the poller")
	if d := srv.Direct(); d != 3 {
		t.Fatalf("%d requests served directly, want 3", d)
	}
}

// TestAwaitFirstStop: a connection waiting for its next request on a
// goroutine is closed when the server stops, without waiting for its
// time on the goroutine to pass.
func TestAwaitFirstStop(t *testing.T) {
	srv := web.New(web.Options{BOSH: direct{}})
	srv.SetKeepFor(time.Hour)
	addr, stop := serveServer(t, srv)
	c, br := dial(t, addr)
	for i, body := range []string{"one", "two"} {
		io.WriteString(c, "POST /http-bind HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n"+body)
		readResponse(t, br, body)
		xmpptest.Eventually(t, "the connection waits", func() bool { return srv.Parks() == uint64(i+1) })
	}
	stop()
	if n, err := br.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a waiting connection still open after the server stopped: read %d, %v", n, err)
	}
}

func answer(c net.Conn, s string, closing bool, back func(net.Conn)) {
	io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: "+strconv.Itoa(len(s))+"\r\n\r\n"+s)
	if closing {
		c.Close()
		return
	}
	back(c)
}

// TestDirect: the next request on a connection handed back is read by
// the server itself and given to the BOSH handler's ServeConn when it is
// a plain POST /http-bind within the handler's MaxBody (also when its
// body comes in parts, and with a request pipelined behind it); anything
// else (a chunked body, a larger body, a head net/http refuses) goes to
// net/http as before; Connection: close is kept.
func TestDirect(t *testing.T) {
	srv := web.New(web.Options{BOSH: direct{}})
	addr, stop := serveServer(t, srv)
	defer stop()
	c, br := dial(t, addr)
	read := func(what string) (*http.Response, string) {
		t.Helper()
		return readResponse(t, br, what)
	}
	post := func(body, extra string) string {
		return "POST /http-bind HTTP/1.1\r\nHost: x\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n" + extra + "\r\n" + body
	}
	expect := func(what, want string) {
		t.Helper()
		if _, b := read(what); b != want {
			t.Fatalf("%s: %q, want %q", what, b, want)
		}
	}
	waitParked := func(n uint64) {
		t.Helper()
		xmpptest.Eventually(t, fmt.Sprintf("the connection parks (%d of %d)", srv.Parks(), n), func() bool { return srv.Parks() >= n })
	}
	io.WriteString(c, post("one", ""))
	expect("first request", "http:one")
	waitParked(1)
	io.WriteString(c, post("two", "X-Check: !\r\n"))
	expect("a request on the connection handed back", "direct:two!")
	if srv.Direct() != 1 {
		t.Fatalf("%d requests served directly, want 1", srv.Direct())
	}
	// The body in two parts.
	waitParked(2)
	req := post("three", "")
	io.WriteString(c, req[:len(req)-2])
	time.Sleep(50 * time.Millisecond)
	io.WriteString(c, req[len(req)-2:])
	expect("a body in two parts", "direct:three")
	// Pipelined: the second goes to net/http with the bytes read ahead.
	waitParked(3)
	io.WriteString(c, post("four", "")+post("five", ""))
	expect("pipelined, first", "direct:four")
	expect("pipelined, second", "http:five")
	for i, r := range []string{
		"POST /http-bind HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nsix\r\n0\r\n\r\n",
		post(strings.Repeat("7", 65), ""),
	} {
		waitParked(uint64(4 + i))
		io.WriteString(c, r)
		if _, b := read(fmt.Sprintf("request %d for net/http", i)); !strings.HasPrefix(b, "http:") {
			t.Fatalf("request %d for net/http: %q", i, b)
		}
	}
	if srv.Direct() != 3 {
		t.Fatalf("%d requests served directly, want 3", srv.Direct())
	}
	// A head net/http refuses (no Host) is refused as before.
	waitParked(6)
	io.WriteString(c, "POST /http-bind HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
	if resp, _ := read("no Host"); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("no Host: %s", resp.Status)
	}
	c, br = dial(t, addr)
	io.WriteString(c, post("eight", ""))
	expect("a new connection", "http:eight")
	waitParked(7)
	io.WriteString(c, post("nine", "Connection: close\r\n"))
	if _, b := read("Connection: close"); b != "direct:nine" {
		t.Fatalf("Connection: close: %q", b)
	}
	if n, err := br.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("after Connection: close, read %d %v", n, err)
	}
}

// TestReleaseAfter: a TLS connection handed back (Parley's TLS layer)
// keeps its cipher states while its next request comes within a second,
// releases them after, and serves the next request all the same, read by
// the server itself and known to have come over TLS.
func TestReleaseAfter(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), DNSNames: []string{"localhost"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS13}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := web.New(web.Options{BOSH: direct{}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ctx, tlsrec.NewServer(cfg, tlsrec.RecordLayerParley).NewListener(ln, 10*time.Second))
	}()
	defer func() { cancel(); <-done }()
	c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c)
	post := func(body string) {
		t.Helper()
		io.WriteString(c, "POST /http-bind HTTP/1.1\r\nHost: x\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body)
	}
	post("one")
	if _, b := readResponse(t, br, "first"); b != "http:one" {
		t.Fatalf("first: %q", b)
	}
	xmpptest.Eventually(t, "the connection parks", func() bool { return srv.Parks() == 1 })
	parked := time.Now()
	post("two")
	_, b := readResponse(t, br, "within a second")
	if b != "direct:two+tls" || srv.Released() != 0 && time.Since(parked) < 900*time.Millisecond {
		t.Fatalf("within a second: %q, %d released", b, srv.Released())
	}
	xmpptest.Eventually(t, "the connection releases its TLS state", func() bool { return srv.Released() == 1 })
	post("three")
	if _, b := readResponse(t, br, "after the release"); b != "direct:three+tls" {
		t.Fatalf("after the release: %q", b)
	}
}
