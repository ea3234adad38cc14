// Package interop drives real third-party XMPP clients against a real
// `parley serve` process, over TCP and TLS as users run them: slixmpp,
// poezio's XMPP core, @xmpp/client, profanity, sendxmpp and go-sendxmpp,
// and in Debian's chromium strophe.js (over BOSH and over WebSocket) and
// the built-in web client (and Prosody and ejabberd for XEP-0227
// migration, xep0227_test.go, and biboumi with ngircd for a gateway,
// gateway_test.go; and pebble, Let's Encrypt's test CA, for ACME,
// acme_test.go).
// Nothing is mocked: the server is the binary built from this tree, with
// its own data directory and self-signed certificate.
//
// The tools come from Debian and npm (see scripts/test.sh and .ci/run). A
// scenario whose tool is missing is skipped, naming the tool, unless
// PARLEY_INTEROP_REQUIRED is set (CI sets it): then it fails.
// PARLEY_INTEROP_DEBUG=1 makes the clients log every stanza they send and
// receive; a failing scenario prints the client's output and the server's
// log.
//
// Library clients are small programs (slixmpp/*.py, xmppjs/*.js,
// strophe/peer.mjs with its page peer.html) driven over JSON lines on
// stdin/stdout, so the Go test decides every step.
// Command-line clients (sendxmpp, go-sendxmpp) run as a cron job would run
// them; profanity, a terminal client, runs in a tmux session of its own,
// typed into with send-keys and read with capture-pane.
//
// The scenarios:
//
//   - Feature scenarios with clients set up for one feature each (one SASL
//     mechanism, certificate verification off): STARTTLS and direct TLS,
//     chat, subscriptions and presence, offline messages (this file);
//     SASL2, Bind 2 and FAST, and a slow stream opening (sasl2_test.go); stream management
//     (sm_test.go); MUC, including a nick conflict and retry by a client
//     whose caps ask for PEP notifications, and a persistent room's
//     archive, moderation, and history across a restart of a server of
//     the scenario's own (muc_test.go); PEP, avatars and
//     bookmarks (pubsub_test.go); carbons and MAM (mam_test.go); CSI and
//     push (mobile_test.go); a 1 MiB file between two slixmpp clients
//     through the SOCKS5 proxy they discover (proxy65_test.go); coturn's
//     test client relaying through the built-in TURN server with the
//     credentials of XEP-0215, and coturn taking those credentials as the
//     external TURN server (turn_test.go); ad-hoc administration and in-band registration
//     (admin_test.go, sasl2_test.go); XEP-0227 import and export
//     (xep0227_test.go).
//   - Gateways (gateway_test.go): biboumi, an XMPP↔IRC gateway, runs as
//     an external component (XEP-0114) of the shared server, in front of
//     ngircd on a loopback port; a slixmpp user and a raw IRC client of
//     the test talk in an IRC channel joined as a MUC room.
//   - Federation tests (federation_test.go, s2s_test.go): real servers on
//     loopback addresses, all on port 5269 — `parley serve` for
//     parley.test on 127.0.0.2, Prosody for prosody.test on 127.0.0.3,
//     ejabberd for ejabberd.test on 127.0.0.4 and a second Parley for
//     parley2.test on 127.0.0.5 — federate with each other, once with
//     Server Dialback and once with SASL EXTERNAL and a CA the test makes.
//     Users of each server, logged in with Parley's client library,
//     exchange messages, subscribe to each other, see each other's
//     presence and PEP updates and talk in a room of Parley's MUC
//     service. Prosody and ejabberd find Parley through lines the test
//     adds to /etc/hosts (and removes); the scenarios with them need root,
//     as Prosody and ejabberd run as their own system users.
//   - Clients at their default settings (clients_test.go): each client as
//     installed, trusting the server's certificate through its own option
//     or SSL_CERT_FILE and nothing else changed, logs in five times in a
//     row (within the failed-login throttle's minute), then sends a
//     message to a slixmpp partner and receives one (sendxmpp only sends);
//     profanity also joins a room where its nick is taken and retries
//     with another. These scenarios run in parallel.
//   - Web clients in Debian's chromium, driven by playwright-core: the
//     built-in web client (browser_test.go), and strophe.js at its
//     default settings on a page of another origin (strophe_test.go),
//     once over BOSH (/http-bind, with the page's CORS preflight) and once
//     over WebSocket (/xmpp-websocket): it logs in with its own choice of
//     SASL mechanism, subscribes to a slixmpp partner and is subscribed
//     to, exchanges a message each way, sends presence, and disconnects
//     cleanly (the partner sees it go unavailable, the server sees the
//     session closed by the client, strophe's disconnect timeout does not
//     fire). The web admin pages (webadmin_test.go): a wrong token is
//     refused, a token from `parley admin token` logs in, the sessions
//     page lists a client and its Kick button ends that client's stream,
//     and the warnings page shows the failed login.
//
// Every scenario has users of its own (see users), so scenarios do not
// see each other's rosters or messages.
package interop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	domain = "localhost"
	// python is Debian's interpreter: the first python3 on PATH may be a
	// separate build that cannot import python3-slixmpp.
	python = "/usr/bin/python3"

	startTimeout = 60 * time.Second // building and starting the server
	loginTimeout = 20 * time.Second
	eventTimeout = 10 * time.Second
)

