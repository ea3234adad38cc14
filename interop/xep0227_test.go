package interop

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// The XEP-0227 scenarios fill a real Prosody and a real ejabberd (Debian
// packages, each with its own folder, run as their own system users),
// export their data with their own tools, import it with `parley import`,
// start `parley serve` on the result and log in with the old passwords.

// migrated is what each scenario puts into the other server and expects
// to find in Parley.
var migrated = struct {
	alice, bob, alicePW, bobPW string
}{"alice", "bob", "alice's old pw ✓", "bob-old-Secret"}

// needRoot skips (or fails under PARLEY_INTEROP_REQUIRED) unless the test
// may switch to the servers' system users.
func needRoot(t *testing.T, tool string) {
	t.Helper()
	if os.Geteuid() != 0 {
		need(t, tool, "the test runs it as its own system user with setpriv, which needs root")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		need(t, tool, "setpriv not found (util-linux)")
	}
}

// asUser runs a command as a system user with HOME set to home.
func asUser(t *testing.T, ctx context.Context, user, home string, args ...string) string {
	t.Helper()
	full := append([]string{"--reuid=" + user, "--regid=" + user, "--init-groups", "env", "HOME=" + home}, args...)
	out, err := exec.CommandContext(ctx, "setpriv", full...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s as %s: %v\n%s", strings.Join(args, " "), user, err, out)
	}
	return string(out)
}

// ownedTempDir returns a temporary folder owned by a system user.
func ownedTempDir(t *testing.T, user string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "parley-xep0227-"+user+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	chown(t, user, dir)
	return dir
}

func chown(t *testing.T, user, path string) {
	t.Helper()
	if out, err := exec.Command("chown", "-R", user+":"+user, path).CombinedOutput(); err != nil {
		t.Fatalf("chown %s: %v\n%s", path, err, out)
	}
}

// template writes interop/xep0227/name into dir with {{DIR}} replaced.
func template(t *testing.T, name, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testDir(t), "xep0227", name))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(strings.ReplaceAll(string(b), "{{DIR}}", dir)), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestXEP0227FromProsody(t *testing.T) {
	for _, tool := range []string{"prosodyctl", "prosody-migrator", "lua5.4"} {
		if _, err := exec.LookPath(tool); err != nil {
			need(t, "prosody", tool+" not found on PATH; apt-get install prosody")
		}
	}
	needRoot(t, "prosody")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := ownedTempDir(t, "prosody")
	cfg := template(t, "prosody.cfg.lua", dir)
	migCfg := template(t, "migrator.cfg.lua", dir)
	for _, u := range [][2]string{{migrated.alice, migrated.alicePW}, {migrated.bob, migrated.bobPW}} {
		asUser(t, ctx, "prosody", dir, "prosodyctl", "--config", cfg, "register", u[0], domain, u[1])
	}
	// Rosters and vCards go into Prosody's internal store as the server
	// itself writes them (util.datamanager's Lua files; Prosody 0.12 has
	// no command-line way to edit a roster).
	files := map[string]string{
		"roster/alice.dat": `return {
	[false] = { ["version"] = 3; ["pending"] = { ["carol@localhost"] = true; }; };
	["bob@localhost"] = { ["subscription"] = "both"; ["name"] = "Bobby"; ["groups"] = { ["Friends"] = true; }; };
	["dave@example.org"] = { ["subscription"] = "none"; ["ask"] = "subscribe"; ["groups"] = {}; };
};`,
		"roster/bob.dat": `return {
	["alice@localhost"] = { ["subscription"] = "both"; ["groups"] = {}; };
};`,
		"vcard/alice.dat": `return { ["name"] = "vCard"; ["attr"] = { ["xmlns"] = "vcard-temp"; };
	[1] = { ["name"] = "FN"; ["attr"] = {}; [1] = "Alice Liddell"; }; };`,
	}
	for name, body := range files {
		p := filepath.Join(dir, "data", "localhost", filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	chown(t, "prosody", dir)
	// prosody-migrator's xep0227 store writes into Prosody's data path,
	// which the packaged script fixes at /var/lib/prosody: run a copy
	// pointing at the test's folder instead.
	script, err := os.ReadFile("/usr/bin/prosody-migrator")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(script), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "CFG_DATADIR=") {
			lines[i] = fmt.Sprintf("CFG_DATADIR=%q;", out)
		}
	}
	mig := filepath.Join(dir, "prosody-migrator.lua")
	if err := os.WriteFile(mig, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	log := asUser(t, ctx, "prosody", dir, "lua5.4", mig, "--config="+migCfg, "input", "output")
	dumps, _ := filepath.Glob(filepath.Join(out, "*.xml"))
	if len(dumps) != 2 {
		t.Fatalf("prosody-migrator wrote %q; its output:\n%s", dumps, log)
	}
	checkImported(t, out, false)
}

func TestXEP0227FromEjabberd(t *testing.T) {
	if _, err := exec.LookPath("ejabberdctl"); err != nil {
		need(t, "ejabberd", "ejabberdctl not found on PATH; apt-get install ejabberd")
	}
	needRoot(t, "ejabberd")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := ownedTempDir(t, "ejabberd")
	cfg := template(t, "ejabberd.yml", dir)
	// Its own ejabberdctl.cfg: the packaged one points at /etc/ejabberd.
	node := fmt.Sprintf("parley%d@localhost", os.Getpid())
	ctlCfg := filepath.Join(dir, "ejabberdctl.cfg")
	if err := os.WriteFile(ctlCfg, []byte("ERLANG_NODE="+node+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".erlang.cookie"), []byte("parley-xep0227-test\n"), 0o400); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"spool", "logs", "export"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	chown(t, "ejabberd", dir)
	ctl := func(args ...string) string {
		t.Helper()
		base := []string{"ejabberdctl", "--config", cfg, "--ctl-config", ctlCfg, "--spool", filepath.Join(dir, "spool"),
			"--logs", filepath.Join(dir, "logs"), "--node", node}
		return asUser(t, ctx, "ejabberd", dir, append(base, args...)...)
	}
	ctl("start")
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), time.Minute)
		defer scancel()
		base := []string{"--reuid=ejabberd", "--regid=ejabberd", "--init-groups", "env", "HOME=" + dir, "ejabberdctl",
			"--config", cfg, "--ctl-config", ctlCfg, "--spool", filepath.Join(dir, "spool"), "--logs", filepath.Join(dir, "logs"), "--node", node}
		exec.CommandContext(sctx, "setpriv", append(base, "stop")...).Run()
		exec.CommandContext(sctx, "setpriv", append(base, "stopped")...).Run()
	})
	ctl("started")
	ctl("register", migrated.alice, domain, migrated.alicePW)
	ctl("register", migrated.bob, domain, migrated.bobPW)
	ctl("add_rosteritem", migrated.alice, domain, migrated.bob, domain, "Bobby", "Friends", "both")
	ctl("add_rosteritem", migrated.bob, domain, migrated.alice, domain, "", "", "both")
	ctl("add_rosteritem", migrated.alice, domain, "dave", "example.org", "", "", "none")
	ctl("set_vcard", migrated.alice, domain, "FN", "Alice Liddell")
	ctl("export_piefxis", filepath.Join(dir, "export"))
	checkImported(t, filepath.Join(dir, "export"), true)
}

