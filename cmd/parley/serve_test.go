package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/internal/sdnotify/sdnotifytest"
)

// TestMain lets a test run this test binary as the parley command: with
// PARLEY_TEST_RUN_MAIN=1 it runs main with the arguments after "--".
func TestMain(m *testing.M) {
	if os.Getenv("PARLEY_TEST_RUN_MAIN") == "1" {
		for i, a := range os.Args {
			if a == "--" {
				os.Args = append([]string{"parley"}, os.Args[i+1:]...)
				break
			}
		}
		main()
		return
	}
	os.Exit(m.Run())
}

// TestServeLogsWhyItStops runs "parley serve" as a process, sends it
// SIGTERM and checks that it logs that it stops, why and after how long,
// and exits 0.
func TestServeLogsWhyItStops(t *testing.T) {
	data := t.TempDir()
	cfg := filepath.Join(data, "parley.yaml")
	if err := os.WriteFile(cfg, []byte("listeners:\n  - {type: c2s, address: \"127.0.0.1:0\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$", "--", "serve", "--config", cfg, "--data", data)
	cmd.Env = append(os.Environ(), "PARLEY_TEST_RUN_MAIN=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		if !strings.Contains(line, "serving localhost") {
			t.Errorf("summary line %q", line)
		}
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Error(err)
		}
		exited <- cmd.Wait()
	}()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("serve exited with %v; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("serve did not stop on SIGTERM; stderr:\n%s", stderr.String())
	}
	log := stderr.String()
	for _, re := range []string{
		`level=INFO msg="server stopping" reason="terminated signal received" uptime=\d`,
		`level=INFO msg="server stopped" reason="terminated signal received" uptime=\d[^ ]*s clean=true`,
	} {
		if !regexp.MustCompile(re).MatchString(log) {
			t.Errorf("log lacks %s:\n%s", re, log)
		}
	}
}

// TestServeNotifiesSystemd runs "parley serve" as systemd runs a
// Type=notify service: with NOTIFY_SOCKET naming a datagram socket the
// test holds, the server sends READY=1 (with its summary as STATUS) once
// it serves, RELOADING=1 then READY=1 around a reload on SIGHUP, and
// STOPPING=1 when SIGTERM arrives.
func TestServeNotifiesSystemd(t *testing.T) {
	data := t.TempDir()
	cfg := filepath.Join(data, "parley.yaml")
	if err := os.WriteFile(cfg, []byte("listeners:\n  - {type: c2s, address: \"127.0.0.1:0\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "notify.sock")
	socket := sdnotifytest.Listen(t, sock)
	next := func() string { return socket.Next(t, 30*time.Second) }
	cmd := exec.Command(os.Args[0], "-test.run=^$", "--", "serve", "--config", cfg, "--data", data)
	cmd.Env = append(os.Environ(), "PARLEY_TEST_RUN_MAIN=1", "NOTIFY_SOCKET="+sock)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	ready := next()
	if !regexp.MustCompile(`^READY=1\nSTATUS=serving localhost on 127\.0\.0\.1:\d+ \(STARTTLS\) with`).MatchString(ready) {
		t.Fatalf("first datagram %q; stderr:\n%s", ready, stderr.String())
	}
	// systemctl reload: SIGHUP, answered with RELOADING=1 (with the
	// monotonic clock's time) and READY=1 once reloaded.
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if got := next(); !regexp.MustCompile(`^RELOADING=1\nMONOTONIC_USEC=[1-9]\d*\n$`).MatchString(got) {
		t.Fatalf("after SIGHUP %q; stderr:\n%s", got, stderr.String())
	}
	if got := next(); !regexp.MustCompile(`^READY=1\nSTATUS=reloaded: serving localhost on 127\.0\.0\.1:\d+ \(STARTTLS\) with`).MatchString(got) {
		t.Fatalf("after the reload %q; stderr:\n%s", got, stderr.String())
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if got, want := next(), "STOPPING=1\nSTATUS=stopping: terminated signal received\n"; got != want {
		t.Errorf("after SIGTERM %q, want %q", got, want)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("serve exited with %v; stderr:\n%s", err, stderr.String())
	}
}
