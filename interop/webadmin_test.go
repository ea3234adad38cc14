package interop

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// TestBrowserWebAdmin: the web admin pages (/admin/ on the admin
// listener) in Debian's chromium, driven by playwright-core
// (xmppjs/webadmin.mjs), against a `parley serve` of its own: a wrong
// token is refused, the operator logs in with a token made by `parley
// admin token`, the
// sessions page lists a real client's session, its Kick button ends
// that session (the client sees the stream end with
// <policy-violation/>), and the warnings page lists the failed login
// (kept by serve's logger). Screenshots of each step are kept in
// $PARLEY_TEST_OUTPUT/webadmin (default: a folder under the system's
// temporary folder, named in the log).
func TestBrowserWebAdmin(t *testing.T) {
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		need(t, "chromium", "/usr/bin/chromium not found; apt-get install chromium")
	}
	if _, err := os.Stat(filepath.Join(testDir(t), "xmppjs", "node_modules", "playwright-core", "package.json")); err != nil {
		need(t, "playwright-core", "run npm ci in interop/xmppjs")
	}
	out := filepath.Join(os.TempDir(), "parley-test-output", "webadmin")
	if d := os.Getenv("PARLEY_TEST_OUTPUT"); d != "" {
		out = filepath.Join(d, "webadmin")
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", out)

	shared := theServer(t)
	dir := t.TempDir()
	s := &server{dir: dir, data: filepath.Join(dir, "data"), bin: shared.bin, log: &lockedBuffer{}, exited: make(chan struct{})}
	if err := addUsers(s.bin, s.data, []string{"wendy"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	mk := exec.CommandContext(ctx, s.bin, "admin", "token", "--data", s.data, "--name", "browser")
	tok, err := mk.Output()
	if err != nil {
		t.Fatalf("parley admin token: %v", err)
	}
	token := strings.TrimSpace(string(tok))
	if s.starttls, err = freePort(); err != nil {
		t.Fatal(err)
	}
	adminAddr, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	yaml := fmt.Sprintf(`domains: [%s]
listeners:
  - {type: c2s, address: %q}
  - {type: admin, address: %q}
auth:
  scram_iterations: 4096
`, domain, s.starttls, adminAddr)
	if err := s.run(s.data, yaml, s.starttls+" (STARTTLS)"); err != nil {
		t.Fatalf("starting parley: %v\n%s", err, s.log.String())
	}
	t.Cleanup(s.stop)

	c, err := client.Dial(ctx, client.Config{JID: jid.MustParse(bare("wendy")), Password: password("wendy"), Resource: "kickme",
		Address: s.starttls, TLS: &tls.Config{InsecureSkipVerify: true}})
	if err != nil {
		t.Fatalf("wendy cannot log in: %v\n%s", err, s.log.String())
	}
	defer c.Close()
	if err := c.Send(ctx, stanza.New(stanza.NSClient, "presence")); err != nil {
		t.Fatal(err)
	}
	full := bare("wendy") + "/kickme"

	browser := startNode(t, "webadmin.mjs", "--url", "http://"+adminAddr+"/admin/", "--token", token, "--kick", full, "--out", out)
	expect := func(want string) map[string]string {
		t.Helper()
		select {
		case ev, ok := <-browser.events:
			if !ok || ev["event"] != want {
				t.Fatalf("browser: got %v (open: %v), want %q\nbrowser log:\n%s\nparley log:\n%s", ev, ok, want, tail(browser.stderr.String(), 4000), tail(s.log.String(), 4000))
			}
			return ev
		case <-time.After(90 * time.Second):
			t.Fatalf("browser: no %q\nbrowser log:\n%s", want, tail(browser.stderr.String(), 4000))
		}
		return nil
	}
	expect("refused")
	expect("logged-in")
	if ev := expect("listed"); ev["sessions"] != full {
		t.Errorf("sessions listed: %q, want %q", ev["sessions"], full)
	}
	expect("kicked")
	expect("warnings")
	select {
	case <-c.Done():
		if err := c.Err(); err == nil || !strings.Contains(err.Error(), "policy-violation") {
			t.Errorf("the kicked session ended with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the kicked client's session did not end")
	}
	log := s.log.String()
	for _, want := range []string{"admin web: login", "token=browser", "action=\"kick " + full + "\""} {
		if !strings.Contains(log, want) {
			t.Errorf("the server's log has no %q:\n%s", want, tail(log, 4000))
		}
	}
	if strings.Contains(log, token) {
		t.Error("the server logged the token")
	}
}
