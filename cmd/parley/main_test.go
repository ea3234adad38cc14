package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

func runT(t *testing.T, env map[string]string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut strings.Builder
	code := run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(stdin), false, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestInvalidConfigExitsWithTwoAndNamesTheLine(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "parley.yaml")
	if err := os.WriteFile(cfg, []byte("domains: [localhost]\nlimits:\n  max_stanza_bytes: 12\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"serve", "check"} {
		code, _, stderr := runT(t, nil, "", cmd, "--config", cfg, "--data", dir)
		if code != 2 || !strings.Contains(stderr, "parley.yaml:3:") || !strings.Contains(stderr, "limits.max_stanza_bytes") {
			t.Errorf("%s: code %d stderr %q", cmd, code, stderr)
		}
	}
}

func TestUserCommands(t *testing.T) {
	data := t.TempDir()
	env := map[string]string{"PARLEY_DATA": data}
	if code, out, stderr := runT(t, env, "s3cret\n", "user", "add", "Alice@localhost"); code != 0 || !strings.Contains(out, "created alice@localhost") {
		t.Fatalf("add: %d %q %q", code, out, stderr)
	}
	if code, _, stderr := runT(t, env, "again\n", "user", "add", "alice@localhost"); code != 1 || !strings.Contains(stderr, "already exists") {
		t.Fatalf("duplicate add: %d %q", code, stderr)
	}
	if code, _, stderr := runT(t, env, "x\n", "user", "add", "bob@elsewhere.example"); code != 2 || !strings.Contains(stderr, "not a served domain") {
		t.Fatalf("foreign domain: %d %q", code, stderr)
	}
	if code, _, _ := runT(t, env, "", "user", "add", "carol@localhost"); code != 1 {
		t.Fatalf("empty password accepted: %d", code)
	}
	if code, out, _ := runT(t, env, "", "user", "list"); code != 0 || out != "alice@localhost\n" {
		t.Fatalf("list: %d %q", code, out)
	}
	if code, _, stderr := runT(t, env, "n3w\n", "user", "passwd", "alice@localhost"); code != 0 {
		t.Fatalf("passwd: %d %q", code, stderr)
	}
	// The password is stored only as SCRAM keys: it appears nowhere in the data.
	err := filepath.Walk(data, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if strings.Contains(string(b), "n3w") || strings.Contains(string(b), "s3cret") {
			t.Errorf("%s contains a plaintext password", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if code, _, _ := runT(t, env, "", "user", "del", "alice@localhost"); code != 0 {
		t.Fatal("del failed")
	}
	if code, _, stderr := runT(t, env, "", "user", "del", "alice@localhost"); code != 1 || !strings.Contains(stderr, "does not exist") {
		t.Fatalf("del again: %d %q", code, stderr)
	}
}

// TestServeAndSend starts `parley serve` with a config, adds users, and
// sends a message with `parley send` that a client receives.
func TestServeAndSend(t *testing.T) {
	data := t.TempDir()
	cfg := filepath.Join(data, "parley.yaml")
	if err := os.WriteFile(cfg, []byte("listeners:\n  - {type: c2s, address: \"127.0.0.1:0\"}\n  - {type: c2s_tls, address: \"127.0.0.1:0\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(k string) string {
		if k == "PARLEY_DATA" {
			return data
		}
		return ""
	}
	for _, u := range []string{"alice@localhost", "bob@localhost"} {
		if code := run(context.Background(), []string{"user", "add", "--config", cfg, u}, env, strings.NewReader("pw\n"), false, io.Discard, io.Discard); code != 0 {
			t.Fatalf("user add %s: %d", u, code)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--config", cfg}, env, strings.NewReader(""), false, pw, io.Discard)
		pw.Close()
	}()
	defer func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("serve exited %d", code)
			}
		case <-time.After(15 * time.Second):
			t.Error("serve did not stop")
		}
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, pr)
	m := regexp.MustCompile(`on (127\.0\.0\.1:\d+) \(STARTTLS\), (127\.0\.0\.1:\d+) \(direct TLS\)`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("summary line %q", line)
	}
	if !strings.Contains(line, "serving localhost") || !strings.Contains(line, "self-signed") {
		t.Fatalf("summary line %q", line)
	}
	// bob listens with the client library.
	bob := dialForTest(t, m[1], "bob@localhost", "pw")
	if err := bob.Send(ctx, stanza.New(stanza.NSClient, "presence")); err != nil {
		t.Fatal(err)
	}
	rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
	defer rcancel()
	if _, err := bob.Recv(rctx); err != nil { // own presence echo
		t.Fatal(err)
	}
	for i, addr := range []string{m[1], m[2]} {
		args := []string{"--jid", "alice@localhost", "--to", "bob@localhost", "--address", addr, "--insecure", "hello " + addr}
		if i == 1 {
			args = append([]string{"--direct-tls"}, args...)
		}
		var stderr strings.Builder
		code := runSend(ctx, args, func(k string) string {
			if k == "PARLEY_PASSWORD" {
				return "pw"
			}
			return ""
		}, strings.NewReader(""), false, io.Discard, &stderr)
		if code != 0 {
			t.Fatalf("send via %s: %d %s", addr, code, stderr.String())
		}
		for {
			st, err := bob.Recv(rctx)
			if err != nil {
				t.Fatalf("bob did not get the message via %s: %v", addr, err)
			}
			if st.Name.Local == "message" {
				if got := st.ChildText("", "body"); got != "hello "+addr {
					t.Fatalf("body %q", got)
				}
				break
			}
		}
	}
	// A wrong password exits 1 with the SASL condition.
	var stderr strings.Builder
	code := runSend(ctx, []string{"--jid", "alice@localhost", "--to", "bob@localhost", "--address", m[1], "--insecure", "x"},
		func(k string) string {
			if k == "PARLEY_PASSWORD" {
				return "wrong"
			}
			return ""
		}, strings.NewReader(""), false, io.Discard, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "not-authorized") {
		t.Fatalf("wrong password: %d %q", code, stderr.String())
	}
}

func dialForTest(t *testing.T, addr, user, password string) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Config{
		JID:      jid.MustParse(user),
		Password: password,
		Address:  addr,
		TLS:      &tls.Config{InsecureSkipVerify: true},
	})
	if err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
