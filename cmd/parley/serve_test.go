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
