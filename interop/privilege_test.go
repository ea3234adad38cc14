package interop

import (
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// privilegedSecret is the shared secret of the components of
// TestSlixmppPrivilegedComponent.
const privilegedSecret = "privileged-component-secret"

// privilegedServer starts a server of the scenario's own (from the shared
// one's binary) with two components: gw.<domain>, granted roster both,
// message outgoing and presence managed_entity (XEP-0356), and
// plain.<domain>, granted nothing.
func privilegedServer(t *testing.T, users ...string) *server {
	t.Helper()
	shared := theServer(t)
	dir := t.TempDir()
	s := &server{dir: dir, data: filepath.Join(dir, "data"), bin: shared.bin, log: &lockedBuffer{}}
	if err := addUsers(s.bin, s.data, users); err != nil {
		t.Fatal(err)
	}
	var err error
	if s.starttls, err = freePort(); err != nil {
		t.Fatal(err)
	}
	if s.component, err = freePort(); err != nil {
		t.Fatal(err)
	}
	yaml := fmt.Sprintf(`domains: [%[1]s]
listeners:
  - {type: c2s, address: %[2]q}
  - {type: component, address: %[3]q}
components:
  - domain: gw.%[1]s
    secret: %[4]q
    privileges: {roster: both, message: outgoing, presence: managed_entity}
  - {domain: plain.%[1]s, secret: %[4]q}
auth:
  scram_iterations: 4096
log:
  level: debug
`, domain, s.starttls, s.component, privilegedSecret)
	if err := s.run(s.data, yaml, s.starttls+" (STARTTLS)", s.component+" (components)"); err != nil {
		t.Fatalf("starting parley: %v\n%s", err, s.log.String())
	}
	t.Cleanup(s.stop)
	return s
}

// startComponent runs slixmpp/privileged_component.py as the component
// of domain, a subdomain of the served one.
func startComponent(t *testing.T, s *server, domain string) *peer {
	t.Helper()
	host, port, _ := net.SplitHostPort(s.component)
	cmd := exec.Command(python, filepath.Join(testDir(t), "slixmpp", "privileged_component.py"),
		"--jid", domain, "--password", privilegedSecret, "--host", host, "--port", port, "--server", strings.SplitN(domain, ".", 2)[1])
	return startPeer(t, s, "slixmpp component "+domain, domain, cmd)
}

// TestSlixmppPrivilegedComponent: a slixmpp ComponentXMPP with its
// XEP-0356 plugin learns its grants from the server, gets the users'
// presence (also of a user online before it connected), adds a contact
// to a user's roster and reads it back, and sends a message in a user's
// name, which the other user (slixmpp) gets from her bare JID. A
// component granted nothing gets <forbidden/> for the same requests.
func TestSlixmppPrivilegedComponent(t *testing.T) {
	needSlixmpp(t)
	s := privilegedServer(t, "priya", "piet")
	priya := startSlixmpp(t, s, "priya", peerOpts{})
	gw := startComponent(t, s, "gw."+domain)
	ev := gw.expect("the advertised privileges", eventTimeout, func(ev event) bool { return ev.Event == "privileges" })
	if ev.Items["roster"] != "both" || ev.Items["message"] != "outgoing" || ev.Items["presence"] != "managed_entity" {
		t.Fatalf("advertised %v", ev.Items)
	}
	// XEP-0356 §9 rule 1: priya was online before the component came.
	gw.expectPresence(priya.bare(), "available")
	piet := startSlixmpp(t, s, "piet", peerOpts{})
	gw.expectPresence(piet.bare(), "available")

	gw.send(map[string]any{"cmd": "add", "jid": priya.bare(), "contact": "bob@gw." + domain, "name": "Bob (IRC)"})
	if ev := gw.expect("the roster set's result", eventTimeout, func(ev event) bool { return ev.Event == "added" || ev.Event == "refused" }); ev.Event != "added" || ev.From != priya.bare() {
		t.Fatalf("roster set: %s", ev.raw)
	}
	if _, ok := priya.roster()["bob@gw."+domain]; !ok {
		t.Fatal("the contact the component added is not in priya's roster")
	}
	gw.send(map[string]any{"cmd": "roster", "jid": priya.bare()})
	if ev := gw.expect("priya's roster", eventTimeout, func(ev event) bool { return ev.Event == "roster" || ev.Event == "refused" }); ev.Items["bob@gw."+domain] != "none" {
		t.Fatalf("roster get: %s", ev.raw)
	}
	gw.send(map[string]any{"cmd": "send_as", "from": priya.bare(), "to": piet.bare(), "body": "sent through the gateway"})
	piet.expectMessage(priya.bare(), "sent through the gateway")

	plain := startComponent(t, s, "plain."+domain)
	plain.send(map[string]any{"cmd": "roster", "jid": priya.bare()})
	if ev := plain.expect("the refusal", eventTimeout, func(ev event) bool { return ev.Event == "roster" || ev.Event == "refused" }); ev.Condition != "forbidden" {
		t.Fatalf("unprivileged roster get: %s", ev.raw)
	}
	plain.send(map[string]any{"cmd": "send_as", "from": priya.bare(), "to": piet.bare(), "body": "not allowed"})
	if ev := plain.expect("the refusal", eventTimeout, func(ev event) bool { return ev.Event == "message" }); ev.Type != "error" || ev.Condition != "forbidden" {
		t.Fatalf("unprivileged message: %s", ev.raw)
	}
}