// users are created before the server starts; each scenario has its own,
// so scenarios don't see each other's rosters or offline messages.
var users = []string{
	"alice", "bob", // slixmpp STARTTLS
	"carol", "dave", // slixmpp direct TLS
	"erin", "frank", // slixmpp offline messages
	"gina", "henry", // @xmpp/client STARTTLS <-> slixmpp
	"ivan", "judy", // @xmpp/client direct TLS <-> slixmpp
	"ines", "jack", // @xmpp/client WebSocket <-> slixmpp
	"kim", "lou", // the built-in web client in chromium <-> slixmpp (browser_test.go)
	"bella", "boris", // strophe.js over BOSH in chromium <-> slixmpp (strophe_test.go)
	"wanda", "walt", // strophe.js over WebSocket in chromium <-> slixmpp (strophe_test.go)
	"zoe",         // slixmpp <-> an @xmpp/component component (component_test.go)
	"kate", "leo", // go-sendxmpp -> slixmpp
	"root", "mike", "nina", // slixmpp XEP-0050/0133 admin (root) and XEP-0077
	"mia", "noah", // slixmpp carbons and MAM (mam_test.go)
	"olga", "pete", // slixmpp PEP, avatars and bookmarks (pubsub_test.go)
	"quinn",       // @xmpp/client SASL2, Bind 2 and FAST (sasl2_test.go)
	"sara", "tom", // slixmpp stream management (sm_test.go)
	"uma", "vic", // @xmpp/client stream management (sm_test.go)
	"wendy", "xavier", // slixmpp multi-user chat (muc_test.go)
	"yara", "zack", // slixmpp client state indication (mobile_test.go)
	"abby", "ben", "cleo", // slixmpp push: user, contact, app server (mobile_test.go)
	"ruth", "rob", // slixmpp MUC nick conflict and retry (muc_test.go)
	// Clients at their default settings (clients_test.go): the client
	// under test, then its slixmpp partner.
	"lily", "liam", // slixmpp
	"paula", "pablo", // poezio's core
	"jade", "jon", // @xmpp/client
	"olivia", "oscar", // profanity
	"sam", "sue", // sendxmpp
	"gus", "gwen", // go-sendxmpp
	"hugo",  // @xmpp/client behind a slow link (sasl2_test.go)
	"irene", // slixmpp through the biboumi IRC gateway (gateway_test.go)
}

func password(user string) string { return "pw-" + user + "-Secret!" }

// componentSecret is the shared secret of the echo component
// (component_test.go).
const componentSecret = "echo-component-secret"

func bare(user string) string { return user + "@" + domain }

func bareOf(j string) string {
	if i := strings.IndexByte(j, '/'); i >= 0 {
		return j[:i]
	}
	return j
}

// ---------------------------------------------------------------------
// The server

type server struct {
	dir       string
	data      string // the data directory
	bin       string
	starttls  string // host:port of the c2s (STARTTLS) listener
	directTLS string // host:port of the c2s_tls (XEP-0368) listener
	https     string // host:port of the HTTPS listener (XMPP over WebSocket)
	component string // host:port of the component listener (XEP-0114)
	proxy65   string // host:port of the file transfer proxy (XEP-0065)
	cmd       *exec.Cmd
	log       *lockedBuffer // the server's stderr (log) and stdout
	exited    chan struct{}
}

var (
	srvOnce sync.Once
	srv     *server
	srvErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if srv != nil {
		srv.stop()
		if found := secretsLogged(srv.log.String()); len(found) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: the server's log of the interop run contains %s\n", strings.Join(found, ", "))
			if code == 0 {
				code = 1
			}
		}
	}
	if srv != nil && srv.dir != "" {
		os.RemoveAll(srv.dir)
	}
	if pebbleTmp != "" {
		os.RemoveAll(pebbleTmp) // acme_test.go's pebble build
	}
	os.Exit(code)
}

// theServer builds parley, creates the users and starts `parley serve`
// once for the whole package.
func theServer(t *testing.T) *server {
	t.Helper()
	srvOnce.Do(func() { srv, srvErr = startServer() })
	if srvErr != nil {
		if srv != nil {
			t.Logf("server output:\n%s", srv.log.String())
		}
		t.Fatalf("starting parley: %v", srvErr)
	}
	select {
	case <-srv.exited:
		t.Fatalf("parley serve has exited; its output:\n%s", srv.log.String())
	default:
	}
	return srv
}

func moduleRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("cannot locate the test source")
	}
	return filepath.Dir(filepath.Dir(file)), nil
}

// freePort returns a loopback address whose port was free a moment ago,
// taken below Linux's ephemeral range (32768 and up) so that the
// outgoing connections of the scenarios running meanwhile cannot take it
// before the server binds it.
func freePort() (string, error) {
	for range 100 {
		addr := fmt.Sprintf("127.0.0.1:%d", 20000+mathrand.IntN(12000))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue // in use
		}
		l.Close()
		return addr, nil
	}
	return "", errors.New("no free port below the ephemeral range")
}

func startServer() (*server, error) {
	dir, err := os.MkdirTemp("", "parley-interop-")
	if err != nil {
		return nil, err
	}
	s := &server{dir: dir, bin: filepath.Join(dir, "parley"), log: &lockedBuffer{}, exited: make(chan struct{})}
	root, err := moduleRoot()
	if err != nil {
		return s, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-o", s.bin, "./cmd/parley")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return s, fmt.Errorf("go build ./cmd/parley: %v\n%s", err, out)
	}
	data := filepath.Join(dir, "data")
	s.data = data
	if err := addUsers(s.bin, data, users); err != nil {
		return s, err
	}
	// Free ports are picked here and released: another process could take
	// one in between, so a failed start is retried with new ports.
	for attempt := 0; ; attempt++ {
		err := s.serve(data)
		if err == nil || attempt == 2 {
			return s, err
		}
		s.log.Reset()
	}
}

// addUsers creates accounts with `parley user add` in a data directory.
func addUsers(bin, data string, users []string) error {
	return addAccounts(bin, data, "", domain, users)
}

// addAccounts creates accounts of a domain, each with its password(),
// with a configuration file unless config is empty.
func addAccounts(bin, data, config, domain string, users []string) error {
	for _, u := range users {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		account := u + "@" + domain
		args := []string{"user", "add", "--data", data}
		if config != "" {
			args = append(args, "--config", config)
		}
		add := exec.CommandContext(ctx, bin, append(args, account)...)
		add.Stdin = strings.NewReader(password(u) + "\n")
		out, err := add.CombinedOutput()
		cancel()
		if err != nil {
			return fmt.Errorf("parley user add %s: %v\n%s", account, err, out)
		}
	}
	return nil
}

// ownServer starts a server of the scenario's own, from the binary built
// for the shared one, with a data directory and users of its own: for a
// scenario that restarts the server (s.restart). It stops when the test
// ends.
func ownServer(t *testing.T, users ...string) *server {
	t.Helper()
	shared := theServer(t)
	dir := t.TempDir()
	s := &server{dir: dir, data: filepath.Join(dir, "data"), bin: shared.bin, log: &lockedBuffer{}, exited: make(chan struct{})}
	if err := addUsers(s.bin, s.data, users); err != nil {
		t.Fatal(err)
	}
	if err := s.serve(s.data); err != nil {
		t.Fatalf("starting parley: %v\n%s", err, s.log.String())
	}
	t.Cleanup(s.stop)
	return s
}

// restart stops the server and starts it again on the same data (on new
// ports: clients connect again).
func (s *server) restart(t *testing.T) {
	t.Helper()
	s.stop()
	if err := s.serve(s.data); err != nil {
		t.Fatalf("restarting parley: %v\n%s", err, s.log.String())
	}
}

func (s *server) serve(data string) error {
	var err error
	if s.starttls, err = freePort(); err != nil {
		return err
	}
	if s.directTLS, err = freePort(); err != nil {
		return err
	}
	if s.https, err = freePort(); err != nil {
		return err
	}
	if s.component, err = freePort(); err != nil {
		return err
	}
	if s.proxy65, err = freePort(); err != nil {
		return err
	}
	yaml := fmt.Sprintf(`domains: [%s]
listeners:
  - {type: c2s, address: %q}
  - {type: c2s_tls, address: %q}
  - {type: https, address: %q}
  - {type: component, address: %q}
  - {type: proxy65, address: %q} # proxy65_test.go
components:
  - {domain: echo.%s, secret: %q} # component_test.go
  - {domain: %s, secret: %q} # gateway_test.go
auth:
  scram_iterations: 4096
limits:
  preauth_timeout: 20s
admins: [root@%s]
registration: {enabled: true, max_per_ip_per_hour: 0} # sasl2_test.go
modules:
  upload: {base_url: "https://%s"} # browser_test.go
log:
  level: debug
`, domain, s.starttls, s.directTLS, s.https, s.component, s.proxy65, domain, componentSecret, biboumiDomain, biboumiSecret, domain, s.https)
	return s.run(data, yaml, s.starttls+" (STARTTLS)", s.directTLS+" (direct TLS)", s.https+" (HTTPS)", s.component+" (components)", s.proxy65+" (file transfer proxy)")
}

