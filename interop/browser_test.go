package interop

import (
	"bytes"
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBrowserWebClient: the built-in web client (Converse.js at /) in
// Debian's chromium, driven by playwright-core (xmppjs/browser.mjs): kim
// logs in on the page, a message from lou (slixmpp over TCP) shows up,
// kim answers from the page and lou receives the answer, then kim sends a
// file through the page (HTTP File Upload) and lou downloads the same
// bytes from the URL he receives. Screenshots of
// each step are kept in $PARLEY_TEST_OUTPUT/browser (default: a folder
// under the system's temporary folder, named in the log).
func TestBrowserWebClient(t *testing.T) {
	needSlixmpp(t)
	needXmppjs(t)
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		need(t, "chromium", "/usr/bin/chromium not found; apt-get install chromium")
	}
	if _, err := os.Stat(filepath.Join(testDir(t), "xmppjs", "node_modules", "playwright-core", "package.json")); err != nil {
		need(t, "playwright-core", "run npm ci in interop/xmppjs")
	}
	out := filepath.Join(os.TempDir(), "parley-test-output", "browser")
	if d := os.Getenv("PARLEY_TEST_OUTPUT"); d != "" {
		out = filepath.Join(d, "browser")
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", out)

	s := theServer(t)
	lou := startSlixmpp(t, s, "lou", peerOpts{})
	hello := "hello kim, from slixmpp <&>"
	file := filepath.Join(t.TempDir(), "parley-upload-test.txt")
	content := []byte(strings.Repeat("uploaded through the web client\n", 100))
	if err := os.WriteFile(file, content, 0o644); err != nil {
		t.Fatal(err)
	}
	browser := startNode(t, "browser.mjs", "--url", "https://"+s.https+"/", "--username", "kim", "--password", password("kim"),
		"--from", bare("lou"), "--expect", hello, "--reply", "hi lou, from the browser", "--upload", file, "--out", out, "--timeout", "30000")
	events, stderr := browser.events, browser.stderr
	expect := func(want string) {
		t.Helper()
		select {
		case ev, ok := <-events:
			if !ok || ev["event"] != want {
				t.Fatalf("browser: got %v (open: %v), want %q\nbrowser log:\n%s\nparley log:\n%s", ev, ok, want, tail(stderr.String(), 4000), s.log.String())
			}
		case <-time.After(90 * time.Second):
			t.Fatalf("browser: no %q\nbrowser log:\n%s", want, tail(stderr.String(), 4000))
		}
	}
	expect("online")
	if log := s.log.String(); !strings.Contains(log, "component=websocket") || !strings.Contains(log, "user=kim@localhost") {
		t.Errorf("the page's session did not come over WebSocket:\n%s", log)
	}
	lou.message(bare("kim"), hello)
	expect("seen")
	expect("replied")
	lou.expectMessage(bare("kim"), "hi lou, from the browser")
	expect("uploaded")
	ev := lou.expect("the file's URL", eventTimeout, func(ev event) bool {
		return ev.Event == "message" && bareOf(ev.From) == bare("kim") && strings.Contains(ev.Body, "/upload/")
	})
	url := strings.TrimSpace(ev.Body)
	get := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := get.Get(url)
	if err != nil {
		t.Fatalf("downloading %s: %v", url, err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, content) {
		t.Fatalf("download of %s: %s, %d bytes (want %d)", url, resp.Status, len(got), len(content))
	}
}

// tail returns the end of s.
func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
