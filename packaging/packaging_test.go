// Package packaging holds the files that install Parley as a service (the
// systemd unit, the Dockerfile, the .deb recipe and its scripts) and the
// tests that check them: the .deb is built and inspected with dpkg-deb,
// the unit verified by systemd-analyze, the Dockerfile parsed (Docker
// itself is not available where the tests run, so the image is not
// built).
package packaging

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/config"
)

// run runs a command and returns its output; it fails the test unless the
// command succeeds.
func run(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestDeb builds the .deb with packaging/build-deb.sh and checks what it
// holds and what it does on installation: the files with their modes,
// the control fields, the configuration file kept over upgrades, the
// maintainer scripts; then the packaged binary runs, accepts the packaged
// configuration, and systemd-analyze finds nothing to say about the
// packaged unit.
func TestDeb(t *testing.T) {
	out := t.TempDir()
	built := run(t, "..", "packaging/build-deb.sh", out)
	debs, _ := filepath.Glob(filepath.Join(out, "parley_*.deb"))
	if len(debs) != 1 {
		t.Fatalf("built %v; output:\n%s", debs, built)
	}
	deb := debs[0]

	// The files, their owners and modes.
	listing := run(t, "", "dpkg-deb", "-c", deb)
	for _, want := range []string{
		`-rwxr-xr-x root/root +\d+ \S+ \S+ \./usr/bin/parley\n`,
		`-rw-r--r-- root/root +\d+ \S+ \S+ \./lib/systemd/system/parley\.service\n`,
		`-rw-r----- root/root +\d+ \S+ \S+ \./etc/parley/parley\.yaml\n`,
		`drwxr-x--- root/root +0 \S+ \S+ \./var/lib/parley/\n`,
		`\./usr/share/doc/parley/install\.md\n`,
		`\./usr/share/doc/parley/config\.md\n`,
		`\./usr/share/doc/parley/operations\.md\n`,
	} {
		if !regexp.MustCompile(want).MatchString(listing) {
			t.Errorf("dpkg-deb -c lacks %s:\n%s", want, listing)
		}
	}

	// The control fields.
	x := t.TempDir()
	run(t, "", "dpkg-deb", "-x", deb, x)
	binary := filepath.Join(x, "usr/bin/parley")
	version := strings.TrimSpace(strings.TrimPrefix(run(t, "", binary, "version"), "parley "))
	info := run(t, "", "dpkg-deb", "-I", deb)
	arch := strings.TrimSpace(run(t, "", "go", "env", "GOARCH"))
	for _, want := range []string{
		" Package: parley\n",
		" Version: " + version + "\n",
		" Architecture: " + arch + "\n",
		" Depends: adduser\n",
		" Section: net\n",
	} {
		if !strings.Contains(info, want) {
			t.Errorf("dpkg-deb -I lacks %q:\n%s", want, info)
		}
	}
	if !strings.HasSuffix(deb, "parley_"+version+"_"+arch+".deb") {
		t.Errorf("package file %s", deb)
	}
	if conffiles := run(t, "", "dpkg-deb", "-I", deb, "conffiles"); strings.TrimSpace(conffiles) != "/etc/parley/parley.yaml" {
		t.Errorf("conffiles %q", conffiles)
	}

	// The maintainer scripts: valid shell, and doing what they must.
	for script, wants := range map[string][]string{
		"postinst": {"addgroup --system --quiet parley", "adduser --system --quiet --ingroup parley --home /var/lib/parley",
			"install -d -o parley -g parley -m 0750 /var/lib/parley", "systemctl enable --now parley.service", "systemctl try-restart parley.service"},
		"prerm":  {"systemctl disable --now parley.service"},
		"postrm": {"rm -rf /var/lib/parley", "deluser --system --quiet parley"},
	} {
		body := run(t, "", "dpkg-deb", "-I", deb, script)
		for _, w := range wants {
			if !strings.Contains(body, w) {
				t.Errorf("%s lacks %q:\n%s", script, w, body)
			}
		}
		f := filepath.Join(t.TempDir(), script)
		if err := os.WriteFile(f, []byte(body), 0o700); err != nil {
			t.Fatal(err)
		}
		run(t, "", "sh", "-n", f)
	}

	// The packaged binary is static and accepts the packaged
	// configuration.
	if file, err := exec.LookPath("file"); err == nil {
		if desc := run(t, "", file, binary); !strings.Contains(desc, "statically linked") {
			t.Errorf("binary not static: %s", desc)
		}
	}
	cfg := filepath.Join(x, "etc/parley/parley.yaml")
	check := run(t, "", binary, "check", "--config", cfg, "--data", t.TempDir(), "config")
	if !strings.Contains(check, "ok: configuration valid: domains localhost") {
		t.Errorf("packaged configuration: %s", check)
	}

	// The packaged unit, with the packaged binary in place of
	// /usr/bin/parley, satisfies systemd-analyze verify.
	if sa, err := exec.LookPath("systemd-analyze"); err == nil {
		unit, err := os.ReadFile(filepath.Join(x, "lib/systemd/system/parley.service"))
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(t.TempDir(), "parley.service")
		if err := os.WriteFile(f, []byte(strings.ReplaceAll(string(unit), "/usr/bin/parley", binary)), 0o644); err != nil {
			t.Fatal(err)
		}
		if out := run(t, "", sa, "verify", f); out != "" {
			t.Errorf("systemd-analyze verify: %s", out)
		}
	}
}

// directives reads a systemd unit into its section.key values (a key may
// repeat).
func directives(t *testing.T, file string) map[string][]string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s: line %q", file, line)
			}
			out[section+"."+k] = append(out[section+"."+k], v)
		}
	}
	return out
}

