package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/bench/load"
	"github.com/parley-xmpp/parley/xmpptest"
)

func TestBenchUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--tls", "none"}, "--tls must be starttls or direct"},
		{[]string{"--mechanism", "DIGEST-MD5"}, "--mechanism must be"},
		{[]string{"--scenario", "login,hurricane"}, `unknown scenario "hurricane"`},
		{[]string{"--scenario", "login", "--restart-cmd", "true"}, "--restart-cmd applies to the storm scenario only"},
		{[]string{"--user", "alice"}, "needs a %d"},
		{[]string{"--count", "0"}, "--count must be positive"},
		{[]string{"--sources", "10.0.0.1"}, "not a loopback address"},
		{[]string{"--address", ""}, "--address is required"},
		{[]string{"--curves", "x448"}, `--curves: load: unknown TLS key exchange "x448"`},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"--scenario", "chat,s2s", "--peer-domain", "b.example"}, "the s2s scenario needs --peer-address and --peer-domain"},
		{[]string{"--scenario", "s2s", "--peer-address", "127.0.0.1:5322"}, "the s2s scenario needs --peer-address and --peer-domain"},
		{[]string{"--scenario", "s2s", "--peer-address", "127.0.0.1:5322", "--peer-domain", "localhost"}, "--peer-domain must differ from --domain"},
		{[]string{"--websocket", "http://127.0.0.1:5280/xmpp-websocket"}, "want a ws:// or wss:// URL"},
		{[]string{"--websocket", "wss://127.0.0.1:5443/xmpp-websocket", "--tls", "direct"}, "--tls direct does not apply to --websocket"},
		{[]string{"--bosh", "ws://127.0.0.1:5280/http-bind"}, "want an http:// or https:// URL"},
		{[]string{"--bosh", "https://127.0.0.1:5443/http-bind", "--tls", "direct"}, "--tls direct does not apply to --bosh"},
		{[]string{"--bosh", "https://127.0.0.1:5443/http-bind", "--websocket", "wss://127.0.0.1:5443/xmpp-websocket"}, "--bosh and --websocket are two transports"},
		{[]string{"--scenario", "s2s-links"}, "the s2s-links scenario needs --links ≥ 1 and --link-domain with one %d"},
		{[]string{"--scenario", "s2s-links", "--link-domain", "d%d.example", "--links", "0"}, "the s2s-links scenario needs --links ≥ 1"},
		{[]string{"--scenario", "s2s-links", "--link-domain", "d%d-%d.example"}, "--link-domain with one %d"},
		{[]string{"--pairing", "diagonal"}, `--pairing: load: unknown pairing "diagonal"`},
		{[]string{"--pairing", "same-node", "--first", "3"}, "--pairing same-node needs an even --first, not 3"},
		{[]string{"--cpu-pid", "7"}, "--cpu-pid needs --pid"},
		{[]string{"--pid", "7,x"}, `invalid value "7,x" for flag -pid`},
		{[]string{"--pid", ","}, "no process ID"},
		{[]string{"--scenario", "s2s", "--peer-address", "127.0.0.1:5322", "--peer-domain", "b.example", "--pid", "7,8"}, "the s2s and s2s-links scenarios take one --pid"},
	} {
		code, _, stderr := runT(t, nil, "", append([]string{"bench"}, tc.args...)...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("bench %v: code %d, stderr %q, want %q", tc.args, code, stderr, tc.want)
		}
	}
}

// TestBenchAgainstParley runs "parley bench" end to end: two scenarios
// against an in-process server, JSON reports on standard output.
func TestBenchAgainstParley(t *testing.T) {
	s := xmpptest.NewServer(t)
	const n = 20
	for i := range n {
		s.AddUser(t, fmt.Sprintf("load%d", i), "secret")
	}
	dir := t.TempDir()
	keyFile, profile := filepath.Join(dir, "keys.json"), filepath.Join(dir, "cpu.pprof")
	code, stdout, stderr := runT(t, nil, "", "bench", "--address", s.TLSAddr(), "--tls", "direct",
		"--cafile", s.CertFile(), "--curves", "x25519", "--domain", s.Domain(), "--user", "load%d", "--password", "secret",
		"--count", fmt.Sprint(n), "--mechanism", "SCRAM-SHA-256", "--scenario", "login,chat",
		"--duration", "500ms", "--progress", "100ms", "--json", "--key-file", keyFile, "--cpuprofile", profile)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if keys, err := load.LoadKeyCache(keyFile); err != nil {
		t.Errorf("key file: %v", err)
	} else if keys.Len() != n {
		t.Errorf("key file: %d entries, want %d", keys.Len(), n)
	}
	if fi, err := os.Stat(profile); err != nil || fi.Size() == 0 {
		t.Errorf("no CPU profile written: %v", err)
	}
	if !strings.Contains(stderr, "logins 20/20") {
		t.Errorf("no progress line in stderr: %q", stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 JSON reports, got %q", stdout)
	}
	for i, want := range []string{"login", "chat"} {
		var r load.Report
		if err := json.Unmarshal([]byte(lines[i]), &r); err != nil {
			t.Fatalf("report %d: %v", i, err)
		}
		if r.Scenario != want || r.Logins != n || r.Errors != 0 || r.Lost != 0 {
			t.Errorf("report %d: %+v", i, r)
		}
		if want == "chat" && (r.Sent == 0 || r.Received != r.Sent) {
			t.Errorf("chat: sent %d, received %d", r.Sent, r.Received)
		}
	}
}
