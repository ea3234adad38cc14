package web_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/web"
	"github.com/parley-xmpp/parley/xmpptest"
)

// serve runs a web.Server on a loopback port until the test ends.
func serve(t *testing.T, o web.Options) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); web.New(o).Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String()
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := web.New(web.Options{Handlers: map[string]http.Handler{"/mine/": hijacker{}}})
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	get := func(path string) string {
		t.Helper()
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s %q", path, resp.Status, b)
		}
		return string(b)
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
	cancel()
	if n, err := br.Read(make([]byte, 1)); err == nil {
		t.Fatalf("a waiting connection still open after the server stopped: read %d", n)
	}
}
