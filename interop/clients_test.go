package interop

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Clients at their default settings. Each scenario below runs one client
// as a user would install and start it, changing nothing but the
// certificate it trusts (the server's self-signed one, through the
// client's own option or SSL_CERT_FILE) and, where the server is not found
// through DNS, its address. The client logs in `logins` times in a row,
// as a cron job or a reconnecting client does, then sends a message to a
// slixmpp partner and receives one from it. The scenarios use separate
// users and run in parallel.

// logins is how many times each client logs in: five within a minute,
// as many as the failed-login throttle allows failures in that time by
// default, so a login that the server counted as a failure would lock the
// client out before the last one.
const logins = 5

// needTool returns the path of a command from a Debian package, or skips
// (fails under PARLEY_INTEROP_REQUIRED).
func needTool(t *testing.T, bin, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(bin)
	if err != nil {
		need(t, pkg, bin+" not found on PATH; apt-get install "+pkg)
	}
	return p
}

// checkEncrypted fails unless p logged in as its user over TLS.
func checkEncrypted(p *peer) {
	p.t.Helper()
	if bareOf(p.online.JID) != p.bare() || !strings.Contains(p.online.JID, "/") {
		p.fail("bound JID %q, want a full JID of %s", p.online.JID, p.bare())
	}
	if p.online.TLSVersion == "" {
		p.fail("the stream is not encrypted")
	}
}

var failureText = regexp.MustCompile(`<text[^>]*>([^<]+)</text>`)

// authFailures returns the texts of the SASL failures p received before
// it logged in (a client at its defaults may try mechanisms the server
// refuses before one it accepts) and checks that each says why in a
// <text/>.
func authFailures(p *peer) []string {
	p.t.Helper()
	var out []string
	for _, ev := range p.seen {
		if ev.Event != "auth_failure" {
			continue
		}
		m := failureText.FindStringSubmatch(ev.XML)
		if m == nil {
			p.fail("a SASL failure without a <text/> saying why: %s", ev.XML)
		}
		out = append(out, m[1])
	}
	return out
}

// loginsInARow starts a peer `logins` times, one after the other; each
// must log in (start fails the test otherwise). The last one stays
// online and is returned.
func loginsInARow(t *testing.T, start func() *peer) *peer {
	t.Helper()
	begin := time.Now()
	var p *peer
	for i := range logins {
		p = start()
		checkEncrypted(p)
		t.Logf("login %d: %s with SASL %s; refused first: %q", i+1, p.online.JID, p.online.Mech, authFailures(p))
		if i < logins-1 {
			p.quit()
		}
	}
	t.Logf("%d logins in %v", logins, time.Since(begin).Round(time.Millisecond))
	return p
}

// TestSlixmppDefaults: slixmpp (python3-slixmpp 1.8) with no SASL or
// channel-binding settings. slixmpp prefers SCRAM-SHA-256-PLUS with
// tls-unique, which TLS 1.3 lacks, then falls back through the other
// mechanisms the server offers; the server refuses what it cannot do, says
// why, and lets it reach one it can, every time.
func TestSlixmppDefaults(t *testing.T) {
	t.Parallel()
	needSlixmpp(t)
	s := theServer(t)
	partner := startSlixmpp(t, s, "liam", peerOpts{})
	p := loginsInARow(t, func() *peer { return startSlixmpp(t, s, "lily", peerOpts{defaults: true}) })
	chat(t, p, partner)
	p.quit()
}

