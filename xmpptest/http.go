package xmpptest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// EndlessBody sends an HTTP/1.1 request to rawURL whose chunked body never
// ends (its first chunk is start, then 32 KiB chunks of "x") and returns
// the response and its body. It fails the test unless the server answers
// and then closes the connection, both within Wait: a server that keeps
// reading would take the body for ever.
func EndlessBody(t testing.TB, method, rawURL string, header map[string]string, start string) (*http.Response, []byte) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var req strings.Builder
	fmt.Fprintf(&req, "%s %s HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\n", method, u.RequestURI(), u.Host)
	for k, v := range header {
		fmt.Fprintf(&req, "%s: %s\r\n", k, v)
	}
	req.WriteString("\r\n")
	if start != "" {
		fmt.Fprintf(&req, "%x\r\n%s\r\n", len(start), start)
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		if _, err := io.WriteString(conn, req.String()); err != nil {
			return
		}
		chunk := fmt.Appendf(nil, "%x\r\n%s\r\n", 32<<10, strings.Repeat("x", 32<<10))
		for {
			if _, err := conn.Write(chunk); err != nil {
				return
			}
		}
	}()
	conn.SetReadDeadline(time.Now().Add(Wait))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("xmpptest: no response to an endless body: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("xmpptest: reading the response to an endless body: %v", err)
	}
	select {
	case <-stopped: // the server closed the connection
	case <-time.After(Wait):
		t.Fatalf("xmpptest: the server still reads the endless body after answering %s", resp.Status)
	}
	return resp, b
}
