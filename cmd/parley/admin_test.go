package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/internal/testca"
	"github.com/parley-xmpp/parley/server/admin"
	"github.com/parley-xmpp/parley/server/s2s/certid"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/muc"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
	"github.com/parley-xmpp/parley/xmpptest"
)

// liveServer is "parley serve" running in this process, through the
// command's own code path (run), with its admin socket.
type liveServer struct {
	data, config string
	addr         string // the c2s (STARTTLS) listener
	http         string // the HTTP listener (WebSocket, BOSH)
	log          *xmpptest.Buffer
	ca           *testca.CA // issued the server's certificates
}

// certPair writes a certificate for localhost issued by ca and its key
// to dir/name.crt and dir/name.key, and returns the certificate.
func certPair(t *testing.T, ca *testca.CA, dir, name string) *x509.Certificate {
	t.Helper()
	leaf := ca.Issue(t, "localhost "+name, certid.Identities{DNS: []string{"localhost"}}, nil)
	leaf.WritePEM(t, filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key"))
	return leaf.Cert
}

// startLive writes the configuration yaml (the listeners are added) and
// runs "parley serve" on it until the test ends. The server's
// certificate is cert.crt in the data folder, issued by s.ca, which the
// clients trust.
func startLive(t *testing.T, yaml string) *liveServer {
	t.Helper()
	return startLiveIn(t, t.TempDir(), yaml)
}

// startLiveIn is startLive on the data folder data.
func startLiveIn(t *testing.T, data, yaml string) *liveServer {
	t.Helper()
	s := &liveServer{data: data, config: filepath.Join(data, "parley.yaml"), log: &xmpptest.Buffer{}, ca: testca.New(t)}
	certPair(t, s.ca, data, "cert")
	s.writeConfig(t, yaml)
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--config", s.config, "--data", data}, func(string) string { return "" }, strings.NewReader(""), false, pw, s.log)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("the server did not stop")
		}
	})
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("serve: %v; log:\n%s", err, s.log.String())
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	m := regexp.MustCompile(`(127\.0\.0\.1:\d+) \(STARTTLS\)`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("summary %q names no c2s address", line)
	}
	s.addr = m[1]
	if m = regexp.MustCompile(`(127\.0\.0\.1:\d+) \(HTTP\)`).FindStringSubmatch(line); m == nil {
		t.Fatalf("summary %q names no HTTP address", line)
	}
	s.http = m[1]
	return s
}

// writeConfig writes the configuration file: yaml plus a c2s listener on
// a random port and the certificate cert.crt.
func (s *liveServer) writeConfig(t *testing.T, yaml string) {
	t.Helper()
	full := "listeners:\n  - {type: c2s, address: \"127.0.0.1:0\"}\n  - {type: http, address: \"127.0.0.1:0\"}\n" +
		"tls:\n  certificates:\n    - {cert: " + filepath.Join(s.data, "cert.crt") + ", key: " + filepath.Join(s.data, "cert.key") + "}\n" + yaml
	if err := os.WriteFile(s.config, []byte(full), 0o600); err != nil {
		t.Fatal(err)
	}
}

// cli runs a parley command against the server's data folder.
func (s *liveServer) cli(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	n := 1 // the flags come after the command's name(s)
	if args[0] == "user" {
		n = 2
	}
	full := append(append(append([]string(nil), args[:n]...), "--config", s.config), args[n:]...)
	return runT(t, map[string]string{"PARLEY_DATA": s.data}, stdin, full...)
}

