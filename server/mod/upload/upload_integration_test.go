package upload_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/mod/upload"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/disco"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

// setup starts a server with an HTTP listener and the upload service
// reachable there; it returns a logged-in client and the HTTP base URL.
func setup(t *testing.T, clock *xmpptest.Clock, settings map[string]any) (*xmpptest.Server, *client.Client, string) {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", xmpptest.FreePort(t))
	base := "http://" + addr
	if settings == nil {
		settings = map[string]any{}
	}
	settings["base_url"] = base
	opt := func(c *config.Config) {
		c.Listeners = append(c.Listeners, config.Listener{Type: config.ListenerHTTP, Address: addr})
		c.Modules.SetSection("upload", settings)
	}
	var s *xmpptest.Server
	if clock != nil {
		s = xmpptest.NewServerWithClock(t, clock, opt)
	} else {
		s = xmpptest.NewServer(t, opt)
	}
	s.AddUser(t, "alice", "pw")
	return s, s.Client(t, "alice", "pw", "desk"), base
}

// slot requests an upload slot; it returns the PUT and GET URLs, or the
// error.
func slot(t *testing.T, c *client.Client, name string, size int, ctype string) (put, get string, err error) {
	t.Helper()
	ctx := xmpptest.Context(t, 10*time.Second)
	req := stanza.New(upload.NS, "request", "filename", name, "size", strconv.Itoa(size))
	if ctype != "" {
		req.Set("content-type", ctype)
	}
	res, err := c.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", "upload.localhost", req))
	if err != nil {
		return "", "", err
	}
	sl := res.Child(upload.NS, "slot")
	return sl.Child(upload.NS, "put").Get("url"), sl.Child(upload.NS, "get").Get("url"), nil
}

func do(t *testing.T, method, url string, body []byte, hdr map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body == nil {
		req.Body = nil
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func condition(err error) stanza.Condition {
	if se, ok := err.(*stanza.Error); ok {
		return se.Condition
	}
	return ""
}

func TestDiscovery(t *testing.T) {
	s, c, _ := setup(t, nil, nil)
	ctx := xmpptest.Context(t, 10*time.Second)
	res, err := c.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", s.Domain(), stanza.New(disco.NSItems, "query")))
	if err != nil {
		t.Fatal(err)
	}
	items, _ := disco.ParseItems(res.Child(disco.NSItems, "query"))
	found := false
	for _, it := range items.Items {
		found = found || it.JID.String() == "upload.localhost"
	}
	if !found {
		t.Fatalf("the server's items do not list upload.localhost: %s", res)
	}
	res, err = c.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", "upload.localhost", stanza.New(disco.NSInfo, "query")))
	if err != nil {
		t.Fatal(err)
	}
	info, _ := disco.ParseInfo(res.Child(disco.NSInfo, "query"))
	if !info.HasFeature(upload.NS) || len(info.Identities) != 1 || info.Identities[0].Category != "store" ||
		!strings.Contains(res.String(), "max-file-size") {
		t.Fatalf("upload.localhost disco#info: %s", res)
	}
}

func TestUploadAndDownload(t *testing.T) {
	_, c, _ := setup(t, nil, nil)
	data := bytes.Repeat([]byte("parley "), 1000)
	put, get, err := slot(t, c, "très cool.jpg", len(data), "image/jpeg")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(get, "/tr%C3%A8s%20cool.jpg") || !strings.HasPrefix(put, get+"?") {
		t.Fatalf("slot URLs %q, %q", put, get)
	}
	if r := do(t, "PUT", get+"?v=wrong", data, map[string]string{"Content-Type": "image/jpeg"}); r.StatusCode != http.StatusForbidden {
		t.Fatalf("PUT with a wrong secret: %s", r.Status)
	}
	// The wrong secret did not use the slot up: the right one works.
	if r := do(t, "PUT", put, data[:10], map[string]string{"Content-Type": "image/jpeg"}); r.StatusCode != http.StatusBadRequest {
		t.Fatalf("PUT of the wrong size: %s", r.Status)
	}
	// A failed PUT used the slot: a new one is needed.
	if r := do(t, "PUT", put, data, map[string]string{"Content-Type": "image/jpeg"}); r.StatusCode != http.StatusForbidden {
		t.Fatalf("PUT on a used slot: %s", r.Status)
	}
	put, get, err = slot(t, c, "très cool.jpg", len(data), "image/jpeg")
	if err != nil {
		t.Fatal(err)
	}
	if r := do(t, "PUT", put, data, map[string]string{"Content-Type": "image/jpeg"}); r.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %s", r.Status)
	}
	if r := do(t, "PUT", put, data, map[string]string{"Content-Type": "image/jpeg"}); r.StatusCode != http.StatusForbidden {
		t.Fatalf("PUT with a used secret: %s", r.Status)
	}
	r := do(t, "GET", get, nil, nil)
	body, _ := io.ReadAll(r.Body)
	if r.StatusCode != http.StatusOK || !bytes.Equal(body, data) || r.Header.Get("Content-Type") != "image/jpeg" ||
		r.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(r.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatalf("GET: %s, %d bytes, headers %v", r.Status, len(body), r.Header)
	}
	r = do(t, "GET", get, nil, map[string]string{"Range": "bytes=7-13"})
	body, _ = io.ReadAll(r.Body)
	if r.StatusCode != http.StatusPartialContent || string(body) != "parley " {
		t.Fatalf("Range GET: %s %q", r.Status, body)
	}
}

func TestLimits(t *testing.T) {
	_, c, _ := setup(t, nil, map[string]any{"max_file_size": 600, "quota": 1000})
	if _, _, err := slot(t, c, "big.bin", 601, ""); condition(err) != stanza.NotAcceptable || !strings.Contains(err.Error(), "600") {
		t.Fatalf("oversized: %v", err)
	}
	if _, _, err := slot(t, c, "a.bin", 600, ""); err != nil {
		t.Fatal(err)
	}
	// The pending slot counts against the quota.
	if _, _, err := slot(t, c, "b.bin", 600, ""); condition(err) != stanza.ResourceConstraint {
		t.Fatalf("past the quota: %v", err)
	}
}

// TestActiveContentIsInert: HTML and SVG come back as attachments in a
// sandbox, never as pages of the server's origin.
func TestActiveContentIsInert(t *testing.T) {
	_, c, _ := setup(t, nil, nil)
	for name, ctype := range map[string]string{"x.html": "text/html", "x.svg": "image/svg+xml"} {
		data := []byte(`<script>alert(document.cookie)</script>`)
		put, get, err := slot(t, c, name, len(data), ctype)
		if err != nil {
			t.Fatal(err)
		}
		if r := do(t, "PUT", put, data, map[string]string{"Content-Type": ctype}); r.StatusCode != http.StatusCreated {
			t.Fatalf("PUT %s: %s", name, r.Status)
		}
		r := do(t, "GET", get, nil, nil)
		if !strings.HasPrefix(r.Header.Get("Content-Disposition"), "attachment") || !strings.Contains(r.Header.Get("Content-Security-Policy"), "sandbox") ||
			r.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("GET %s headers: %v", name, r.Header)
		}
	}
}