// run starts `parley serve` on data with yaml as its configuration and
// waits for its summary line, which must name each listener of want.
func (s *server) run(data, yaml string, want ...string) error {
	cfg := filepath.Join(s.dir, "parley.yaml")
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		return err
	}
	s.cmd = exec.Command(s.bin, "serve", "--data", data, "--config", cfg)
	s.cmd.Stderr = s.log
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := s.cmd.Start(); err != nil {
		return err
	}
	s.exited = make(chan struct{})
	go func() { s.cmd.Wait(); close(s.exited) }()

	summary := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		first := true
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(s.log, "stdout: "+line)
			if first && strings.HasPrefix(line, "parley: serving") {
				summary <- line
				first = false
			}
		}
	}()
	select {
	case line := <-summary:
		// The summary names the listeners actually bound.
		for _, w := range want {
			if !strings.Contains(line, w) {
				s.stop()
				return fmt.Errorf("summary line %q does not name %q", line, w)
			}
		}
		return nil
	case <-s.exited:
		return fmt.Errorf("parley serve exited before printing its summary line: %v\n%s", s.cmd.ProcessState, s.log.String())
	case <-time.After(startTimeout):
		s.stop()
		return fmt.Errorf("no summary line from parley serve within %v\n%s", startTimeout, s.log.String())
	}
}

func (s *server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
}

// caFile is the server's self-signed certificate (generated in the data
// directory, for localhost). Clients at their default settings trust it as
// their CA, through their own option or SSL_CERT_FILE, and verify the
// server's certificate and name against it as they would any server's.
func (s *server) caFile() string {
	return filepath.Join(s.data, "tls", "selfsigned-cert.pem")
}

// logSince returns what the server logged after mark (a length of its log).
func (s *server) logSince(mark int) string {
	out := s.log.String()
	if mark > len(out) {
		mark = 0
	}
	return out[mark:]
}

// ---------------------------------------------------------------------
// Tools

// need skips the test when tool is missing, unless interop tests are
// required (CI), where a missing tool is a failure.
func need(t *testing.T, tool, why string) {
	t.Helper()
	if os.Getenv("PARLEY_INTEROP_REQUIRED") != "" {
		t.Fatalf("%s is required (PARLEY_INTEROP_REQUIRED is set) but unavailable: %s", tool, why)
	}
	t.Skipf("%s not available (%s); set PARLEY_INTEROP_REQUIRED=1 to make this a failure", tool, why)
}

func needSlixmpp(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(python); err != nil {
		need(t, "python3-slixmpp", python+" not found; apt-get install python3-slixmpp")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, python, "-c", "import slixmpp").CombinedOutput(); err != nil {
		need(t, "python3-slixmpp", fmt.Sprintf("%s cannot import slixmpp: %v: %s; apt-get install python3-slixmpp", python, err, bytes.TrimSpace(out)))
	}
}

func needXmppjs(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		need(t, "@xmpp/client", "node not found on PATH")
	}
	if _, err := os.Stat(filepath.Join(testDir(t), "xmppjs", "node_modules", "@xmpp", "client", "package.json")); err != nil {
		need(t, "@xmpp/client", "interop/xmppjs/node_modules missing; run npm ci in interop/xmppjs")
	}
}

func needGoSendxmpp(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("go-sendxmpp")
	if err != nil {
		need(t, "go-sendxmpp", "not found on PATH; apt-get install go-sendxmpp")
	}
	return p
}

func testDir(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return wd
}

// ---------------------------------------------------------------------
// Peers: a slixmpp or @xmpp/client process speaking JSON lines
// (see slixmpp/peer.py).

type event struct {
	Event      string            `json:"event"`
	JID        string            `json:"jid"`
	Mech       string            `json:"mech"`
	Offered    []string          `json:"offered"`
	Features   []string          `json:"features"`
	TLSVersion string            `json:"tls_version"`
	DirectTLS  bool              `json:"direct_tls"`
	From       string            `json:"from"`
	Type       string            `json:"type"`
	Body       string            `json:"body"`
	Delayed    bool              `json:"delayed"`
	Items      map[string]string `json:"items"`
	Error      string            `json:"error"`
	Text       string            `json:"text"`
	Token      bool              `json:"token"`
	Condition  string            `json:"condition"`
	XML        string            `json:"xml"`
	raw        string
}