// TestPoezioCore: poezio's XMPP core at poezio's defaults (see
// slixmpp/poezio_peer.py: poezio's curses interface refuses to run as
// root, as CI does, so the peer runs its slixmpp core, the Connection
// class, without it). Like slixmpp at its defaults, it must get through
// the mechanism fallback on each of its logins.
func TestPoezioCore(t *testing.T) {
	t.Parallel()
	needSlixmpp(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, python, "-c", "import poezio.connection").CombinedOutput(); err != nil {
		need(t, "poezio", fmt.Sprintf("%s cannot import poezio.connection: %v: %s; apt-get install poezio", python, err, strings.TrimSpace(string(out))))
	}
	s := theServer(t)
	partner := startSlixmpp(t, s, "pablo", peerOpts{})
	host, port, _ := net.SplitHostPort(s.starttls)
	home := t.TempDir() // poezio keeps its configuration and caches here
	p := loginsInARow(t, func() *peer {
		args := []string{filepath.Join(testDir(t), "slixmpp", "poezio_peer.py"),
			"--jid", bare("paula"), "--password", password("paula"),
			"--host", host, "--port", port, "--ca-file", s.caFile()}
		if os.Getenv("PARLEY_INTEROP_DEBUG") != "" {
			args = append(args, "--debug")
		}
		cmd := exec.Command(python, args...)
		cmd.Env = append(os.Environ(), "HOME="+home,
			"XDG_CONFIG_HOME="+filepath.Join(home, "config"),
			"XDG_CACHE_HOME="+filepath.Join(home, "cache"),
			"XDG_DATA_HOME="+filepath.Join(home, "data"))
		return startPeer(t, s, "poezio paula", "paula", cmd)
	})
	chat(t, p, partner)
	p.quit()
}

// TestXmppjsDefaults: @xmpp/client 0.14 given only its service, domain,
// user name and password (and the test's timeout): it chooses SASL2 or
// SASL, the mechanism, Bind 2 and FAST itself, and verifies the server's
// certificate.
func TestXmppjsDefaults(t *testing.T) {
	t.Parallel()
	needSlixmpp(t)
	needXmppjs(t)
	s := theServer(t)
	partner := startSlixmpp(t, s, "jon", peerOpts{})
	p := loginsInARow(t, func() *peer { return startXmppjs(t, s, "jade", peerOpts{defaults: true}) })
	chat(t, p, partner)
	p.quit()
}

// TestSendxmpp: sendxmpp 1.24 (Perl, Net::XMPP and XML::Stream), as a
// cron job runs it: `echo text | sendxmpp -u user -p password -j
// host:port -t recipient`, with -a (its option for the CA to trust) for
// the test certificate. XML::Stream puts a host name in its stream
// header's from, which is no authorization (RFC 6120 §4.7.1); the login
// must not depend on it. sendxmpp only sends: receiving a message is not
// something it can do.
func TestSendxmpp(t *testing.T) {
	t.Parallel()
	needSlixmpp(t)
	bin := needTool(t, "sendxmpp", "sendxmpp")
	s := theServer(t)
	partner := startSlixmpp(t, s, "sue", peerOpts{})
	_, port, _ := net.SplitHostPort(s.starttls)
	home := t.TempDir() // no ~/.sendxmpprc: everything is on the command line
	begin := time.Now()
	for i := range logins {
		body := fmt.Sprintf("sendxmpp run %d <&> ü", i+1)
		mark := s.log.Len()
		ctx, cancel := context.WithTimeout(context.Background(), loginTimeout)
		// -j localhost:port: the server name is the domain, as it would
		// be for a real server, so the stream's to and the name checked
		// in the certificate are the domain.
		cmd := exec.CommandContext(ctx, bin, "-u", "sam", "-p", password("sam"),
			"-j", "localhost:"+port, "-t", "-a", s.caFile(), bare("sue"))
		cmd.Stdin = strings.NewReader(body + "\n")
		cmd.Env = append(os.Environ(), "HOME="+home)
		out, err := cmd.CombinedOutput()
		timedOut := ctx.Err()
		cancel()
		if err != nil || timedOut != nil {
			t.Fatalf("sendxmpp run %d: %v (%v)\n%s\n--- parley log of this run:\n%s", i+1, err, timedOut, withoutPerlWarnings(out), s.logSince(mark))
		}
		// sendxmpp sends what it read, the final newline included.
		partner.expect(fmt.Sprintf("message %q from sendxmpp", body), eventTimeout, func(ev event) bool {
			return ev.Event == "message" && bareOf(ev.From) == bare("sam") && strings.TrimSpace(ev.Body) == body
		})
	}
	t.Logf("%d sendxmpp runs in %v", logins, time.Since(begin).Round(time.Millisecond))
}

