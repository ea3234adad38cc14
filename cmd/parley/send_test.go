package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

func runSendT(t *testing.T, env map[string]string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := runSend(context.Background(), args, func(k string) string { return env[k] },
		strings.NewReader(stdin), false, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestRunSendUsage(t *testing.T) {
	pw := map[string]string{"PARLEY_PASSWORD": "pw"}
	for _, tc := range []struct {
		name  string
		env   map[string]string
		stdin string
		args  []string
		want  string
	}{
		{"no jid", pw, "", []string{"--to", "bob@localhost", "hi"}, "--jid is required"},
		{"no to", pw, "", []string{"--jid", "alice@localhost", "hi"}, "--to is required"},
		{"unknown flag", pw, "", []string{"--jid", "alice@localhost", "--to", "bob@localhost", "--password", "x", "hi"}, "flag provided but not defined"},
		{"bad type", pw, "", []string{"--jid", "alice@localhost", "--to", "bob@localhost", "--type", "shout", "hi"}, "unknown --type"},
		{"two args", pw, "", []string{"--jid", "alice@localhost", "--to", "bob@localhost", "a", "b"}, "single argument"},
		{"no message, password on stdin", nil, "pw\n", []string{"--jid", "alice@localhost", "--to", "bob@localhost"}, "no message"},
		{"empty message from stdin", pw, "\n", []string{"--jid", "alice@localhost", "--to", "bob@localhost"}, "empty message"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runSendT(t, tc.env, tc.stdin, tc.args...)
			if code != 2 || !strings.Contains(stderr, tc.want) {
				t.Errorf("code %d, stderr %q; want 2 and %q", code, stderr, tc.want)
			}
		})
	}
}

func TestRunSendFailures(t *testing.T) {
	// A port nobody listens on: open and close a listener.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	pw := map[string]string{"PARLEY_PASSWORD": "pw"}
	for _, tc := range []struct {
		name  string
		env   map[string]string
		stdin string
		args  []string
		want  string
	}{
		{"bad jid", pw, "", []string{"--jid", "alice@@localhost", "--to", "bob@localhost", "hi"}, "bad --jid"},
		{"jid without localpart", pw, "", []string{"--jid", "localhost", "--to", "bob@localhost", "hi"}, "no localpart"},
		{"bad to", pw, "", []string{"--jid", "alice@localhost", "--to", "bob@", "hi"}, "bad --to"},
		{"no password on stdin", nil, "", []string{"--jid", "alice@localhost", "--to", "bob@localhost", "hi"}, "no password"},
		{"connection refused", pw, "", []string{"--jid", "alice@localhost", "--to", "bob@localhost", "--address", addr, "hi"}, "refused"},
		{"connection refused, password on stdin", nil, "pw\n", []string{"--jid", "alice@localhost", "--to", "bob@localhost", "--address", addr, "hi"}, "refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runSendT(t, tc.env, tc.stdin, tc.args...)
			if code != 1 || !strings.Contains(stderr, tc.want) {
				t.Errorf("code %d, stderr %q; want 1 and %q", code, stderr, tc.want)
			}
			if strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Errorf("stderr is not one line: %q", stderr)
			}
			if stdout != "" {
				t.Errorf("stdout %q", stdout)
			}
		})
	}
}

