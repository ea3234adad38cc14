package main

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/app"
	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

func TestInvite(t *testing.T) {
	data := t.TempDir()
	env := map[string]string{"PARLEY_DATA": data}
	code, out, stderr := runT(t, env, "", "invite", "--uses", "2", "--expires", "3d")
	if code != 0 {
		t.Fatalf("invite: %d %s", code, stderr)
	}
	m := regexp.MustCompile(`^xmpp:localhost\?register;preauth=([A-Za-z0-9]{24})\ntoken: ([A-Za-z0-9]{24})\nuses: 2, expires `).FindStringSubmatch(out)
	if m == nil || m[1] != m[2] {
		t.Fatalf("output %q", out)
	}
	token := m[1]

	// The stored invitation lets two accounts register, then no more.
	cfg := config.Default()
	cfg.DataDir = data
	ctx := context.Background()
	a, err := app.Open(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	inv, err := a.Stores().Invites.Invite(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(inv.Expires); inv.MaxUses != 2 || inv.Domain != "localhost" || d < 71*time.Hour || d > 73*time.Hour {
		t.Fatalf("stored %+v", inv)
	}
	acc := a.Accounts()
	for i, u := range []string{"one", "two", "three"} {
		err := acc.Register(ctx, module.Registration{User: jid.MustParse(u + "@localhost"), Password: "long enough", Token: token})
		if (i < 2) != (err == nil) {
			t.Errorf("registration %d with the invitation: %v", i+1, err)
		}
	}

	// A reserved username; bad flags.
	code, out, _ = runT(t, env, "", "invite", "--user", "Zoe", "--expires", "never")
	if code != 0 || !strings.HasPrefix(out, "xmpp:zoe@localhost?register;preauth=") || !strings.Contains(out, "never expires") {
		t.Fatalf("reserved invite: %d %q", code, out)
	}
	zoe := regexp.MustCompile(`preauth=([A-Za-z0-9]+)`).FindStringSubmatch(out)[1]
	for _, tc := range []struct {
		user, password, token string
		want                  stanza.Condition
	}{
		{"anyone", "long enough", "", stanza.NotAllowed},    // registration is closed
		{"mallory", "long enough", zoe, stanza.Forbidden},   // reserved for zoe
		{"zoe", "short", zoe, stanza.NotAcceptable},         // password policy
		{"zoe", "long enough", "bogus", stanza.Forbidden},   // unknown token
		{"one", "long enough", zoe + "x", stanza.Forbidden}, // unknown token
	} {
		err := acc.Register(ctx, module.Registration{User: jid.MustParse(tc.user + "@localhost"), Password: tc.password, Token: tc.token})
		var se *stanza.Error
		if !errors.As(err, &se) || se.Condition != tc.want {
			t.Errorf("register %s with %q: %v, want %s", tc.user, tc.token, err, tc.want)
		}
	}
	if err := acc.Register(ctx, module.Registration{User: jid.MustParse("zoe@localhost"), Password: "long enough", Token: zoe}); err != nil {
		t.Errorf("zoe's registration: %v", err)
	}
	for _, args := range [][]string{
		{"invite", "--uses", "0"},
		{"invite", "--expires", "-1h"},
		{"invite", "--expires", "soon"},
		{"invite", "--domain", "elsewhere.example"},
		{"invite", "extra"},
	} {
		if code, _, _ := runT(t, env, "", args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}
