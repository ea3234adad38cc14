package interop

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestXmppjsComponent: an external component written with
// @xmpp/component (XEP-0114) connects to the component listener with its
// secret, gets a user's (slixmpp) message and answers it; with a wrong
// secret it is refused.
func TestXmppjsComponent(t *testing.T) {
	needSlixmpp(t)
	needXmppjs(t)
	if _, err := os.Stat(filepath.Join(testDir(t), "xmppjs", "node_modules", "@xmpp", "component", "package.json")); err != nil {
		need(t, "@xmpp/component", "run npm ci in interop/xmppjs")
	}
	s := theServer(t)
	run := func(secret string) (events chan map[string]string, stderr *strings.Builder) {
		cmd := exec.Command("node", "component.cjs", "--service", "xmpp://"+s.component, "--domain", "echo."+domain, "--password", secret)
		cmd.Dir = filepath.Join(testDir(t), "xmppjs")
		stderr = &strings.Builder{}
		cmd.Stderr = stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		events = make(chan map[string]string, 16)
		go func() {
			defer close(events)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				var ev map[string]string
				if json.Unmarshal(sc.Bytes(), &ev) == nil {
					events <- ev
				}
			}
		}()
		return events, stderr
	}
	next := func(events chan map[string]string, stderr *strings.Builder) map[string]string {
		t.Helper()
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatalf("component: exited without a word\n%s", stderr)
			}
			return ev
		case <-time.After(loginTimeout):
			t.Fatalf("component: nothing within %v\n%s\nparley log:\n%s", loginTimeout, stderr, s.log.String())
			return nil
		}
	}

	bad, badErr := run("not the secret")
	if ev := next(bad, badErr); ev["event"] != "error" || !strings.Contains(ev["text"], "not-authorized") {
		t.Fatalf("wrong secret: %v", ev)
	}

	events, stderr := run(componentSecret)
	if ev := next(events, stderr); ev["event"] != "online" || ev["jid"] != "echo."+domain {
		t.Fatalf("component: %v\n%s", ev, stderr)
	}
	user := startSlixmpp(t, s, "zoe", peerOpts{})
	user.message("bot@echo."+domain, "ping from slixmpp")
	if ev := next(events, stderr); ev["event"] != "message" || ev["body"] != "ping from slixmpp" || bareOf(ev["from"]) != user.bare() {
		t.Fatalf("component got %v", ev)
	}
	user.expectMessage("bot@echo."+domain, "echo: ping from slixmpp")
}