type peer struct {
	t      *testing.T
	name   string // e.g. "slixmpp alice"
	user   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	events chan event
	output *lockedBuffer // everything the process printed, for failures
	online event
	seen   []event // received but not yet matched
	done   chan struct{}
	srv    *server
	mark   int
}

type peerOpts struct {
	directTLS bool
	// websocket connects over XMPP over WebSocket (RFC 7395) to the HTTP
	// listener (@xmpp/client only).
	websocket bool
	// defaults runs the client at its default settings: its own choice of
	// SASL mechanism and channel binding, and certificate verification
	// against the server's certificate (server.caFile) instead of none.
	// mech is then ignored.
	defaults bool
	mech     string
	// plugins are extra slixmpp plugins for peer.py (--plugin).
	plugins []string
	// pushService makes peer.py answer XEP-0357 notifications as an app
	// server's pubsub service would (--push-service).
	pushService bool
}

func startSlixmpp(t *testing.T, s *server, user string, o peerOpts) *peer {
	t.Helper()
	addr := s.starttls
	if o.directTLS {
		addr = s.directTLS
	}
	host, port, _ := net.SplitHostPort(addr)
	args := []string{filepath.Join(testDir(t), "slixmpp", "peer.py"),
		"--jid", bare(user) + "/slix", "--password", password(user),
		"--host", host, "--port", port}
	if o.directTLS {
		args = append(args, "--direct-tls")
	}
	if o.defaults {
		args = append(args, "--ca-file", s.caFile())
	} else {
		mech := o.mech
		if mech == "" {
			mech = "SCRAM-SHA-256"
		}
		args = append(args, "--mech", mech)
		if !strings.HasSuffix(mech, "-PLUS") {
			// See --no-channel-binding in peer.py: slixmpp 1.8 would otherwise
			// announce channel-binding support it cannot use over TLS 1.3.
			args = append(args, "--no-channel-binding")
		}
	}
	for _, p := range o.plugins {
		args = append(args, "--plugin", p)
	}
	if o.pushService {
		args = append(args, "--push-service")
	}
	if os.Getenv("PARLEY_INTEROP_DEBUG") != "" {
		args = append(args, "--debug") // every stanza, on stderr
	}
	return startPeer(t, s, "slixmpp "+user, user, exec.Command(python, args...))
}

func startXmppjs(t *testing.T, s *server, user string, o peerOpts) *peer {
	t.Helper()
	service := "xmpp://" + s.starttls
	switch {
	case o.directTLS:
		service = "xmpps://" + s.directTLS
	case o.websocket:
		service = "wss://" + s.https + "/xmpp-websocket"
	}
	mech, ca := o.mech, ""
	if o.defaults {
		mech, ca = "", s.caFile()
	} else if mech == "" {
		mech = "SCRAM-SHA-1"
	}
	cmd := xmppjsCommand(t, ca, "peer.js", "--service", service, "--domain", domain,
		"--username", user, "--password", password(user), "--mech", mech)
	return startPeer(t, s, "@xmpp/client "+user, user, cmd)
}

// xmppjsCommand runs an @xmpp/client script of xmppjs/ with node. The
// script gets the test's login timeout (--timeout): @xmpp/client's own
// default, 2 s for each wait such as the opening of the stream, is too
// short on a loaded machine. With ca (a PEM file) node trusts that
// certificate (NODE_EXTRA_CA_CERTS) and verifies the server's as by
// default; without it, verification is off.
func xmppjsCommand(t *testing.T, ca, script string, args ...string) *exec.Cmd {
	t.Helper()
	// Node 20's WebSocket (for ws:// services) is behind a flag; later
	// versions ignore it.
	args = append([]string{"--experimental-websocket", script, "--timeout", fmt.Sprint(loginTimeout.Milliseconds())}, args...)
	cmd := exec.Command("node", args...)
	cmd.Dir = filepath.Join(testDir(t), "xmppjs")
	trust := "NODE_TLS_REJECT_UNAUTHORIZED=0"
	if ca != "" {
		trust = "NODE_EXTRA_CA_CERTS=" + ca
	}
	cmd.Env = append(os.Environ(), trust, "NODE_NO_WARNINGS=1")
	return cmd
}