// checkImported imports dump into a new Parley data folder, serves it and
// checks the migrated accounts.
func checkImported(t *testing.T, dump string, ejabberd bool) {
	t.Helper()
	s := &server{dir: t.TempDir(), log: &lockedBuffer{}, exited: make(chan struct{})}
	s.bin = filepath.Join(s.dir, "parley")
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-o", s.bin, "./cmd/parley")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/parley: %v\n%s", err, out)
	}
	data := filepath.Join(s.dir, "data")
	out, err := exec.Command(s.bin, "import", "--data", data, dump).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "imported 2 accounts") {
		t.Fatalf("parley import %s: %v\n%s", dump, err, out)
	}
	t.Logf("parley import: %s", out)
	if err := s.serve(data); err != nil {
		t.Fatal(err)
	}
	defer s.stop()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	login := func(user, pw string) *client.Client {
		t.Helper()
		c, err := client.Dial(ctx, client.Config{JID: jid.MustParse(bare(user)), Password: pw, Address: s.starttls,
			TLS: &tls.Config{InsecureSkipVerify: true}, Mechanism: "SCRAM-SHA-1"})
		if err != nil {
			t.Fatalf("%s cannot log in with the old password: %v\n%s", user, err, s.log.String())
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	alice := login(migrated.alice, migrated.alicePW)
	login(migrated.bob, migrated.bobPW)
	if _, err := client.Dial(ctx, client.Config{JID: jid.MustParse(bare(migrated.alice)), Password: "wrong", Address: s.starttls,
		TLS: &tls.Config{InsecureSkipVerify: true}}); err == nil {
		t.Fatal("a wrong password was accepted")
	}

	res, err := alice.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", "", stanza.New("jabber:iq:roster", "query")))
	if err != nil {
		t.Fatalf("roster get: %v", err)
	}
	var got []string
	for _, it := range res.Payload().ChildrenNamed("jabber:iq:roster", "item") {
		got = append(got, fmt.Sprintf("%s %s %q %q %s", it.Get("jid"), it.Get("subscription"), it.Get("name"),
			it.ChildText("jabber:iq:roster", "group"), it.Get("ask")))
	}
	slices.Sort(got)
	want := []string{`bob@localhost both "Bobby" "Friends" `}
	if ejabberd {
		want = append(want, `dave@example.org none "" "" `)
	} else {
		want = append(want, `dave@example.org none "" "" subscribe`)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("alice's roster in Parley:\n got %q\nwant %q", got, want)
	}

	res, err = alice.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", "", stanza.New("vcard-temp", "vCard")))
	if err != nil {
		t.Fatalf("vCard get: %v", err)
	}
	if fn := res.Payload().ChildText("vcard-temp", "FN"); fn != "Alice Liddell" {
		t.Fatalf("alice's vCard FN = %q, want Alice Liddell", fn)
	}
}
