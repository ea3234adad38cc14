package interop

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// biboumiSecret is the shared secret of the biboumi gateway's component
// (TestBiboumiIRCGateway).
const biboumiSecret = "biboumi-component-secret"

// biboumiDomain is the domain biboumi serves as a component.
const biboumiDomain = "biboumi." + domain

// TestBiboumiIRCGateway: a real XMPP↔IRC gateway through Parley. ngircd,
// an IRC server, runs on a loopback port of its own; biboumi connects to
// Parley's component listener as biboumi.localhost (XEP-0114). A slixmpp
// user points biboumi at ngircd's port with biboumi's own ad-hoc command
// (XEP-0050, "configure" on the IRC server's JID), then joins the channel
// #test%127.0.0.1@biboumi.localhost as a MUC room, where a raw IRC
// client of the test already is. Each sees the other's messages and nick
// changes: the XMPP user sees the IRC user's as XEP-0045 §7.6 has it
// (unavailable presence with status 303 and the new nick, then the new
// occupant), the IRC user sees the XMPP user's as a NICK. The IRC user's
// private message reaches the XMPP user. When the XMPP user leaves the
// room, the IRC user sees it part; it joins again, and when its client
// dies without a word the server's unavailable presence for the ended
// session (RFC 6121 §4.6.3) makes biboumi part the channel again.
// biboumi then stops on SIGTERM (Parley logs the component's
// disconnection), and so does ngircd, both with status 0.
func TestBiboumiIRCGateway(t *testing.T) {
	t.Parallel()
	needSlixmpp(t)
	biboumi := needTool(t, "biboumi", "biboumi")
	ngircd, err := exec.LookPath("ngircd")
	if err != nil {
		// ngircd is in /usr/sbin, not on every user's PATH.
		ngircd = needTool(t, "/usr/sbin/ngircd", "ngircd")
	}
	s := theServer(t)

	irc := startNgircd(t, ngircd)
	_, ircPort, _ := net.SplitHostPort(irc.addr)
	gw := startBiboumi(t, s, biboumi)

	const ircServer = "127.0.0.1"
	const room = "#test%" + ircServer + "@" + biboumiDomain
	occ := func(nick string) string { return room + "/" + nick }

	irene := startMUCPeer(t, s, "irene")
	fail := irene.fail // a failing test also prints biboumi's and ngircd's output

	// biboumi tries TLS on 6697 and 6670 and then plain 6667 unless told
	// otherwise; the user's configuration of the server names ngircd's
	// port, without TLS.
	irene.send(map[string]any{"cmd": "adhoc", "jid": ircServer + "@" + biboumiDomain, "node": "configure",
		"set": map[string]any{"ports": []string{ircPort}, "tls_ports": []string{}}})
	ad := irene.expect("the configure command's answer", eventTimeout, func(ev event) bool { return ev.Event == "adhoc" })
	if a := decodeMUC(irene, ad); !a.OK || !slices.Contains(a.Fields, "ports") || a.Status != "completed" {
		fail("configuring the IRC server with biboumi's ad-hoc command: %s", ad.raw)
	}

	bob := dialIRC(t, irc.addr, "ircbob")
	bob.send("JOIN #test")
	bob.expect("its own JOIN", func(l ircLine) bool { return l.cmd == "JOIN" && l.nick() == "ircbob" })

	irene.send(map[string]any{"cmd": "join", "room": room, "nick": "irene"})
	j := irene.mucReply("joined")
	if !slices.Contains(j.Codes, 110) || !slices.Contains(j.Occupants, occ("ircbob")) {
		fail("joining the channel: %+v", j)
	}
	bob.expect("irene's JOIN", func(l ircLine) bool {
		return l.cmd == "JOIN" && l.nick() == "irene" && strings.EqualFold(l.arg(0), "#test")
	})

	irene.send(map[string]any{"cmd": "say", "room": room, "body": "hello IRC, from XMPP ü"})
	bob.expect("irene's message", func(l ircLine) bool {
		return l.cmd == "PRIVMSG" && l.nick() == "irene" && l.arg(0) == "#test" && l.arg(1) == "hello IRC, from XMPP ü"
	})

	bob.send("PRIVMSG #test :hello XMPP, from IRC")
	irene.expect("ircbob's message", eventTimeout, func(ev event) bool {
		return ev.Event == "groupchat" && ev.From == occ("ircbob") && ev.Body == "hello XMPP, from IRC"
	})

	bob.send("NICK ircbob2")
	bob.expect("its own NICK", func(l ircLine) bool { return l.cmd == "NICK" && l.nick() == "ircbob" })
	// XEP-0045 §7.6: the old occupant leaves with status 303 and the new
	// nick, then the new one comes.
	gone := irene.expect("ircbob's nick change", eventTimeout, func(ev event) bool {
		return ev.Event == "muc_presence" && ev.From == occ("ircbob") && ev.Type == "unavailable"
	})
	if !slices.Contains(decodeMUC(irene, gone).Codes, 303) || !strings.Contains(gone.XML, `nick="ircbob2"`) {
		fail("ircbob's nick change: want status 303 and the new nick: %s", gone.XML)
	}
	irene.expectMUCPresence(occ("ircbob2"), "available")
	bob.send("PRIVMSG #test :renamed")
	irene.expect("ircbob2's message", eventTimeout, func(ev event) bool {
		return ev.Event == "groupchat" && ev.From == occ("ircbob2") && ev.Body == "renamed"
	})

	bob.send("PRIVMSG irene :a private word")
	// A private message comes from the IRC user's own JID, nick%server.
	pm := irene.expect("ircbob2's private message", eventTimeout, func(ev event) bool {
		return ev.Event == "message" && ev.Body == "a private word"
	})
	if pm.From != "ircbob2%"+ircServer+"@"+biboumiDomain || pm.Type != "chat" {
		fail("private message: %s", pm.raw)
	}

	// The XMPP user changes nick in the room: a NICK on IRC, and the room
	// answers with its own 303 and then the new occupant.
	irene.send(map[string]any{"cmd": "nick", "room": room, "nick": "irene2"})
	bob.expect("irene's NICK", func(l ircLine) bool { return l.cmd == "NICK" && l.nick() == "irene" && l.arg(0) == "irene2" })
	own := irene.expect("irene's own nick change", eventTimeout, func(ev event) bool {
		return ev.Event == "muc_presence" && ev.From == occ("irene") && ev.Type == "unavailable"
	})
	if !slices.Contains(decodeMUC(irene, own).Codes, 303) || !strings.Contains(own.XML, `nick="irene2"`) {
		fail("irene's nick change: want status 303 and the new nick: %s", own.XML)
	}
	irene.expectMUCPresence(occ("irene2"), "available")

	// Leaving the room: biboumi parts the channel.
	irene.send(map[string]any{"cmd": "leave", "room": room, "nick": "irene2"})
	bob.expect("irene2 parting", func(l ircLine) bool { return l.cmd == "PART" && l.nick() == "irene2" })

	// Back in, then the client dies without a word: the server sends the
	// room the unavailable presence of a session that ends (RFC 6121
	// §4.6.3, directed presence), and biboumi parts the channel again.
	irene.send(map[string]any{"cmd": "join", "room": room, "nick": "irene2"})
	irene.mucReply("joined")
	bob.expect("irene2's second JOIN", func(l ircLine) bool { return l.cmd == "JOIN" && l.nick() == "irene2" })
	irene.cmd.Process.Kill()
	<-irene.done
	bob.expect("irene2 gone with her client", func(l ircLine) bool {
		return (l.cmd == "PART" || l.cmd == "QUIT") && l.nick() == "irene2"
	})

	mark := s.log.Len()
	if !gw.stop() || !gw.cmd.ProcessState.Success() {
		fail("biboumi did not exit cleanly within 10 s of SIGTERM: %v", gw.cmd.ProcessState)
	}
	waitFor(t, "Parley to log biboumi's disconnection", eventTimeout, func() bool {
		return hasLogLine(s.logSince(mark), "component: disconnected", "domain="+biboumiDomain)
	})
	if !irc.stop() || !irc.cmd.ProcessState.Success() {
		fail("ngircd did not exit cleanly within 10 s of SIGTERM: %v", irc.cmd.ProcessState)
	}
}