func startPeer(t *testing.T, s *server, name, user string, cmd *exec.Cmd) *peer {
	t.Helper()
	p := &peer{t: t, name: name, user: user, cmd: cmd, events: make(chan event, 256),
		output: &lockedBuffer{}, done: make(chan struct{}), srv: s, mark: s.log.Len()}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = prefixWriter{p.output, "stderr: "}
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: starting %v: %v", name, cmd.Args, err)
	}
	go func() {
		defer close(p.events)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64*1024), 4<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(p.output, "stdout: "+line)
			var ev event
			if err := json.Unmarshal([]byte(line), &ev); err != nil {
				continue // not ours: it is in output anyway
			}
			ev.raw = line
			p.events <- ev
		}
	}()
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.kill() })
	p.online = p.expect("login", loginTimeout, func(ev event) bool { return ev.Event == "online" })
	// RFC 6121 §4.2.2: the server sends the initial presence back to the
	// resource that sent it. Once it is back, the server has made the
	// session available, so messages to the bare JID reach it.
	p.expect("own initial presence echoed back (RFC 6121 §4.2.2)", eventTimeout, func(ev event) bool {
		return ev.Event == "presence" && ev.From == p.online.JID && ev.Type == "available"
	})
	t.Logf("%s online as %s (SASL %s, TLS %s)", name, p.online.JID, p.online.Mech, p.online.TLSVersion)
	return p
}

func (p *peer) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	p.stdin.Close()
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// fail ends the test, printing the peer's output and the server's log
// since the peer started.
func (p *peer) fail(format string, args ...any) {
	p.t.Helper()
	p.t.Fatalf("%s: %s\n--- %s output:\n%s--- parley log since %s started:\n%s",
		p.name, fmt.Sprintf(format, args...), p.name, p.output.String(), p.name, p.srv.logSince(p.mark))
}

func (p *peer) send(cmd map[string]any) {
	p.t.Helper()
	b, _ := json.Marshal(cmd)
	if _, err := p.stdin.Write(append(b, '\n')); err != nil {
		p.fail("sending command %s: %v", b, err)
	}
}

// expect waits for an event matching ok, taking events received earlier
// but not yet matched first. An "error" event or the end of the process
// fails the test.
func (p *peer) expect(what string, timeout time.Duration, ok func(event) bool) event {
	p.t.Helper()
	for i, ev := range p.seen {
		if ok(ev) {
			p.seen = append(p.seen[:i:i], p.seen[i+1:]...)
			return ev
		}
	}
	deadline := time.After(timeout)
	for {
		select {
		case ev, open := <-p.events:
			if !open {
				<-p.done
				p.fail("exited (%v) while waiting for %s", p.cmd.ProcessState, what)
			}
			if ev.Event == "error" {
				p.fail("error while waiting for %s: %s", what, ev.Text)
			}
			if ev.Event == "wrong_namespace" {
				// The server wrote a stanza outside jabber:client (e.g.
				// xmlns=""): clients ignore it.
				p.fail("while waiting for %s, got a stanza in the wrong namespace (%s): %s", what, ev.XML, ev.raw)
			}
			if ok(ev) {
				return ev
			}
			p.seen = append(p.seen, ev)
		case <-deadline:
			p.fail("no %s within %v", what, timeout)
		}
	}
}

func (p *peer) bare() string { return bare(p.user) }

func (p *peer) message(to, body string) {
	p.t.Helper()
	sentBodies.add(body)
	p.send(map[string]any{"cmd": "send", "to": to, "body": body})
}

// sentBodies are the message bodies the scenarios sent through
// peer.message, which the shared server's log must not contain.
var sentBodies bodySet

// bodySet is a set of strings safe for the scenarios running in parallel.
type bodySet struct {
	mu sync.Mutex
	m  map[string]bool
}

func (b *bodySet) add(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil {
		b.m = map[string]bool{}
	}
	b.m[s] = true
}

func (b *bodySet) list() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]string, 0, len(b.m))
	for s := range b.m {
		out = append(out, s)
	}
	return out
}

// secretsLogged lists the users' passwords, the component secret and the
// message bodies sent through peer.message that log, the shared server's
// log of the whole run at debug level, contains: none may (the log never
// carries credentials or what users say).
func secretsLogged(log string) []string {
	var found []string
	for _, u := range users {
		if strings.Contains(log, password(u)) {
			found = append(found, "the password of "+u)
		}
	}
	if strings.Contains(log, componentSecret) {
		found = append(found, "the component secret")
	}
	for _, b := range sentBodies.list() {
		if len(b) >= 8 && strings.Contains(log, b) { // long enough not to match by chance
			found = append(found, fmt.Sprintf("the message body %q", b))
		}
	}
	return found
}

func (p *peer) presence(to, typ string) {
	p.t.Helper()
	p.send(map[string]any{"cmd": "presence", "to": to, "type": typ})
}

func (p *peer) expectMessage(from, body string) event {
	p.t.Helper()
	return p.expect(fmt.Sprintf("message %q from %s", body, from), eventTimeout, func(ev event) bool {
		return ev.Event == "message" && bareOf(ev.From) == from && ev.Body == body
	})
}

func (p *peer) expectPresence(from, typ string) event {
	p.t.Helper()
	return p.expect(fmt.Sprintf("presence type %q from %s", typ, from), eventTimeout, func(ev event) bool {
		return ev.Event == "presence" && bareOf(ev.From) == from && ev.Type == typ
	})
}