// withoutPerlWarnings drops the "Use of uninitialized value" warnings
// XML::Stream prints on every run from sendxmpp's output.
func withoutPerlWarnings(out []byte) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(string(out), "\n") {
		if !strings.HasPrefix(line, "Use of uninitialized value") {
			b.WriteString(line)
		}
	}
	return b.String()
}

// TestGoSendxmppDefaults: go-sendxmpp (Go, go-xmpp) with no
// configuration file and certificate verification on (Go's own
// SSL_CERT_FILE names the CA): it sends a message on each of its logins,
// then listens (-l) and prints the message its partner sent it meanwhile.
func TestGoSendxmppDefaults(t *testing.T) {
	t.Parallel()
	needSlixmpp(t)
	bin := needGoSendxmpp(t)
	s := theServer(t)
	partner := startSlixmpp(t, s, "gwen", peerOpts{})
	home := t.TempDir()
	env := append(os.Environ(), "HOME="+home, "SSL_CERT_FILE="+s.caFile())
	base := []string{"-u", bare("gus"), "-p", password("gus"), "-j", s.starttls,
		"--timeout", fmt.Sprint(int(loginTimeout.Seconds()))}
	begin, first := time.Now(), s.log.Len()
	for i := range logins - 1 {
		body := fmt.Sprintf("go-sendxmpp run %d <&> ü", i+1)
		mark := s.log.Len()
		ctx, cancel := context.WithTimeout(context.Background(), loginTimeout+5*time.Second)
		cmd := exec.CommandContext(ctx, bin, append(base, bare("gwen"))...)
		cmd.Stdin = strings.NewReader(body + "\n")
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		timedOut := ctx.Err()
		cancel()
		if err != nil || timedOut != nil {
			t.Fatalf("go-sendxmpp run %d: %v (%v)\n%s\n--- parley log of this run:\n%s", i+1, err, timedOut, out, s.logSince(mark))
		}
		partner.expectMessage(bare("gus"), body)
	}

	// The last login listens. The partner's message goes to the bare JID
	// while gus is offline, so it is stored and delivered at login. gus is
	// offline once the server has ended the sessions of the runs above
	// (go-sendxmpp drops the connection as it exits).
	ended := regexp.MustCompile(`msg="c2s: session ended".* user=gus@localhost `)
	for deadline := time.Now().Add(eventTimeout); len(ended.FindAllString(s.logSince(first), -1)) < logins-1; {
		if time.Now().After(deadline) {
			t.Fatalf("the server did not end the %d sessions of go-sendxmpp within %v:\n%s", logins-1, eventTimeout, s.logSince(first))
		}
		time.Sleep(50 * time.Millisecond)
	}
	body := "for go-sendxmpp, from its partner"
	partner.message(bare("gus"), body)
	mark := s.log.Len()
	ctx, cancel := context.WithTimeout(context.Background(), loginTimeout+eventTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(base, "-l")...)
	cmd.Env = env
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	got := make(chan string, 1)
	var printed lockedBuffer
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			fmt.Fprintln(&printed, sc.Text())
			if strings.Contains(sc.Text(), body) {
				got <- sc.Text()
				break
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case line := <-got:
		t.Logf("go-sendxmpp -l printed %q; %d logins in %v", line, logins, time.Since(begin).Round(time.Millisecond))
	case <-ctx.Done():
		t.Fatalf("go-sendxmpp -l did not print %q\nstdout:\n%sstderr:\n%s--- parley log:\n%s", body, printed.String(), stderr.String(), s.logSince(mark))
	}
}

