package interop

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestStropheBOSH: strophe.js in Debian's chromium (strophe/peer.mjs),
// on a page of another origin than the server, logs in over BOSH
// (XEP-0124, XEP-0206) at its default settings, subscribes to a slixmpp
// partner and is subscribed to, exchanges a message each way, sends
// presence, and disconnects cleanly: the partner sees it go unavailable
// and the server sees the client end the session.
func TestStropheBOSH(t *testing.T) {
	stropheScenario(t, "https://%s/http-bind", "bella", "boris")
}

// TestStropheWebSocket: the same over XMPP over WebSocket (RFC 7395).
func TestStropheWebSocket(t *testing.T) {
	stropheScenario(t, "wss://%s/xmpp-websocket", "wanda", "walt")
}

// stropheScenario runs strophe.js as user with the service URL pattern
// (filled with the HTTPS listener's address) against a slixmpp partner.
func stropheScenario(t *testing.T, service, user, partner string) {
	needSlixmpp(t)
	needStrophe(t)
	s := theServer(t)
	b := startSlixmpp(t, s, partner, peerOpts{})
	mark := s.log.Len()
	a := startStrophe(t, s, user, strings.Replace(service, "%s", s.https, 1))

	if bareOf(a.online.JID) != a.bare() || !strings.Contains(a.online.JID, "/") {
		a.fail("bound JID %q, want a full JID of %s", a.online.JID, a.bare())
	}
	// Strophe's default choice: the mechanism of the highest priority it
	// knows among those offered.
	want := ""
	for _, m := range stropheMechanisms {
		if contains(a.online.Offered, m) {
			want = m
			break
		}
	}
	if want == "" || a.online.Mech != want {
		a.fail("logged in with SASL %q, want %q (offered %v)", a.online.Mech, want, a.online.Offered)
	}
	checkWebTransport(t, a, s.logSince(mark), strings.HasSuffix(service, "/http-bind"))

	subscribe(t, a, b)
	chat(t, a, b)
	presenceUpdates(t, a, b) // ends with a's quit, seen by b

	if log := s.logSince(mark); !strings.Contains(log, "stream closed by peer") {
		a.fail("the server did not see strophe close its session")
	}
}

// checkWebTransport checks in the server's log that p's session came over
// BOSH (else WebSocket), from a page of another origin on this machine:
// the transport's line for the connection the session authenticated on.
func checkWebTransport(t *testing.T, p *peer, log string, bosh bool) {
	t.Helper()
	m := regexp.MustCompile(`msg="c2s: authenticated" .*remote=(\S+) user=` + regexp.QuoteMeta(p.bare()) + ` `).FindStringSubmatch(log)
	if m == nil {
		p.fail("no authentication of %s in the server's log", p.bare())
	}
	line := `msg="websocket: connection accepted" component=websocket remote=` + m[1] + ` origin=http://127.0.0.1:`
	if bosh {
		line = `msg="bosh: session created" component=bosh remote=` + m[1] + ` origin=http://127.0.0.1:`
	}
	if !strings.Contains(log, line) {
		p.fail("the server's log has no %q: the session did not come over that transport from the page", line)
	}
}

// stropheMechanisms are the SASL mechanisms strophe.js offers a password
// login, in its order of preference (the priorities of its sasl-*.ts).
var stropheMechanisms = []string{"SCRAM-SHA-512", "SCRAM-SHA-384", "SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"}

// startStrophe starts strophe/peer.mjs for user, connected to service (a
// BOSH or WebSocket URL): a peer like slixmpp's.
func startStrophe(t *testing.T, s *server, user, service string) *peer {
	t.Helper()
	args := []string{"peer.mjs", "--service", service, "--jid", bare(user), "--password", password(user)}
	if os.Getenv("PARLEY_INTEROP_DEBUG") != "" {
		args = append(args, "--debug") // every stanza, on stderr
	}
	cmd := exec.Command("node", args...)
	cmd.Dir = filepath.Join(testDir(t), "strophe")
	cmd.Env = append(os.Environ(), "NODE_NO_WARNINGS=1")
	return startPeer(t, s, "strophe.js "+user, user, cmd)
}

func needStrophe(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		need(t, "strophe.js", "node not found on PATH")
	}
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		need(t, "chromium", "/usr/bin/chromium not found; apt-get install chromium")
	}
	for _, pkg := range []string{"strophe.js", "playwright-core"} {
		if _, err := os.Stat(filepath.Join(testDir(t), "strophe", "node_modules", pkg, "package.json")); err != nil {
			need(t, pkg, "interop/strophe/node_modules missing; run npm ci in interop/strophe")
		}
	}
}