// TestUnit checks the directives the systemd unit must have: the
// notify protocol the server speaks, reload by SIGHUP, the file
// descriptor limit, the hardening, the service user.
func TestUnit(t *testing.T) {
	d := directives(t, "parley.service")
	for k, v := range map[string]string{
		"Service.Type":                  "notify",
		"Service.ExecStart":             "/usr/bin/parley serve --config /etc/parley/parley.yaml",
		"Service.ExecReload":            "/bin/kill -HUP $MAINPID",
		"Service.LimitNOFILE":           "65536",
		"Service.User":                  "parley",
		"Service.ProtectSystem":         "strict",
		"Service.ReadWritePaths":        "/var/lib/parley",
		"Service.NoNewPrivileges":       "yes",
		"Service.PrivateTmp":            "yes",
		"Service.ProtectHome":           "yes",
		"Service.CapabilityBoundingSet": "CAP_NET_BIND_SERVICE",
		"Service.AmbientCapabilities":   "CAP_NET_BIND_SERVICE",
		"Install.WantedBy":              "multi-user.target",
	} {
		if got := d[k]; !slices.Equal(got, []string{v}) {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

// TestDockerfile parses the Dockerfile (it is not built: there is no
// Docker daemon where the tests run): a build stage that compiles a
// static binary, a final stage that runs it as a non-root user with the
// data folder as a volume, every default listener's port exposed, and the
// files it copies from the repository present.
func TestDockerfile(t *testing.T) {
	src, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	// Instructions, with continuation lines joined and comments dropped.
	var instrs [][2]string
	var cur string
	for _, line := range strings.Split(string(src), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur == "") {
			continue
		}
		cur += " " + trimmed
		if strings.HasSuffix(trimmed, "\\") {
			cur = strings.TrimSuffix(cur, "\\")
			continue
		}
		op, args, _ := strings.Cut(strings.TrimSpace(cur), " ")
		instrs = append(instrs, [2]string{strings.ToUpper(op), strings.TrimSpace(args)})
		cur = ""
	}
	known := []string{"FROM", "WORKDIR", "COPY", "RUN", "ARG", "ENV", "USER", "VOLUME", "EXPOSE", "HEALTHCHECK", "ENTRYPOINT", "CMD"}
	var stages []string
	byOp := map[string][]string{} // the final stage's arguments, by instruction
	for _, in := range instrs {
		if !slices.Contains(known, in[0]) {
			t.Errorf("unknown instruction %s %s", in[0], in[1])
		}
		if in[0] == "FROM" {
			stages = append(stages, in[1])
			byOp = map[string][]string{}
		}
		byOp[in[0]] = append(byOp[in[0]], in[1])
		if in[0] == "RUN" && strings.Contains(in[1], "go build") && !strings.Contains(in[1], "CGO_ENABLED=0") {
			t.Errorf("go build without CGO_ENABLED=0: %s", in[1])
		}
		if in[0] == "COPY" && !strings.HasPrefix(in[1], "--from=") {
			for _, f := range strings.Fields(in[1])[:len(strings.Fields(in[1]))-1] {
				if _, err := os.Stat(filepath.Join("..", f)); err != nil {
					t.Errorf("COPY %s: %v", f, err)
				}
			}
		}
	}
	if len(stages) < 2 || !strings.HasSuffix(stages[0], " AS build") {
		t.Fatalf("stages %q: want a build stage and a final one", stages)
	}
	if !strings.Contains(string(src), "packaging/parley.yaml") {
		t.Error("the image lacks the default configuration")
	}
	if u := byOp["USER"]; len(u) != 1 || strings.HasPrefix(u[0], "root") || strings.HasPrefix(u[0], "0") {
		t.Errorf("final stage USER %q: want a non-root user", u)
	}
	if v := byOp["VOLUME"]; len(v) != 1 || !strings.Contains(v[0], `"/var/lib/parley"`) {
		t.Errorf("VOLUME %q", v)
	}
	if !slices.ContainsFunc(byOp["COPY"], func(s string) bool { return strings.HasPrefix(s, "--from=build ") }) {
		t.Errorf("final stage copies nothing from the build stage: %q", byOp["COPY"])
	}
	exposed := strings.Fields(strings.Join(byOp["EXPOSE"], " "))
	for _, l := range config.Default().Listeners {
		host, port, err := net.SplitHostPort(l.Address)
		if err != nil {
			t.Fatal(err)
		}
		if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
			// Loopback only (the admin listener): nothing outside the
			// container reaches it, so exposing its port would mislead.
			if slices.Contains(exposed, port) {
				t.Errorf("default %s listener listens on loopback only, but its port %s is exposed", l.Type, port)
			}
			continue
		}
		if !slices.Contains(exposed, port) {
			t.Errorf("default %s listener's port %s not exposed (EXPOSE %v)", l.Type, port, exposed)
		}
		if l.Datagram() && !slices.Contains(exposed, port+"/udp") {
			t.Errorf("default %s listener's UDP port %s not exposed", l.Type, port)
		}
	}
	if e := byOp["ENTRYPOINT"]; len(e) != 1 || e[0] != `["/usr/bin/parley"]` {
		t.Errorf("ENTRYPOINT %q", e)
	}
	if c := byOp["CMD"]; len(c) != 1 || !strings.Contains(c[0], `"serve"`) {
		t.Errorf("CMD %q", c)
	}
}