func (p *peer) roster() map[string]string {
	p.t.Helper()
	p.send(map[string]any{"cmd": "roster"})
	ev := p.expect("roster result", eventTimeout, func(ev event) bool { return ev.Event == "roster" })
	if ev.Items == nil {
		p.fail("roster get failed: %s %s", ev.Error, ev.XML)
	}
	return ev.Items
}

func (p *peer) quit() {
	p.t.Helper()
	p.send(map[string]any{"cmd": "quit"})
	select {
	case <-p.done:
	case <-time.After(eventTimeout):
		p.fail("did not disconnect within %v of quit", eventTimeout)
	}
	if !p.cmd.ProcessState.Success() {
		p.fail("exited with %v", p.cmd.ProcessState)
	}
}

// ---------------------------------------------------------------------
// Scenario steps shared by several clients

func checkLogin(t *testing.T, p *peer, mech string) {
	t.Helper()
	if bareOf(p.online.JID) != p.bare() || !strings.Contains(p.online.JID, "/") {
		p.fail("bound JID %q, want a full JID of %s", p.online.JID, p.bare())
	}
	if !contains(p.online.Offered, mech) {
		p.fail("server did not offer %s; offered %v", mech, p.online.Offered)
	}
	if p.online.Mech != mech {
		p.fail("logged in with SASL %q, want %s", p.online.Mech, mech)
	}
	if p.online.TLSVersion == "" {
		p.fail("the stream is not encrypted")
	}
	if p.online.Features != nil && !p.online.DirectTLS && !contains(p.online.Features, "starttls") {
		p.fail("STARTTLS was not negotiated; features %v", p.online.Features)
	}
}

// chat exchanges a message each way between a and b.
func chat(t *testing.T, a, b *peer) {
	t.Helper()
	ab := fmt.Sprintf("hello %s, from %s <&> ü", b.user, a.name)
	a.message(b.bare(), ab)
	b.expectMessage(a.bare(), ab)
	ba := fmt.Sprintf("hi %s, from %s", a.user, b.name)
	b.message(a.bare(), ba)
	a.expectMessage(b.bare(), ba)
}

// subscribe runs the RFC 6121 §3 handshake both ways: a subscribes to b,
// b approves, b subscribes to a, a approves. Each side then has the other
// with subscription "both" and has received the other's presence.
func subscribe(t *testing.T, a, b *peer) {
	t.Helper()
	a.presence(b.bare(), "subscribe")
	b.expectPresence(a.bare(), "subscribe")
	b.presence(a.bare(), "subscribed")
	a.expectPresence(b.bare(), "subscribed")
	// RFC 6121 §3.1.5: the server sends the contact's available presence
	// to the user once the subscription is approved.
	a.expectPresence(b.bare(), "available")

	b.presence(a.bare(), "subscribe")
	a.expectPresence(b.bare(), "subscribe")
	a.presence(b.bare(), "subscribed")
	b.expectPresence(a.bare(), "subscribed")
	b.expectPresence(a.bare(), "available")

	for _, pair := range [][2]*peer{{a, b}, {b, a}} {
		items := pair[0].roster()
		if got := items[pair[1].bare()]; got != "both" {
			pair[0].fail("roster item %s has subscription %q, want both; roster %v", pair[1].bare(), got, items)
		}
	}
}

