package web_test

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/web"
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
