package main

import (
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpptest"
)

// TestS2SListUsage: usage errors exit 2 with the usage on stderr; -h
// prints it on stdout.
func TestS2SListUsage(t *testing.T) {
	pw := map[string]string{"PARLEY_PASSWORD": "pw"}
	for _, args := range [][]string{{"s2s"}, {"s2s", "frobnicate"}, {"s2s", "list"}, {"s2s", "list", "--bogus"}, {"s2s", "list", "--jid", "admin@localhost", "extra"}} {
		code, stdout, stderr := runT(t, pw, "", args...)
		if code != 2 || !strings.Contains(stderr, "usage: parley s2s list") || stdout != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, stdout, stderr)
		}
	}
	for _, args := range [][]string{{"s2s", "-h"}, {"s2s", "list", "--help"}} {
		code, stdout, _ := runT(t, pw, "", args...)
		if code != 0 || !strings.Contains(stdout, "usage: parley s2s list") {
			t.Errorf("%v: exit %d, stdout %q", args, code, stdout)
		}
	}
}

// TestS2SList runs "parley s2s list" against the in-process server: an
// administrator gets the (empty) list, with the password on standard
// input; anyone else is refused.
func TestS2SList(t *testing.T) {
	srv := xmpptest.NewServer(t, func(c *config.Config) { c.Admins = []jid.JID{jid.MustParse("admin@localhost")} })
	srv.AddUser(t, "admin", "secret")
	srv.AddUser(t, "alice", "pw")
	list := func(env map[string]string, stdin, user string) (int, string, string) {
		return runT(t, env, stdin, "s2s", "list", "--jid", user, "--address", srv.Addr(), "--insecure")
	}
	code, stdout, stderr := list(nil, "secret\n", "admin@localhost")
	if code != 0 || stdout != "no server-to-server links\n" || stderr != "" {
		t.Errorf("admin: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, stdout, stderr = list(map[string]string{"PARLEY_PASSWORD": "pw"}, "", "alice@localhost")
	if code != 1 || !strings.Contains(stderr, "not an administrator") || stdout != "" {
		t.Errorf("alice: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, _, stderr = list(map[string]string{"PARLEY_PASSWORD": "wrong"}, "", "admin@localhost")
	if code != 1 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Errorf("wrong password: exit %d, stderr %q", code, stderr)
	}
}

// TestPrintLinks: one row per link, in columns under a header.
func TestPrintLinks(t *testing.T) {
	since := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	var b strings.Builder
	printLinks(&b, []module.FederationLink{
		{Local: "a.example", Remote: "b.example", State: "ready", Auth: "SASL EXTERNAL", TLS: "TLS 1.3", Since: since},
		{Local: "a.example", Remote: "b.example", Incoming: true, State: "ready", Auth: "dialback", TLS: "TLS 1.3", Since: since},
		{Local: "a.example", Remote: "slow.example", State: "connecting"},
	})
	want := "" +
		"DOMAIN        DIRECTION  AUTH           TLS      SINCE                 LOCAL      STATE\n" +
		"b.example     out        SASL EXTERNAL  TLS 1.3  2026-12-07T06:00:00Z  a.example  ready\n" +
		"b.example     in         dialback       TLS 1.3  2026-12-07T06:00:00Z  a.example  ready\n" +
		"slow.example  out        -              -        -                     a.example  connecting\n"
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
}
