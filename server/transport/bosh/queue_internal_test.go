package bosh

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// testSession is a session of a handler without an engine, its element
// bound max bytes, with no request held.
func testSession(t *testing.T, max int) *session {
	t.Helper()
	h := &Handler{opts: Options{Inactivity: time.Minute, Log: slog.Default()}, ctx: context.Background(), sessions: map[string]*session{}, max: max}
	s := newSession(h, 1, time.Second, 1)
	h.sessions[s.sid] = s
	t.Cleanup(func() { s.Close() })
	return s
}

// recorder returns a responder through net/http that records the
// response.
func recorder() (*httptest.ResponseRecorder, *httpResponder) {
	w := httptest.NewRecorder()
	return w, &httpResponder{w: w, r: httptest.NewRequest(http.MethodPost, "/http-bind", nil), ch: make(chan []byte, 1)}
}

// TestWriteBoundedWithoutRequests: output for a client that sends no
// request is bounded: Write waits, fails at its deadline, and goes on
// once a request takes what is queued.
func TestWriteBoundedWithoutRequests(t *testing.T) {
	s := testSession(t, 100)
	msg := []byte(`<message to="a@b"><body>` + strings.Repeat("x", 60) + `</body></message>`)
	if err := s.Write(msg); err != nil {
		t.Fatalf("first write: %v", err)
	}
	big := []byte(`<message to="a@b"><body>` + strings.Repeat("y", 4100) + `</body></message>`)
	s.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	if err := s.Write(big); !errors.Is(err, errDeadline) {
		t.Fatalf("write past the bound with no request: %v", err)
	}
	s.mu.Lock()
	queued := s.outBytes
	s.mu.Unlock()
	if queued > s.maxOutput() || queued >= len(big) {
		t.Fatalf("%d bytes queued, bound %d", queued, s.maxOutput())
	}

	// A blocked Write proceeds when a request takes the output.
	s.SetWriteDeadline(time.Now().Add(5 * time.Second))
	done := make(chan error, 1)
	go func() { done <- s.Write(big) }()
	select {
	case err := <-done:
		t.Fatalf("write past the bound did not wait: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	w, rs := recorder()
	s.request(rs, stanza.New(NSHTTPBind, "body"), 2)
	status, resp := w.Code, w.Body.Bytes()
	if status != 200 || !strings.Contains(string(resp), "xxxx") || !strings.Contains(string(resp), `<message xmlns="jabber:client" to="a@b">`) {
		t.Fatalf("response %d %s", status, resp)
	}
	if err := <-done; err != nil {
		t.Fatalf("write after the request: %v", err)
	}
}

// TestSessionsBounded: past the bound, creation is refused and no
// session is added.
func TestSessionsBounded(t *testing.T) {
	s := testSession(t, 100)
	s.h.opts.MaxSessions = 1
	s.h.opts.Secure = func(*http.Request) bool { return false }
	w, rs := recorder()
	s.h.create(rs, httptest.NewRequest(http.MethodPost, "/http-bind", nil), stanza.New(NSHTTPBind, "body", "to", "localhost", "rid", "7"), 7)
	if !strings.Contains(w.Body.String(), `condition="remote-connection-failed"`) || s.h.Sessions() != 1 {
		t.Fatalf("creation past the bound: %d %s, %d sessions", w.Code, w.Body, s.h.Sessions())
	}
}

// TestTricklingBody: a request body that does not arrive within
// BodyTimeout is cut with the terminal condition bad-request, and the
// connection is closed.
func TestTricklingBody(t *testing.T) {
	h := &Handler{opts: Options{BodyTimeout: 200 * time.Millisecond, Log: slog.New(slog.DiscardHandler)}, ctx: context.Background(), sessions: map[string]*session{}, max: 1000}
	srv := httptest.NewServer(h)
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	fmt.Fprintf(conn, "POST /http-bind HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n<body")
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no response to a body that stopped: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `condition="bad-request"`) || !resp.Close || time.Since(start) < 200*time.Millisecond {
		t.Fatalf("after %v: %d %q, close %v", time.Since(start), resp.StatusCode, b, resp.Close)
	}
}