// ---------------------------------------------------------------------
// Daemons the scenario runs: ngircd and biboumi

// daemon is a process that runs in the foreground until SIGTERM.
type daemon struct {
	name   string
	addr   string // where it listens, if it does
	cmd    *exec.Cmd
	log    *lockedBuffer // its stdout and stderr
	exited chan struct{}
}

// startDaemon starts argv in dir; it is stopped when the test ends.
func startDaemon(t *testing.T, name, dir string, argv ...string) *daemon {
	t.Helper()
	d := &daemon{name: name, cmd: exec.Command(argv[0], argv[1:]...), log: &lockedBuffer{}, exited: make(chan struct{})}
	d.cmd.Dir = dir
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() { d.cmd.Wait(); close(d.exited) }()
	t.Cleanup(func() {
		d.stop()
		if t.Failed() {
			t.Logf("--- %s output:\n%s", name, d.log)
		}
	})
	return d
}

// stop sends SIGTERM and reports whether the daemon exited within 10 s;
// if not, it is killed.
func (d *daemon) stop() bool {
	select {
	case <-d.exited:
		return true
	default:
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
		return true
	case <-time.After(10 * time.Second):
		d.cmd.Process.Kill()
		<-d.exited
		return false
	}
}

// waitUntil polls cond until it holds, and reports false if the daemon
// exits first or cond does not hold within timeout.
func (d *daemon) waitUntil(timeout time.Duration, cond func() bool) bool {
	deadline := time.After(timeout)
	for !cond() {
		select {
		case <-d.exited:
			return false
		case <-deadline:
			return false
		case <-time.After(50 * time.Millisecond):
		}
	}
	return true
}

