package interop

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
)

// adminResult is what slixmpp/admin.py prints.
type adminResult struct {
	Commands []string `json:"commands"`
	Online   string   `json:"online"`
	Status   string   `json:"status"`
	Changed  bool     `json:"changed"`
	Error    string   `json:"error"`
}

// runAdminPy runs one scenario of slixmpp/admin.py as user.
func runAdminPy(t *testing.T, s *server, scenario, user, pw string, extra ...string) adminResult {
	t.Helper()
	host, port, _ := net.SplitHostPort(s.starttls)
	args := append([]string{filepath.Join(testDir(t), "slixmpp", "admin.py"), scenario,
		"--jid", bare(user) + "/admin", "--password", pw, "--host", host, "--port", port}, extra...)
	if os.Getenv("PARLEY_INTEROP_DEBUG") != "" {
		args = append(args, "--debug")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	mark := s.log.Len()
	cmd := exec.CommandContext(ctx, python, args...)
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	out, _ := cmd.Output()
	var res adminResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("admin.py %s as %s: output %q: %v\nstderr:\n%s\nserver log:\n%s", scenario, user, out, err, stderr.String(), s.logSince(mark))
	}
	if res.Error != "" {
		t.Logf("admin.py %s as %s: %s\nstderr:\n%s", scenario, user, res.Error, stderr.String())
	}
	return res
}

// TestSlixmppAdhocAndRegister runs an XEP-0133 command with slixmpp's
// xep_0050 plugin as the configured admin, then changes a password with
// its xep_0077 plugin.
func TestSlixmppAdhocAndRegister(t *testing.T) {
	needSlixmpp(t)
	s := theServer(t)
	mike := startSlixmpp(t, s, "mike", peerOpts{})
	checkLogin(t, mike, "SCRAM-SHA-256")

	const p1, p2 = "first-New-Password", "second-New-Password"
	res := runAdminPy(t, s, "adhoc", "root", password("root"), "--target", bare("nina"), "--new", p1)
	if res.Error != "" {
		t.Fatalf("adhoc: %s", res.Error)
	}
	for _, n := range []string{"get-online-users-num", "change-user-password", "announce"} {
		if !slices.Contains(res.Commands, "http://jabber.org/protocol/admin#"+n) {
			t.Errorf("command list lacks %s: %v", n, res.Commands)
		}
	}
	// root and mike at least; other scenarios may run at the same time.
	if n, err := strconv.Atoi(res.Online); err != nil || n < 2 {
		t.Errorf("online users = %q, want at least 2", res.Online)
	}
	if res.Status != "completed" {
		t.Errorf("change-user-password status %q", res.Status)
	}

	// nina logs in with the password the admin set and changes it in-band.
	if res := runAdminPy(t, s, "passwd", "nina", p1, "--new", p2); res.Error != "" || !res.Changed {
		t.Fatalf("XEP-0077 password change with the admin-set password: %+v", res)
	}
	if res := runAdminPy(t, s, "passwd", "nina", p1, "--new", p1); res.Error == "" {
		t.Fatalf("the old password still works: %+v", res)
	}
	if res := runAdminPy(t, s, "passwd", "nina", p2, "--new", p2); res.Error != "" || !res.Changed {
		t.Fatalf("login with the new password: %+v", res)
	}

	// A non-admin sees only the ping command and may not run the admin ones.
	if res := runAdminPy(t, s, "adhoc", "mike", password("mike"), "--target", bare("nina"), "--new", p1); res.Error == "" {
		t.Fatalf("a non-admin ran an admin command: %+v", res)
	}
	mike.quit()
}