func TestPathTraversal(t *testing.T) {
	_, c, base := setup(t, nil, nil)
	data := []byte("secret-free")
	put, _, err := slot(t, c, "f.txt", len(data), "text/plain")
	if err != nil {
		t.Fatal(err)
	}
	do(t, "PUT", put, data, map[string]string{"Content-Type": "text/plain"})
	for _, p := range []string{
		"/upload/../parley.db", "/upload/%2e%2e/parley.db", "/upload/..%2fparley.db", "/upload/%252e%252e/parley.db",
		"/upload/%u002e%u002e/parley.db", "/upload/..;/parley.db", "/upload//etc/passwd", "/upload/x/../../parley.db",
		"/upload/AAAAAAAAAAAAAAAAAAAAAAAA/..%2f..%2fparley.db", "/upload/" + strings.Repeat("A", 24) + "/meta.json",
	} {
		req, err := http.NewRequest("GET", base, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.URL.Opaque = p // sent as written, not cleaned by the client
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK || bytes.Contains(b, []byte("SQLite")) {
			t.Errorf("GET %s: %s %q", p, resp.Status, b)
		}
	}
}

func TestExpiry(t *testing.T) {
	clock := xmpptest.NewClock(time.Now())
	_, c, _ := setup(t, clock, map[string]any{"retention": "1h"})
	data := []byte("short-lived")
	put, get, err := slot(t, c, "f.txt", len(data), "")
	if err != nil {
		t.Fatal(err)
	}
	if r := do(t, "PUT", put, data, nil); r.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %s", r.Status)
	}
	if r := do(t, "GET", get, nil, nil); r.StatusCode != http.StatusOK {
		t.Fatalf("GET before expiry: %s", r.Status)
	}
	clock.Step(2 * time.Hour)
	if r := do(t, "GET", get, nil, nil); r.StatusCode != http.StatusNotFound {
		t.Fatalf("GET after expiry: %s", r.Status)
	}
}

// TestEndlessPUT: a PUT whose chunked body never ends is refused before
// its body is read (the slot's size must be the Content-Length), and the
// connection closed; the service goes on.
func TestEndlessPUT(t *testing.T) {
	_, c, _ := setup(t, nil, nil)
	put, _, err := slot(t, c, "endless.bin", 1000, "")
	if err != nil {
		t.Fatal(err)
	}
	resp, b := xmpptest.EndlessBody(t, http.MethodPut, put, nil, "")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "Content-Length") || !resp.Close {
		t.Fatalf("endless PUT: %s %q, close %v", resp.Status, b, resp.Close)
	}
	data := bytes.Repeat([]byte("y"), 1000)
	put, get, err := slot(t, c, "next.bin", len(data), "")
	if err != nil {
		t.Fatal(err)
	}
	if r := do(t, "PUT", put, data, nil); r.StatusCode != http.StatusCreated {
		t.Fatalf("PUT after the endless one: %s", r.Status)
	}
	if r := do(t, "GET", get, nil, nil); r.StatusCode != http.StatusOK {
		t.Fatalf("GET: %s", r.Status)
	}
}