// presenceUpdates checks that, once subscribed, each side sees the other's
// broadcast presence: available, and unavailable when it leaves.
func presenceUpdates(t *testing.T, a, b *peer) {
	t.Helper()
	a.presence("", "")
	b.expectPresence(a.bare(), "available")
	b.presence("", "")
	a.expectPresence(b.bare(), "available")
	a.quit()
	b.expectPresence(a.bare(), "unavailable")
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// ---------------------------------------------------------------------
// Scenarios

func TestSlixmppStartTLS(t *testing.T) {
	needSlixmpp(t)
	s := theServer(t)
	a := startSlixmpp(t, s, "alice", peerOpts{mech: "SCRAM-SHA-256"})
	b := startSlixmpp(t, s, "bob", peerOpts{mech: "SCRAM-SHA-256"})
	checkLogin(t, a, "SCRAM-SHA-256")
	checkLogin(t, b, "SCRAM-SHA-256")
	chat(t, a, b)
	subscribe(t, a, b)
	presenceUpdates(t, a, b)
}

func TestSlixmppDirectTLS(t *testing.T) {
	needSlixmpp(t)
	s := theServer(t)
	a := startSlixmpp(t, s, "carol", peerOpts{directTLS: true, mech: "SCRAM-SHA-256"})
	b := startSlixmpp(t, s, "dave", peerOpts{directTLS: true, mech: "SCRAM-SHA-256"})
	checkLogin(t, a, "SCRAM-SHA-256")
	checkLogin(t, b, "SCRAM-SHA-256")
	chat(t, a, b)
	subscribe(t, a, b)
	presenceUpdates(t, a, b)
}

func TestSlixmppOfflineMessages(t *testing.T) {
	needSlixmpp(t)
	s := theServer(t)
	a := startSlixmpp(t, s, "erin", peerOpts{mech: "SCRAM-SHA-256"})
	bodies := []string{"while you were out (1)", "while you were out (2)"}
	for _, body := range bodies {
		a.message(bare("frank"), body)
	}
	// Closing the stream after the messages: the server has handled them
	// by the time the stream ends.
	a.quit()

	b := startSlixmpp(t, s, "frank", peerOpts{directTLS: true, mech: "SCRAM-SHA-256"})
	for _, body := range bodies {
		ev := b.expectMessage(a.bare(), body)
		t.Logf("offline message delivered with delay stamp: %v", ev.Delayed)
	}
	// Delivered once: a second login gets nothing more.
	b.quit()
	b2 := startSlixmpp(t, s, "frank", peerOpts{mech: "SCRAM-SHA-256"})
	b2.message(bare("frank"), "marker")
	b2.expectMessage(bare("frank"), "marker")
	for _, ev := range b2.seen {
		if ev.Event == "message" && contains(bodies, ev.Body) {
			b2.fail("offline message delivered twice: %s", ev.raw)
		}
	}
}

func TestXmppjsStartTLS(t *testing.T) {
	needSlixmpp(t)
	needXmppjs(t)
	s := theServer(t)
	a := startXmppjs(t, s, "gina", peerOpts{})
	b := startSlixmpp(t, s, "henry", peerOpts{})
	checkLogin(t, a, "SCRAM-SHA-1")
	chat(t, a, b)
	subscribe(t, a, b)
	presenceUpdates(t, a, b)
}

// TestXmppjsWebSocket: @xmpp/client over XMPP over WebSocket (RFC 7395)
// on the HTTPS listener talks with slixmpp over TCP.
func TestXmppjsWebSocket(t *testing.T) {
	needSlixmpp(t)
	needXmppjs(t)
	s := theServer(t)
	a := startXmppjs(t, s, "ines", peerOpts{websocket: true})
	b := startSlixmpp(t, s, "jack", peerOpts{})
	checkLogin(t, a, "SCRAM-SHA-1")
	chat(t, a, b)
	subscribe(t, a, b)
	presenceUpdates(t, a, b)
}

func TestXmppjsDirectTLS(t *testing.T) {
	needSlixmpp(t)
	needXmppjs(t)
	s := theServer(t)
	a := startXmppjs(t, s, "ivan", peerOpts{directTLS: true})
	b := startSlixmpp(t, s, "judy", peerOpts{directTLS: true})
	checkLogin(t, a, "SCRAM-SHA-1")
	chat(t, a, b)
	subscribe(t, a, b)
	presenceUpdates(t, a, b)
}

func TestGoSendxmpp(t *testing.T) {
	needSlixmpp(t)
	bin := needGoSendxmpp(t)
	s := theServer(t)
	k := startSlixmpp(t, s, "kate", peerOpts{})
	for _, direct := range []bool{false, true} {
		addr, args := s.starttls, []string{}
		if direct {
			addr, args = s.directTLS, []string{"-t"}
		}
		body := fmt.Sprintf("sent by go-sendxmpp (direct TLS %v)", direct)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		args = append(args, "-u", bare("leo"), "-p", password("leo"), "-j", addr, "-n",
			"--timeout", "20", bare("kate"))
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Stdin = strings.NewReader(body + "\n")
		// No user configuration file: everything is on the command line.
		cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			k.fail("go-sendxmpp %v: %v\n%s", args, err, out)
		}
		k.expect(fmt.Sprintf("message %q from go-sendxmpp", body), eventTimeout, func(ev event) bool {
			if ev.Event == "message" && bareOf(ev.From) == bare("leo") {
				if strings.TrimSpace(ev.Body) != body {
					k.fail("go-sendxmpp message body %q, want %q\ngo-sendxmpp output:\n%s", ev.Body, body, out)
				}
				return true
			}
			return false
		})
	}
}

// ---------------------------------------------------------------------

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *lockedBuffer) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Len()
}

func (l *lockedBuffer) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Reset()
}

type prefixWriter struct {
	w      io.Writer
	prefix string
}

func (p prefixWriter) Write(b []byte) (int, error) {
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if line != "" {
			io.WriteString(p.w, p.prefix+line)
		}
	}
	return len(b), nil
}
