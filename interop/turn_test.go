package interop

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	pionturn "github.com/pion/turn/v4"

	"github.com/parley-xmpp/parley/server/mod/extdisco"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// turnServer starts a `parley serve` of the scenario's own with a turn
// listener and the modules.extdisco settings in extdisco (YAML flow
// mapping contents); it returns the server and the turn listener's
// address (UDP and TCP).
func turnServer(t *testing.T, extdiscoSettings string, users ...string) (*server, string) {
	t.Helper()
	shared := theServer(t)
	dir := t.TempDir()
	s := &server{dir: dir, data: filepath.Join(dir, "data"), bin: shared.bin, log: &lockedBuffer{}, exited: make(chan struct{})}
	if err := addUsers(s.bin, s.data, users); err != nil {
		t.Fatal(err)
	}
	var turn string
	for attempt := 0; ; attempt++ {
		var err error
		if s.starttls, err = freePort(); err != nil {
			t.Fatal(err)
		}
		if turn, err = freePort(); err != nil {
			t.Fatal(err)
		}
		yaml := fmt.Sprintf(`domains: [%s]
listeners:
  - {type: c2s, address: %q}
  - {type: turn, address: %q}
modules:
  extdisco: {%s}
log:
  level: debug
`, domain, s.starttls, turn, extdiscoSettings)
		err = s.run(s.data, yaml, s.starttls+" (STARTTLS)", turn+" (STUN/TURN, UDP and TCP)")
		if err == nil {
			break
		}
		if attempt == 2 {
			t.Fatalf("starting parley: %v\n%s", err, s.log.String())
		}
		s.log.Reset()
	}
	t.Cleanup(s.stop)
	return s, turn
}

// turnServices logs user in and returns the services XEP-0215 lists for
// it, by type, transport and host.
func turnServices(t *testing.T, s *server, user string) map[string]*stanza.Element {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), loginTimeout)
	defer cancel()
	c, err := client.Dial(ctx, client.Config{JID: jid.MustParse(bare(user)), Password: password(user), Address: s.starttls,
		TLS: &tls.Config{InsecureSkipVerify: true}})
	if err != nil {
		t.Fatalf("%s cannot log in: %v\n%s", user, err, s.log.String())
	}
	defer c.Close()
	res, err := c.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", domain, stanza.New(extdisco.NS, "services")))
	if err != nil {
		t.Fatalf("services: %v", err)
	}
	out := map[string]*stanza.Element{}
	for _, svc := range res.Payload().ChildrenNamed(extdisco.NS, "service") {
		out[svc.Get("type")+"/"+svc.Get("transport")+"@"+svc.Get("host")] = svc
	}
	return out
}

// coturn's tools print, per run, how many messages went out and came
// back.
var uclientTotals = regexp.MustCompile(`start_mclient: tot_send_msgs=(\d+), tot_recv_msgs=(\d+)`)