// hasLogLine reports whether a line of log has every one of parts.
func hasLogLine(log string, parts ...string) bool {
	for _, line := range strings.Split(log, "\n") {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(line, p)
		}
		if ok {
			return true
		}
	}
	return false
}

// waitFor polls cond until it holds, or fails the test after timeout.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v", what, timeout)
		}
	}
}

// startNgircd runs ngircd in the foreground (-n) on a free loopback port,
// with a configuration of its own: no PID file, no DNS, IDENT or PAM
// look-ups of clients, no configuration snippets of the system's. Started
// as root, ngircd switches to the user nobody by itself (it refuses to
// run as root); it reads its configuration before that.
func startNgircd(t *testing.T, bin string) *daemon {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "conf.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A free port is picked and released: another process could take it
	// in between, so a failed start is retried with a new one.
	for attempt := 0; ; attempt++ {
		addr, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		_, port, _ := net.SplitHostPort(addr)
		conf := filepath.Join(dir, "ngircd.conf")
		if err := os.WriteFile(conf, []byte(fmt.Sprintf(`[Global]
Name = irc.%s
Info = Parley interop test
AdminInfo1 = Parley interop test
AdminInfo2 = loopback only
AdminEMail = root@%[1]s
Listen = 127.0.0.1
Ports = %s
MotdPhrase = Parley interop test
[Limits]
MaxConnectionsIP = 0
[Options]
DNS = no
Ident = no
PAM = no
IncludeDir = %s
`, domain, port, filepath.Join(dir, "conf.d"))), 0o644); err != nil {
			t.Fatal(err)
		}
		d := startDaemon(t, "ngircd", dir, bin, "-n", "-f", conf)
		d.addr = addr
		if d.waitUntil(startTimeout, func() bool { return strings.Contains(d.log.String(), "ready.") }) {
			return d
		}
		d.stop()
		if attempt == 2 {
			t.Fatalf("ngircd did not start:\n%s", d.log)
		}
	}
}