// mustCLI runs a command that must succeed and returns its output.
func (s *liveServer) mustCLI(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	code, out, errOut := s.cli(t, stdin, args...)
	if code != 0 {
		t.Fatalf("parley %s: exit %d, stdout %q, stderr %q", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// dial logs local@localhost/resource in.
func (s *liveServer) dial(local, password, resource string) (*client.Client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return client.Dial(ctx, client.Config{JID: jid.MustParse(local + "@localhost"), Password: password, Address: s.addr,
		Resource: resource, TLS: &tls.Config{RootCAs: s.ca.Pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}})
}

// login logs in a session that must succeed; it ends with the test.
func (s *liveServer) login(t *testing.T, local, password, resource string) *client.Client {
	t.Helper()
	c, err := s.dial(local, password, resource)
	if err != nil {
		t.Fatalf("login %s/%s: %v", local, resource, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// streamError waits for c's stream to end and returns the stream error
// it ended with.
func streamError(t *testing.T, c *client.Client) *stream.Error {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(xmpptest.Wait):
		t.Fatalf("%s: the session did not end", c.JID())
	}
	var se *stream.Error
	if !errors.As(c.Err(), &se) {
		t.Fatalf("%s ended with %v, not a stream error", c.JID(), c.Err())
	}
	return se
}

// TestLiveUserDelEndsSessions: "parley user del" on a running server goes
// through its admin socket; the user's sessions end at once with
// <not-authorized/>, and the account can no longer log in.
func TestLiveUserDelEndsSessions(t *testing.T) {
	s := startLive(t, "")
	s.mustCLI(t, "pw\n", "user", "add", "alice@localhost")
	a1 := s.login(t, "alice", "pw", "phone")
	a2 := s.login(t, "alice", "pw", "laptop")
	out := s.mustCLI(t, "", "user", "del", "alice@localhost")
	if !strings.Contains(out, "deleted alice@localhost; ended 2 session(s): alice@localhost/laptop, alice@localhost/phone") {
		t.Errorf("user del: %q", out)
	}
	for _, c := range []*client.Client{a1, a2} {
		if se := streamError(t, c); se.Condition != stream.NotAuthorized || se.Text != "the account was deleted" {
			t.Errorf("%s ended with %+v", c.JID(), se)
		}
	}
	if c, err := s.dial("alice", "pw", "again"); err == nil {
		c.Close()
		t.Error("a deleted account logged in")
	}
	if code, _, errOut := s.cli(t, "", "user", "del", "alice@localhost"); code != 1 || !strings.Contains(errOut, "alice@localhost does not exist") {
		t.Errorf("second del: exit %d, stderr %q", code, errOut)
	}
}

// TestLiveUserDisableEnable: disabling ends the sessions and refuses new
// logins; enabling lets the user in again; list shows the state.
func TestLiveUserDisableEnable(t *testing.T) {
	s := startLive(t, "")
	s.mustCLI(t, "pw\n", "user", "add", "bob@localhost")
	s.mustCLI(t, "pw\n", "user", "add", "carol@localhost")
	bob := s.login(t, "bob", "pw", "pc")
	carol := s.login(t, "carol", "pw", "pc")
	if out := s.mustCLI(t, "", "user", "list"); out != "bob@localhost\t1 session(s)\ncarol@localhost\t1 session(s)\n" {
		t.Errorf("list: %q", out)
	}
	if out := s.mustCLI(t, "", "user", "disable", "bob@localhost"); !strings.Contains(out, "disabled bob@localhost; ended 1 session(s): bob@localhost/pc") {
		t.Errorf("disable: %q", out)
	}
	if se := streamError(t, bob); se.Condition != stream.NotAuthorized || se.Text != "the account was disabled" {
		t.Errorf("bob ended with %+v", se)
	}
	if c, err := s.dial("bob", "pw", "again"); err == nil {
		c.Close()
		t.Fatal("a disabled account logged in")
	} else if !strings.Contains(err.Error(), "account-disabled") {
		t.Errorf("login of a disabled account: %v", err)
	}
	xmpptest.Sync(t, carol) // the other user stays
	if out := s.mustCLI(t, "", "user", "list", "localhost"); out != "bob@localhost\tdisabled\ncarol@localhost\t1 session(s)\n" {
		t.Errorf("list: %q", out)
	}
	s.mustCLI(t, "", "user", "enable", "bob@localhost")
	s.login(t, "bob", "pw", "back")
	s.mustCLI(t, "new\n", "user", "passwd", "bob@localhost")
	if c, err := s.dial("bob", "pw", "old"); err == nil {
		c.Close()
		t.Error("the old password still works")
	}
	s.login(t, "bob", "new", "new")
}

// TestLiveKick: a full JID ends that session, a bare JID all of them, with
// <policy-violation/> and the given text.
func TestLiveKick(t *testing.T) {
	s := startLive(t, "")
	s.mustCLI(t, "pw\n", "user", "add", "dave@localhost")
	phone := s.login(t, "dave", "pw", "phone")
	pc := s.login(t, "dave", "pw", "pc")
	tablet := s.login(t, "dave", "pw", "tablet")
	if out := s.mustCLI(t, "", "kick", "dave@localhost/phone", "--reason", "go away, phone"); out != "ended 1 session(s): dave@localhost/phone\n" {
		t.Errorf("kick: %q", out)
	}
	if se := streamError(t, phone); se.Condition != stream.PolicyViolation || se.Text != "go away, phone" {
		t.Errorf("phone ended with %+v", se)
	}
	xmpptest.Sync(t, pc)
	s.mustCLI(t, "", "kick", "dave@localhost")
	for _, c := range []*client.Client{pc, tablet} {
		if se := streamError(t, c); se.Condition != stream.PolicyViolation || se.Text != "the session was ended by an administrator" {
			t.Errorf("%s ended with %+v", c.JID(), se)
		}
	}
	if out := s.mustCLI(t, "", "kick", "dave@localhost"); out != "dave@localhost had no session\n" {
		t.Errorf("kick without sessions: %q", out)
	}
	if code, _, errOut := s.cli(t, "", "kick", "dave@elsewhere.example"); code != 2 || !strings.Contains(errOut, "not a served domain") {
		t.Errorf("kick of another domain: exit %d, stderr %q", code, errOut)
	}
}

// TestLiveStatusSessionsAnnounceRooms: status and sessions show the
// connected clients; announce reaches every online session from the
// domain; rooms lists a room with its occupant.
func TestLiveStatusSessionsAnnounceRooms(t *testing.T) {
	s := startLive(t, "")
	s.mustCLI(t, "pw\n", "user", "add", "erin@localhost")
	s.mustCLI(t, "pw\n", "user", "add", "frank@localhost")
	erin := s.login(t, "erin", "pw", "phone")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	frank, err := client.Dial(ctx, client.Config{JID: jid.MustParse("frank@localhost"), Password: "pw", Resource: "pc",
		WebSocket: "ws://" + s.http + "/xmpp-websocket"})
	if err != nil {
		t.Fatalf("login over WebSocket: %v", err)
	}
	t.Cleanup(func() { frank.Close() })
	for _, c := range []*client.Client{erin, frank} {
		xmpptest.Send(t, c, stanza.New(stanza.NSClient, "presence"))
		xmpptest.Sync(t, c)
	}
	out := s.mustCLI(t, "", "status")
	for _, want := range []string{"parley " + version + ", up ", "sessions: 2\n", "  localhost over tcp: 1\n", "  localhost over websocket: 1\n", "s2s links: 0\n",
		"components: 0 of 0 connected\n", "memory: RSS ", "goroutines: "} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	if regexp.MustCompile(`memory: RSS unknown`).MatchString(out) {
		t.Errorf("status has no RSS:\n%s", out)
	}
	var st admin.Status
	if err := json.Unmarshal([]byte(s.mustCLI(t, "", "status", "--json")), &st); err != nil || st.Total != 2 || len(st.Sessions) != 2 ||
		st.Memory.RSS == 0 || st.Goroutines == 0 || st.Links == nil {
		t.Errorf("status --json: %+v, %v", st, err)
	}
	out = s.mustCLI(t, "", "sessions", "--domain", "localhost")
	if !regexp.MustCompile(`(?m)^erin@localhost/phone +tcp +127\.0\.0\.1:\d+ +available \(0\)$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^frank@localhost/pc +websocket +127\.0\.0\.1:\d+ +available \(0\)$`).MatchString(out) {
		t.Errorf("sessions:\n%s", out)
	}
	if out := s.mustCLI(t, "", "announce", "maintenance at 18:00"); out != "announced to 2 session(s)\n" {
		t.Errorf("announce: %q", out)
	}
	for _, c := range []*client.Client{erin, frank} {
		m := xmpptest.Expect(t, c, "the announcement", func(st *stanza.Element) bool {
			return stanza.KindOf(st) == stanza.KindMessage && st.From() == "localhost"
		})
		if body := m.Child(stanza.NSClient, "body"); body == nil || body.Text() != "maintenance at 18:00" {
			t.Errorf("%s got %s", c.JID(), m)
		}
	}
	if out := s.mustCLI(t, "", "rooms"); out != "no rooms\n" {
		t.Errorf("rooms before: %q", out)
	}
	occ := jid.MustParse("lobby@conference.localhost/erin")
	xmpptest.Send(t, erin, muc.Join(occ, "", nil))
	xmpptest.Expect(t, erin, "self-presence", func(st *stanza.Element) bool {
		return stanza.KindOf(st) == stanza.KindPresence && st.From() == occ.String()
	})
	out = s.mustCLI(t, "", "rooms")
	if !regexp.MustCompile(`(?m)^lobby@conference\.localhost +- +1 +no +`).MatchString(out) {
		t.Errorf("rooms:\n%s", out)
	}
	if code, _, errOut := s.cli(t, "", "status", "extra"); code != 2 || !strings.Contains(errOut, "usage: parley status") {
		t.Errorf("status extra: exit %d, stderr %q", code, errOut)
	}
}

// TestLiveLogLevel: log-level changes what the running server logs, for
// all modules or one.
func TestLiveLogLevel(t *testing.T) {
	s := startLive(t, "")
	kick := func() { s.mustCLI(t, "", "kick", "nobody@localhost") }
	logged := func() int { return strings.Count(s.log.String(), `msg="admin: sessions kicked"`) }
	kick()
	if logged() != 1 {
		t.Fatalf("at info, the kick is not logged:\n%s", s.log.String())
	}
	if out := s.mustCLI(t, "", "log-level", "warn"); out != "default: warn\n" {
		t.Errorf("log-level warn: %q", out)
	}
	kick()
	if logged() != 1 {
		t.Errorf("at warn, the kick is logged")
	}
	if out := s.mustCLI(t, "", "log-level", "info", "--module", "admin"); out != "default: warn\nadmin: info\n" {
		t.Errorf("log-level info --module admin: %q", out)
	}
	kick()
	if logged() != 2 {
		t.Errorf("with admin at info, the kick is not logged")
	}
	if out := s.mustCLI(t, "", "log-level", "default", "--module", "admin"); out != "default: warn\n" {
		t.Errorf("log-level default --module admin: %q", out)
	}
	kick()
	if logged() != 2 {
		t.Errorf("back at warn, the kick is logged")
	}
	if out := s.mustCLI(t, "", "log-level"); out != "default: warn\n" {
		t.Errorf("log-level: %q", out)
	}
	if code, _, errOut := s.cli(t, "", "log-level", "loud"); code != 2 || !strings.Contains(errOut, `"loud" is not a level`) {
		t.Errorf("log-level loud: exit %d, stderr %q", code, errOut)
	}
}

// TestLiveReload: a reload (the command, then SIGHUP) applies a new stanza
// limit to the clients that connect after it and a new certificate,
// keeps the connected client, and names what needs a restart.
func TestLiveReload(t *testing.T) {
	s := startLive(t, "limits:\n  max_stanza_bytes: 10000\n")
	dir := t.TempDir()
	next := certPair(t, s.ca, dir, "next")
	s.mustCLI(t, "pw\n", "user", "add", "gina@localhost")
	old := s.login(t, "gina", "pw", "old")
	first, _ := old.TLSConnectionState()

	if out := s.mustCLI(t, "", "reload"); out != "reloaded: nothing changed\n" {
		t.Errorf("reload without change: %q", out)
	}
	for _, ext := range []string{".crt", ".key"} {
		b, err := os.ReadFile(filepath.Join(dir, "next"+ext))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(s.data, "cert"+ext), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s.writeConfig(t, "domains: [localhost, other.example]\nlimits:\n  max_stanza_bytes: 2000\n  preauth_stanza_bytes: 1000\n")
	out := s.mustCLI(t, "", "reload")
	if out != "applied: limits.max_stanza_bytes, limits.preauth_stanza_bytes, tls certificates\nchanged, needs a restart: domains\n" {
		t.Errorf("reload: %q", out)
	}
	big := stanza.New(stanza.NSClient, "message", "to", "gina@localhost/old").
		Append(stanza.New(stanza.NSClient, "body").SetText(strings.Repeat("x", 5000)))
	// The client connected before keeps its session and its limit.
	xmpptest.Send(t, old, big)
	xmpptest.Expect(t, old, "its big message", func(st *stanza.Element) bool { return stanza.KindOf(st) == stanza.KindMessage })
	after := s.login(t, "gina", "pw", "new")
	st, _ := after.TLSConnectionState()
	if !st.PeerCertificates[0].Equal(next) || first.PeerCertificates[0].Equal(next) {
		t.Errorf("certificates: before %s, after %s; want after %s", first.PeerCertificates[0].Subject, st.PeerCertificates[0].Subject, next.Subject)
	}
	xmpptest.Send(t, after, big)
	if se := streamError(t, after); se.Condition != stream.PolicyViolation {
		t.Errorf("a stanza over the new limit: %+v", se)
	}
	xmpptest.Sync(t, old)

	// SIGHUP reloads as the command does.
	s.writeConfig(t, "domains: [localhost, other.example]\nlimits:\n  max_stanza_bytes: 3000\n  preauth_stanza_bytes: 1000\nlog:\n  level: debug\n")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	xmpptest.Eventually(t, "the reload on SIGHUP", func() bool {
		return strings.Contains(s.log.String(), `applied="[limits.max_stanza_bytes log.level]"`)
	})
	if out := s.mustCLI(t, "", "log-level"); out != "default: debug\n" {
		t.Errorf("log level after SIGHUP: %q", out)
	}
	xmpptest.Sync(t, old)

	// A configuration that does not load changes nothing.
	s.writeConfig(t, "limits:\n  max_stanza_bytes: 12\n")
	if code, _, errOut := s.cli(t, "", "reload"); code == 0 || !strings.Contains(errOut, "max_stanza_bytes") {
		t.Errorf("reload of a bad configuration: exit %d, stderr %q", code, errOut)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	xmpptest.Eventually(t, "the failed reload on SIGHUP", func() bool {
		return strings.Contains(s.log.String(), "reload on SIGHUP failed; the configuration in force is unchanged")
	})
	xmpptest.Sync(t, old)
}

// TestLiveNoServer: the live commands say that no server runs; the user
// commands then act on the storage, disable and enable included.
func TestLiveNoServer(t *testing.T) {
	data := t.TempDir()
	env := map[string]string{"PARLEY_DATA": data}
	for _, cmd := range []string{"status", "sessions", "rooms", "reload"} {
		if code, _, errOut := runT(t, env, "", cmd); code != 1 || !strings.Contains(errOut, "no server is running on this data folder") {
			t.Errorf("%s: exit %d, stderr %q", cmd, code, errOut)
		}
	}
	if code, _, errOut := runT(t, env, "pw\n", "user", "add", "hal@localhost"); code != 0 {
		t.Fatalf("add: %q", errOut)
	}
	if code, out, errOut := runT(t, env, "", "user", "disable", "hal@localhost"); code != 0 || out != "disabled hal@localhost\n" {
		t.Errorf("disable: exit %d, %q %q", code, out, errOut)
	}
	if _, out, _ := runT(t, env, "", "user", "list"); out != "hal@localhost\tdisabled\n" {
		t.Errorf("list: %q", out)
	}
	if code, out, _ := runT(t, env, "", "user", "enable", "hal@localhost"); code != 0 || out != "enabled hal@localhost\n" {
		t.Errorf("enable: exit %d, %q", code, out)
	}
	if _, out, _ := runT(t, env, "", "user", "list"); out != "hal@localhost\n" {
		t.Errorf("list: %q", out)
	}
}

// TestLiveUnsafeDataFolder: on a data folder its group may write, the
// server runs without an admin socket and logs why; the commands say that
// no server answers.
func TestLiveUnsafeDataFolder(t *testing.T) {
	data := t.TempDir()
	if err := os.Chmod(data, 0o770); err != nil {
		t.Fatal(err)
	}
	s := startLiveIn(t, data, "")
	if !strings.Contains(s.log.String(), "the data folder "+data+" is writable by its group or others (mode 0770); run chmod go-w "+data) {
		t.Errorf("the log does not say why there is no socket:\n%s", s.log.String())
	}
	if code, _, errOut := s.cli(t, "", "status"); code != 1 || !strings.Contains(errOut, "no server is running on this data folder, or a server runs there without its admin socket: the data folder is writable by its group or others (mode 0770; chmod go-w") {
		t.Errorf("status: exit %d, stderr %q", code, errOut)
	}
	if code, _, errOut := s.cli(t, "pw\n", "user", "add", "ivan@localhost"); code != 0 || !strings.Contains(errOut, "parley: warning: ") {
		t.Errorf("user add: exit %d, stderr %q", code, errOut)
	}
}
