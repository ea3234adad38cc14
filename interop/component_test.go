package interop

import (
	"os"
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
	run := func(secret string) (chan map[string]string, *lockedBuffer) {
		p := startNode(t, "component.cjs", "--service", "xmpp://"+s.component, "--domain", "echo."+domain, "--password", secret)
		return p.events, p.stderr
	}
	next := func(events chan map[string]string, stderr *lockedBuffer) map[string]string {
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
