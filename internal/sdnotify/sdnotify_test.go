package sdnotify

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/internal/sdnotify/sdnotifytest"
)

// TestNotifySendsDatagrams: each state is one datagram on the socket, in
// the protocol's KEY=VALUE lines.
func TestNotifySendsDatagrams(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify.sock")
	sock := sdnotifytest.Listen(t, path)
	next := func() string { return sock.Next(t, 10*time.Second) }
	n := New(path)
	if !n.Enabled() {
		t.Fatal("not enabled with a socket")
	}
	if err := n.Ready("serving example.org\non 5222"); err != nil {
		t.Fatal(err)
	}
	if got, want := next(), "READY=1\nSTATUS=serving example.org on 5222\n"; got != want {
		t.Errorf("ready: %q, want %q", got, want)
	}
	if err := n.Reloading(); err != nil {
		t.Fatal(err)
	}
	got := next()
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != 2 || lines[0] != "RELOADING=1" || !strings.HasPrefix(lines[1], "MONOTONIC_USEC=") {
		t.Fatalf("reloading: %q", got)
	}
	if usec, err := strconv.ParseInt(strings.TrimPrefix(lines[1], "MONOTONIC_USEC="), 10, 64); err != nil || usec <= 0 {
		t.Errorf("reloading: MONOTONIC_USEC %q", lines[1])
	}
	if err := n.Stopping(""); err != nil {
		t.Fatal(err)
	}
	if got := next(); got != "STOPPING=1\n" {
		t.Errorf("stopping: %q", got)
	}
}

// TestNotifyAbstractSocket: a name starting with @ is a socket in the
// abstract namespace, as systemd may hand out.
func TestNotifyAbstractSocket(t *testing.T) {
	name := "@parley-sdnotify-test-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	sock := sdnotifytest.Listen(t, "\x00"+name[1:])
	next := func() string { return sock.Next(t, 10*time.Second) }
	if err := New(name).Ready(""); err != nil {
		t.Fatal(err)
	}
	if got := next(); got != "READY=1\n" {
		t.Errorf("%q", got)
	}
}

// TestNotifyWithoutSocket: outside systemd nothing is sent and nothing
// fails; a socket that is gone is an error naming the state.
func TestNotifyWithoutSocket(t *testing.T) {
	for _, n := range []*Notifier{nil, New("")} {
		if n.Enabled() || n.Ready("x") != nil || n.Reloading() != nil || n.Stopping("") != nil {
			t.Errorf("%v: a notifier without socket sends or fails", n)
		}
	}
	err := New(filepath.Join(t.TempDir(), "gone.sock")).Ready("")
	if err == nil || !strings.Contains(err.Error(), "sd_notify READY=1") {
		t.Errorf("missing socket: %v", err)
	}
}