// TestProfanity: profanity 0.13 (C, libstrophe), the terminal client,
// driven in tmux as a user types: /connect with the server's address
// (localhost has no SRV record), the password at its prompt, /disconnect,
// five times; then /msg to its partner, and the partner's answer in the
// chat window. Then it joins a room where its partner holds its nick: it
// shows the conflict, joins again with another nick, shows its own
// presence and talks in the room. It has a HOME and XDG directories of
// its own (a first start), trusts the test certificate through SSL_CERT_FILE (OpenSSL's
// default CA file) and logs at DEBUG level to
// $XDG_DATA_HOME/profanity/logs/profanity.log, printed when it fails.
func TestProfanity(t *testing.T) {
	t.Parallel()
	needSlixmpp(t)
	prof := needTool(t, "profanity", "profanity")
	needTool(t, "tmux", "tmux")
	s := theServer(t)
	partner := startMUCPeer(t, s, "oscar")
	host, port, _ := net.SplitHostPort(s.starttls)
	home := t.TempDir()
	data := filepath.Join(home, ".local", "share")
	c := startTmux(t, s, "profanity olivia", []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "LANG=C.UTF-8",
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"), "XDG_DATA_HOME=" + data,
		"XDG_CACHE_HOME=" + filepath.Join(home, ".cache"),
		"SSL_CERT_FILE=" + s.caFile(),
	}, prof, "-l", "DEBUG")
	c.logFile = filepath.Join(data, "profanity", "logs", "profanity.log")
	c.waitFor("profanity's welcome", regexp.MustCompile(`Type '/help' to show`))

	begin := time.Now()
	for i := range logins {
		c.keys("/clear") // the console: only this login's lines
		c.keys(fmt.Sprintf("/connect %s server %s port %s", bare("olivia"), host, port))
		c.waitFor("the password prompt", regexp.MustCompile(`Enter password:`))
		c.keys(password("olivia"))
		c.waitFor(fmt.Sprintf("login %d", i+1), regexp.MustCompile(`olivia@localhost/\S+ logged in successfully`))
		if i < logins-1 {
			c.keys("/disconnect")
			c.waitFor("logout", regexp.MustCompile(`olivia@localhost logged out successfully`))
		}
	}
	t.Logf("%d profanity logins in %v", logins, time.Since(begin).Round(time.Millisecond))

	body := "hello oscar, from profanity <&>"
	c.keys("/msg " + bare("oscar") + " " + body)
	partner.expectMessage(bare("olivia"), body)
	reply := "hi olivia, from slixmpp <&>"
	partner.message(bare("olivia"), reply)
	c.waitFor("the partner's message in the chat window", regexp.MustCompile(regexp.QuoteMeta(bare("oscar"))+`\S*: `+regexp.QuoteMeta(reply)))

	// The partner takes the nick profanity joins with by default (the
	// user name) in a room it creates.
	const room = "profanity@conference." + domain
	partner.send(map[string]any{"cmd": "join", "room": room, "nick": "olivia"})
	partner.mucReply("joined")
	partner.send(map[string]any{"cmd": "configure", "room": room})
	partner.mucReply("configured")
	c.keys("/win 1") // the console, where profanity reports errors
	c.keys("/join " + room)
	c.waitFor("the nick conflict", regexp.MustCompile(`Error joining room `+regexp.QuoteMeta(room)+`, reason: conflict`))
	c.keys("/join " + room + " nick olive")
	c.waitFor("its own presence in the room", regexp.MustCompile(`You have joined the room as olive\b`))
	partner.expectMUCPresence(room+"/olive", "available")
	c.keys("hello room, from profanity") // the room's window is the current one
	partner.expect("profanity's groupchat message", eventTimeout, func(ev event) bool {
		return ev.Event == "groupchat" && ev.From == room+"/olive" && ev.Body == "hello room, from profanity"
	})
	partner.send(map[string]any{"cmd": "say", "room": room, "body": "welcome, olive"})
	c.waitFor("the partner's groupchat message", regexp.MustCompile(`olivia: welcome, olive`))
	// Quitting closes the stream (profanity enables stream management, so
	// a dropped connection would keep olive in the room until resumption
	// times out): the room sees olive leave.
	c.keys("/quit")
	partner.expectMUCPresence(room+"/olive", "unavailable")
	c.waitExit()
}