// TestSendReportsBounces sends with "parley send" through the in-process
// server: to an account that does not exist the server bounces the
// message, and send must say so with exit 1 and the error condition; to an
// existing account it confirms and exits 0 without waiting the whole
// --wait.
func TestSendReportsBounces(t *testing.T) {
	srv := xmpptest.NewServer(t)
	srv.AddUser(t, "alice", "pw")
	srv.AddUser(t, "bob", "pw")
	bob := srv.Client(t, "bob", "pw", "phone")
	ctx := xmpptest.Context(t, 30*time.Second)
	if err := bob.Send(ctx, stanza.New(stanza.NSClient, "presence")); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Recv(ctx); err != nil { // own presence
		t.Fatal(err)
	}
	pw := map[string]string{"PARLEY_PASSWORD": "pw"}
	send := func(to string, extra ...string) (int, string, string, time.Duration) {
		args := append([]string{"--jid", "alice@" + srv.Domain(), "--to", to, "--address", srv.Addr(), "--insecure"}, extra...)
		args = append(args, "hello")
		start := time.Now()
		code, stdout, stderr := runSendT(t, pw, "", args...)
		return code, stdout, stderr, time.Since(start)
	}

	code, stdout, stderr, took := send("nobody@"+srv.Domain(), "--wait", "20s")
	if code != 1 || !strings.Contains(stderr, "nobody@"+srv.Domain()+" bounced the message: service-unavailable") || stdout != "" {
		t.Errorf("to a missing account: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if took > 10*time.Second {
		t.Errorf("the bounce took %v to report", took)
	}

	code, stdout, stderr, took = send("bob@"+srv.Domain(), "--wait", "20s")
	if code != 0 || !strings.Contains(stdout, "sent to bob@") || stderr != "" {
		t.Errorf("to bob: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if took > 10*time.Second {
		t.Errorf("the confirmation took %v: send waited for --wait instead of the server", took)
	}
	for {
		st, err := bob.Recv(ctx)
		if err != nil {
			t.Fatalf("bob did not get the message: %v", err)
		}
		if st.Name.Local == "message" && st.ChildText("", "body") == "hello" {
			break
		}
	}

	// To another domain the server cannot reach.
	code, _, stderr, _ = send("someone@elsewhere.invalid")
	if code != 1 || !strings.Contains(stderr, "bounced the message") {
		t.Errorf("to a foreign domain: exit %d, stderr %q", code, stderr)
	}
}

// TestSendOverWebSocketAndBOSH: parley send --websocket reaches the server's
// XMPP over WebSocket endpoint, and --bosh its BOSH endpoint.
func TestSendOverWebSocketAndBOSH(t *testing.T) {
	srv := xmpptest.NewServer(t, func(c *config.Config) {
		c.Listeners = append(c.Listeners, config.Listener{Type: config.ListenerHTTP, Address: "127.0.0.1:0"})
	})
	srv.AddUser(t, "alice", "pw")
	srv.AddUser(t, "bob", "pw")
	bob := srv.Client(t, "bob", "pw", "phone")
	xmpptest.Send(t, bob, stanza.New(stanza.NSClient, "presence")) // available: messages to bob@ reach this resource
	xmpptest.Sync(t, bob)
	web := srv.App.Addrs(config.ListenerHTTP)[0].String()
	for _, flags := range [][]string{{"--websocket", "ws://" + web + "/xmpp-websocket"}, {"--bosh", "http://" + web + "/http-bind"}} {
		args := append([]string{"--jid", "alice@" + srv.Domain(), "--to", "bob@" + srv.Domain()}, flags...)
		code, stdout, stderr := runSendT(t, map[string]string{"PARLEY_PASSWORD": "pw"}, "", append(args, "over "+flags[0])...)
		if code != 0 || !strings.Contains(stdout, "sent to bob@") {
			t.Fatalf("%s: exit %d, stdout %q, stderr %q", flags[0], code, stdout, stderr)
		}
		if got := xmpptest.NextMessage(t, bob); got.ChildText(stanza.NSClient, "body") != "over "+flags[0] {
			t.Fatalf("%s: bob got %s", flags[0], got)
		}
	}
	code, _, stderr := runSendT(t, map[string]string{"PARLEY_PASSWORD": "pw"}, "", "--jid", "alice@"+srv.Domain(), "--to", "bob@"+srv.Domain(),
		"--websocket", "ws://"+web+"/xmpp-websocket", "--bosh", "http://"+web+"/http-bind", "both")
	if code != 2 || !strings.Contains(stderr, "exclude each other") {
		t.Fatalf("--websocket with --bosh: exit %d, stderr %q", code, stderr)
	}
}