// coturn's test client (turnutils_uclient), given the TURN credentials
// XEP-0215 hands a user, allocates a relay on the built-in TURN server
// and exchanges messages with coturn's echo peer (turnutils_peer) through
// it, over UDP and over TCP (the peer is on loopback, which the server
// relays to only because allow_peers says so).
func TestCoturnClientThroughBuiltinTURN(t *testing.T) {
	for _, tool := range []string{"turnutils_uclient", "turnutils_peer"} {
		if _, err := exec.LookPath(tool); err != nil {
			need(t, tool, "apt-get install coturn")
		}
	}
	s, turn := turnServer(t, `allow_peers: ["127.0.0.1"]`, "tina")
	svc := turnServices(t, s, "tina")["turn/udp@127.0.0.1"]
	if svc == nil {
		t.Fatalf("no turn/udp service on 127.0.0.1\n%s", s.log.String())
	}
	_, port, _ := net.SplitHostPort(turn)
	if svc.Get("port") != port {
		t.Fatalf("turn/udp service on port %s, want the listener's %s", svc.Get("port"), port)
	}

	peerAddr, err := freePort() // a port free for TCP is most likely free for UDP
	if err != nil {
		t.Fatal(err)
	}
	peerHost, peerPort, _ := net.SplitHostPort(peerAddr)
	peer := exec.Command("turnutils_peer", "-L", peerHost, "-p", peerPort)
	peerOut := &lockedBuffer{}
	peer.Stdout, peer.Stderr = peerOut, peerOut
	if err := peer.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Process.Kill(); peer.Wait() })

	for _, tc := range []struct {
		name  string
		flags []string
	}{{"udp", nil}, {"tcp", []string{"-t"}}} {
		t.Run(tc.name, func(t *testing.T) {
			const n = 20
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			args := append(append([]string{}, tc.flags...), "-u", svc.Get("username"), "-w", svc.Get("password"),
				"-p", port, "-e", peerHost, "-r", peerPort, "-n", fmt.Sprint(n), "-m", "1", "-l", "120", "-z", "5", "-c", "127.0.0.1")
			out, err := exec.CommandContext(ctx, "turnutils_uclient", args...).CombinedOutput()
			m := uclientTotals.FindSubmatch(out)
			if err != nil || m == nil || string(m[1]) != fmt.Sprint(n) || string(m[2]) != fmt.Sprint(n) {
				t.Fatalf("turnutils_uclient %s: %v, totals %q, want %d sent and received\n%s\nserver log:\n%s\npeer:\n%s",
					strings.Join(args, " "), err, m, n, out, s.log.String(), peerOut.String())
			}
		})
	}
}

// coturn (turnserver with use-auth-secret), configured as the external
// TURN server with the secret it shares with parley, accepts the
// credentials XEP-0215 hands a user for it: a TURN allocation succeeds.
// The same username with another password is refused.
func TestCoturnTakesExtdiscoCredentials(t *testing.T) {
	if _, err := exec.LookPath("turnserver"); err != nil {
		need(t, "turnserver", "apt-get install coturn")
	}
	const secret = "the secret parley and coturn share"
	addr, err := freePort() // a port free for TCP is most likely free for UDP
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(addr)
	dir := t.TempDir()
	coturn := exec.Command("turnserver", "-n", "--listening-ip="+host, "--listening-port="+port, "--relay-ip="+host,
		"--min-port=49152", "--max-port=65535", "--use-auth-secret", "--static-auth-secret="+secret, "--realm="+domain,
		"--no-tls", "--no-dtls", "--no-cli", "--log-file=stdout", "--simple-log",
		"--userdb="+filepath.Join(dir, "turndb"), "--pidfile="+filepath.Join(dir, "turnserver.pid"))
	coturnOut := &lockedBuffer{}
	coturn.Stdout, coturn.Stderr = coturnOut, coturnOut
	if err := coturn.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { coturn.Process.Kill(); coturn.Wait() })

	s, _ := turnServer(t, fmt.Sprintf("external_host: %q, external_port: %s, external_secret: %q", host, port, secret), "tobias")
	svc := turnServices(t, s, "tobias")["turn/udp@"+host]
	if svc == nil || svc.Get("port") != port {
		t.Fatalf("no turn/udp service for coturn at %s: %v", addr, svc)
	}

	allocate := func(password string) error {
		conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		c, err := pionturn.NewClient(&pionturn.ClientConfig{STUNServerAddr: addr, TURNServerAddr: addr,
			Username: svc.Get("username"), Password: password, Conn: conn, RTO: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Listen(); err != nil {
			t.Fatal(err)
		}
		// coturn may still be starting: a binding tells when it answers.
		deadline := time.Now().Add(20 * time.Second)
		for {
			if _, err := c.SendBindingRequest(); err == nil {
				break
			} else if time.Now().After(deadline) {
				t.Fatalf("coturn does not answer STUN at %s: %v\n%s", addr, err, coturnOut.String())
			}
		}
		relay, err := c.Allocate()
		if err == nil {
			relay.Close()
		}
		return err
	}
	if err := allocate(svc.Get("password")); err != nil {
		t.Fatalf("coturn refused the credentials parley issued: %v\n%s", err, coturnOut.String())
	}
	if err := allocate("AAAAAAAAAAAAAAAAAAAAAAAAAAA="); err == nil {
		t.Fatal("coturn accepted a forged password")
	}
}
