package main

import (
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/server/config"
)

// badUsernames are the usernames the username policy refuses
// (auth.CheckUsername), as in-band registration does.
var badUsernames = []string{"bad user", "a<b", "a:b", "a@b", "a/b", "x\u0007", "\u2163", strings.Repeat("a", 1024)}

// TestUserAddUsernamePolicy: "parley user add" refuses the usernames
// in-band registration refuses, with exit 2, and creates none of them.
func TestUserAddUsernamePolicy(t *testing.T) {
	env := map[string]string{"PARLEY_DATA": t.TempDir()}
	for _, u := range append([]string{""}, badUsernames...) {
		arg := u + "@localhost"
		if code, _, stderr := runT(t, env, "s3cret\n", "user", "add", arg); code != 2 || !strings.Contains(stderr, "is not a valid bare JID user@domain") {
			t.Errorf("user add %.20q: exit %d %.80q, want 2 and a refusal", arg, code, stderr)
		}
	}
	if code, out, _ := runT(t, env, "", "user", "list"); code != 0 || out != "" {
		t.Fatalf("list: %d %q", code, out)
	}
}

// TestInviteUsernamePolicy: an invitation reserves only a username
// in-band registration would accept.
func TestInviteUsernamePolicy(t *testing.T) {
	cfg := config.Default()
	for _, u := range badUsernames {
		if _, err := newInvite(cfg, "", u, 1, 0); err == nil || !strings.Contains(err.Error(), "is not a valid username: the username is not valid") {
			t.Errorf("invite --user %.20q: %.80v, want a refusal", u, err)
		}
	}
	inv, err := newInvite(cfg, "", "Grace", 1, 0)
	if err != nil || inv.Username != "grace" {
		t.Errorf("invite --user Grace: %+v, %v", inv, err)
	}
}