// ---------------------------------------------------------------------
// A terminal client in tmux

// tmuxClient is a program running in a tmux session of its own (its own
// tmux server, on a socket in a temporary directory), read through
// capture-pane and typed into through send-keys.
type tmuxClient struct {
	t       *testing.T
	name    string
	sock    string
	logFile string // the client's own log, printed when the test fails
	srv     *server
	mark    int
}

// startTmux starts argv in a new detached tmux session with exactly env
// as its environment, 200×50 characters. The tmux server is killed when
// the test ends.
func startTmux(t *testing.T, s *server, name string, env []string, argv ...string) *tmuxClient {
	t.Helper()
	c := &tmuxClient{t: t, name: name, sock: filepath.Join(t.TempDir(), "tmux.sock"), srv: s, mark: s.log.Len()}
	args := append([]string{"-S", c.sock, "-f", "/dev/null", "new-session", "-d", "-s", "c", "-x", "200", "-y", "50", "--"}, argv...)
	cmd := exec.Command("tmux", args...)
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: tmux %v: %v\n%s", name, args, err, out)
	}
	t.Cleanup(func() { exec.Command("tmux", "-S", c.sock, "kill-server").Run() })
	return c
}

func (c *tmuxClient) tmux(args ...string) string {
	c.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", c.sock}, args...)...).CombinedOutput()
	if err != nil {
		c.fail("tmux %v: %v: %s", args, err, out)
	}
	return string(out)
}

// screen is what the terminal shows now, wrapped lines joined.
func (c *tmuxClient) screen() string {
	c.t.Helper()
	return c.tmux("capture-pane", "-p", "-J", "-t", "c")
}

// keys types text, then Enter.
func (c *tmuxClient) keys(text string) {
	c.t.Helper()
	c.tmux("send-keys", "-t", "c", "-l", text)
	c.tmux("send-keys", "-t", "c", "Enter")
}

// waitFor waits until the screen matches re.
func (c *tmuxClient) waitFor(what string, re *regexp.Regexp) {
	c.t.Helper()
	deadline := time.Now().Add(loginTimeout)
	for {
		if re.MatchString(c.screen()) {
			return
		}
		if time.Now().After(deadline) {
			c.fail("no %s within %v (want %q on the screen)", what, loginTimeout, re)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitExit waits until the program has exited (and with it its tmux
// session and server).
func (c *tmuxClient) waitExit() {
	c.t.Helper()
	for deadline := time.Now().Add(eventTimeout); exec.Command("tmux", "-S", c.sock, "has-session", "-t", "c").Run() == nil; {
		if time.Now().After(deadline) {
			c.fail("still running %v after being told to quit", eventTimeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (c *tmuxClient) fail(format string, args ...any) {
	c.t.Helper()
	screen, _ := exec.Command("tmux", "-S", c.sock, "capture-pane", "-p", "-J", "-t", "c").CombinedOutput()
	var log []byte
	if c.logFile != "" {
		log, _ = os.ReadFile(c.logFile)
	}
	c.t.Fatalf("%s: %s\n--- screen:\n%s\n--- %s log (%s):\n%s\n--- parley log since %s started:\n%s",
		c.name, fmt.Sprintf(format, args...), screen, c.name, c.logFile, log, c.name, c.srv.logSince(c.mark))
}
