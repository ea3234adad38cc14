package main

import (
	"os"
	"strings"
	"testing"
)

// TestHelpExitsZero runs every command and subcommand with -h and --help:
// each prints its usage on stdout, exits 0 and does nothing else (the
// data folder stays empty).
func TestHelpExitsZero(t *testing.T) {
	commands := [][]string{
		{"serve"}, {"check"}, {"user"}, {"user", "add"}, {"user", "passwd"}, {"user", "del"}, {"user", "list"}, {"user", "disable"}, {"user", "enable"},
		{"send"}, {"s2s"}, {"bench"}, {"migrate"}, {"export"}, {"import"}, {"backup"}, {"invite"}, {"version"},
		{"status"}, {"sessions"}, {"kick"}, {"reload"}, {"log-level"}, {"announce"}, {"rooms"},
	}
	for _, cmd := range commands {
		for _, h := range []string{"-h", "--help"} {
			args := append(append([]string(nil), cmd...), h)
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				data := t.TempDir()
				code, stdout, stderr := runT(t, map[string]string{"PARLEY_DATA": data, "PARLEY_PASSWORD": "pw"}, "", args...)
				if code != 0 {
					t.Errorf("exit %d, stderr %q", code, stderr)
				}
				if !strings.Contains(strings.ToLower(stdout), "usage: parley "+cmd[0]) {
					t.Errorf("stdout %q has no usage", stdout)
				}
				if len(cmd) > 1 && !strings.Contains(stdout, "parley user "+cmd[1]) {
					t.Errorf("stdout %q is not the usage of %s", stdout, strings.Join(cmd, " "))
				}
				if entries, err := os.ReadDir(data); err != nil || len(entries) != 0 {
					t.Errorf("the data folder holds %v (%v): the command ran", entries, err)
				}
			})
		}
	}
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}, {"user", "help"}} {
		code, stdout, _ := runT(t, map[string]string{"PARLEY_DATA": t.TempDir()}, "", args...)
		if code != 0 || !strings.Contains(stdout, "usage: parley") {
			t.Errorf("%v: exit %d, stdout %q", args, code, stdout)
		}
	}
}

// TestUnknownCommandsExitTwo checks that unknown commands, subcommands and
// flags exit 2 with the usage on stderr, touching no data.
func TestUnknownCommandsExitTwo(t *testing.T) {
	for _, args := range [][]string{
		{"frobnicate"}, {"user", "frobnicate", "alice@localhost"}, {"user"}, {"user", "--bogus"},
		{"user", "add", "--bogus", "alice@localhost"}, {"serve", "--bogus"}, {"check", "--bogus"}, {"import", "--bogus"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			data := t.TempDir()
			code, stdout, stderr := runT(t, map[string]string{"PARLEY_DATA": data}, "", args...)
			if code != 2 || !strings.Contains(stderr, "usage: parley") {
				t.Errorf("exit %d, stderr %q; want 2 and the usage", code, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout %q", stdout)
			}
			if entries, _ := os.ReadDir(data); len(entries) != 0 {
				t.Errorf("the data folder holds %v", entries)
			}
		})
	}
}
