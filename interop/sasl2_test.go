package interop

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// @xmpp/client 0.14 logs in with SASL2 (XEP-0388) when offered, binds with
// Bind 2 (XEP-0386) using its resource as the tag, enables stream
// management inline, and requests a FAST token (XEP-0484), which its next
// login uses instead of the password.
func TestXmppjsSASL2BindFAST(t *testing.T) {
	needXmppjs(t)
	s := theServer(t)
	const user, uaID, tag = "quinn", "7c9e6679-7425-40de-944b-e07fc1f90ae7", "parley-interop"
	cmd := xmppjsCommand(t, "", "sasl2_peer.js", "--service", "xmpp://"+s.starttls, "--domain", domain,
		"--username", user, "--password", password(user), "--uaid", uaID, "--tag", tag)
	mark := s.log.Len()
	p := startPeer(t, s, "@xmpp/client (SASL2) "+user, user, cmd)
	first := p.online.JID
	if bareOf(first) != p.bare() || !strings.HasPrefix(first, p.bare()+"/"+tag+"/") {
		p.fail("bound %q, want a Bind 2 resource %s/…", first, tag)
	}
	if !p.online.Token {
		p.fail("no FAST token after the password login")
	}
	// The server may log a step just after the client has seen it.
	for _, want := range []string{"session bound with Bind 2", "FAST token issued", "stream management enabled"} {
		waitLogged(t, s, mark, want, want)
	}

	// A message reaches the Bind 2 session.
	body := "hello over SASL2 <&> ü"
	p.send(map[string]any{"cmd": "send", "to": first, "body": body})
	p.expectMessage(p.bare(), body)

	// The next login uses the token: HT-SHA-256-NONE, same resource (the
	// same installation), no password exchange.
	mark = s.log.Len()
	p.send(map[string]any{"cmd": "restart"})
	again := p.expect("login with the FAST token", loginTimeout, func(ev event) bool { return ev.Event == "online" })
	if again.Mech != "HT-SHA-256-NONE" {
		p.fail("second login with %q, want the FAST token (HT-SHA-256-NONE)", again.Mech)
	}
	if again.JID != first {
		p.fail("second login bound %q, want the stable resource %q", again.JID, first)
	}
	waitLogged(t, s, mark, "authentication with the FAST token", "authenticated", "mechanism=HT-SHA-256-NONE")
	p.send(map[string]any{"cmd": "quit"})
}

// TestXmppjsSlowStreamOpen: @xmpp/client waits for each step of the
// login (the stream's opening first) as long as the test does. Its own
// default is 2 s, which a loaded CI machine can exceed: here a TCP relay
// holds the server's first bytes (the stream header and features) for
// 3 s, and the client still logs in.
func TestXmppjsSlowStreamOpen(t *testing.T) {
	t.Parallel()
	needXmppjs(t)
	s := theServer(t)
	relay := slowRelay(t, s.starttls, 3*time.Second)
	cmd := xmppjsCommand(t, "", "peer.js", "--service", "xmpp://"+relay, "--domain", domain,
		"--username", "hugo", "--password", password("hugo"), "--mech", "SCRAM-SHA-1")
	p := startPeer(t, s, "@xmpp/client hugo (slow link)", "hugo", cmd)
	checkLogin(t, p, "SCRAM-SHA-1")
	p.quit()
}

// slowRelay listens on a local port and relays each connection to target,
// holding the first bytes target sends for delay. It returns its address.
func slowRelay(t *testing.T, target string, delay time.Duration) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				up, err := net.Dial("tcp", target)
				if err != nil {
					return // the client fails, naming the connection
				}
				defer up.Close()
				go func() { io.Copy(up, c); up.(*net.TCPConn).CloseWrite() }()
				buf := make([]byte, 32<<10)
				n, err := up.Read(buf)
				if err != nil {
					return
				}
				time.Sleep(delay)
				if _, err := c.Write(buf[:n]); err != nil {
					return
				}
				io.Copy(c, up)
			}()
		}
	}()
	return l.Addr().String()
}

// runToEnd runs a peer that exits by itself and returns its events.
func runToEnd(t *testing.T, s *server, cmd *exec.Cmd) []event {
	t.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	mark := s.log.Len()
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %v: %v", cmd.Args, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), loginTimeout)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { cmd.Process.Kill() })
	defer stop()
	var evs []event
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		var ev event
		if json.Unmarshal(sc.Bytes(), &ev) == nil {
			evs = append(evs, ev)
		}
	}
	if err := cmd.Wait(); err != nil || ctx.Err() != nil {
		t.Fatalf("%v: %v (%v)\nstderr:\n%s\nevents: %+v\nparley log:\n%s", cmd.Args, err, ctx.Err(), stderr.String(), evs, s.logSince(mark))
	}
	return evs
}

func findEvent(evs []event, name string) (event, bool) {
	for _, ev := range evs {
		if ev.Event == name {
			return ev, true
		}
	}
	return event{}, false
}

// slixmpp's xep_0077 registers an account on the unauthenticated stream
// (XEP-0077 §3.1), then logs in with it; a taken username gets
// <conflict/>.
func TestSlixmppInBandRegistration(t *testing.T) {
	needSlixmpp(t)
	s := theServer(t)
	port := s.starttls[strings.LastIndexByte(s.starttls, ':')+1:]
	register := func(user, pw string) []event {
		args := []string{filepath.Join(testDir(t), "slixmpp", "register_peer.py"), "--jid", bare(user), "--password", pw, "--port", port}
		if os.Getenv("PARLEY_INTEROP_DEBUG") != "" {
			args = append(args, "--debug")
		}
		return runToEnd(t, s, exec.Command(python, args...))
	}
	newUser := "reg" + strings.ReplaceAll(time.Now().Format("150405.000"), ".", "")
	evs := register(newUser, password(newUser))
	if _, ok := findEvent(evs, "registered"); !ok {
		t.Fatalf("no registration: %+v", evs)
	}
	on, ok := findEvent(evs, "online")
	if !ok || bareOf(on.JID) != bare(newUser) {
		t.Fatalf("the registered account did not log in: %+v", evs)
	}
	evs = register("alice", "another-password")
	e, ok := findEvent(evs, "register_error")
	if !ok || e.Condition != "conflict" {
		t.Fatalf("registering a taken username: %+v", evs)
	}
}