// startBiboumi runs biboumi with a configuration of its own, connected
// to the server's component listener as biboumiDomain, with its
// database (SQLite) in a temporary directory and its identd off, and
// waits until the server has accepted it.
func startBiboumi(t *testing.T, s *server, bin string) *daemon {
	t.Helper()
	dir := t.TempDir()
	host, port, _ := net.SplitHostPort(s.component)
	conf := filepath.Join(dir, "biboumi.cfg")
	cfg := strings.Join([]string{
		"hostname=" + biboumiDomain,
		"password=" + biboumiSecret,
		"xmpp_server_ip=" + host,
		"port=" + port,
		"db_name=" + filepath.Join(dir, "biboumi.sqlite"),
		"identd_port=0", // else it listens on port 113
		"policy_directory=" + dir,
		"log_file=", // standard output
		"log_level=0",
		"realname_customization=true",
		"",
	}, "\n")
	if err := os.WriteFile(conf, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	mark := s.log.Len()
	d := startDaemon(t, "biboumi", dir, bin, conf)
	connected := func() bool { return hasLogLine(s.logSince(mark), "component: connected", "domain="+biboumiDomain) }
	if !d.waitUntil(startTimeout, connected) {
		t.Fatalf("biboumi did not connect within %v (exited: %v):\n%s\n--- parley log:\n%s", startTimeout, d.cmd.ProcessState, d.log, s.logSince(mark))
	}
	return d
}

// ---------------------------------------------------------------------
// A raw IRC client (RFC 2812)

// ircLine is one message from the IRC server.
type ircLine struct {
	prefix string // nick!user@host or a server name
	cmd    string
	params []string // the trailing parameter last
	raw    string
}

func parseIRC(raw string) ircLine {
	l := ircLine{raw: raw}
	s := raw
	if strings.HasPrefix(s, ":") {
		l.prefix, s, _ = strings.Cut(s[1:], " ")
	}
	for s != "" {
		if strings.HasPrefix(s, ":") {
			l.params = append(l.params, s[1:])
			break
		}
		var p string
		p, s, _ = strings.Cut(s, " ")
		if p == "" {
			continue
		}
		if l.cmd == "" {
			l.cmd = p
		} else {
			l.params = append(l.params, p)
		}
	}
	return l
}

// nick is the nick of the prefix (nick!user@host).
func (l ircLine) nick() string {
	n, _, _ := strings.Cut(l.prefix, "!")
	return n
}

func (l ircLine) arg(i int) string {
	if i < len(l.params) {
		return l.params[i]
	}
	return ""
}

type ircClient struct {
	t     *testing.T
	conn  net.Conn
	wmu   sync.Mutex
	lines chan ircLine // closed when the connection ends
	seen  []ircLine
	log   *lockedBuffer
}

// dialIRC connects to an IRC server and registers with nick; it answers
// the server's PINGs. The connection closes when the test ends.
func dialIRC(t *testing.T, addr, nick string) *ircClient {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, loginTimeout)
	if err != nil {
		t.Fatalf("IRC: %v", err)
	}
	c := &ircClient{t: t, conn: conn, lines: make(chan ircLine, 256), log: &lockedBuffer{}}
	t.Cleanup(func() {
		conn.Close()
		if t.Failed() {
			t.Logf("--- IRC client %s:\n%s", nick, c.log)
		}
	})
	go func() {
		defer close(c.lines)
		sc := bufio.NewScanner(conn)
		for sc.Scan() {
			raw := strings.TrimRight(sc.Text(), "\r")
			fmt.Fprintln(c.log, "<- "+raw)
			l := parseIRC(raw)
			if l.cmd == "PING" {
				c.write("PONG :" + l.arg(0))
				continue
			}
			c.lines <- l
		}
	}()
	c.send("NICK " + nick)
	c.send("USER " + nick + " 0 * :Parley interop")
	c.expect("RPL_WELCOME", func(l ircLine) bool { return l.cmd == "001" })
	return c
}

func (c *ircClient) write(line string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	fmt.Fprintln(c.log, "-> "+line)
	c.conn.SetWriteDeadline(time.Now().Add(eventTimeout))
	_, err := c.conn.Write([]byte(line + "\r\n"))
	return err
}

func (c *ircClient) send(line string) {
	c.t.Helper()
	if err := c.write(line); err != nil {
		c.t.Fatalf("IRC: sending %q: %v\n%s", line, err, c.log)
	}
}

// expect waits for a line matching ok, taking lines received earlier but
// not yet matched first.
func (c *ircClient) expect(what string, ok func(ircLine) bool) ircLine {
	c.t.Helper()
	for i, l := range c.seen {
		if ok(l) {
			c.seen = append(c.seen[:i:i], c.seen[i+1:]...)
			return l
		}
	}
	deadline := time.After(eventTimeout)
	for {
		select {
		case l, open := <-c.lines:
			if !open {
				c.t.Fatalf("IRC: connection closed while waiting for %s:\n%s", what, c.log)
			}
			if ok(l) {
				return l
			}
			c.seen = append(c.seen, l)
		case <-deadline:
			c.t.Fatalf("IRC: no %s within %v:\n%s", what, eventTimeout, c.log)
		}
	}
}
