package socket_test

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/admin"
	"github.com/parley-xmpp/parley/server/admin/socket"
	"github.com/parley-xmpp/parley/server/session"
)

// TestListenRefusesAnUnsafeFolder: a data folder its group or others may
// write gets no socket, and the error says why and what to do.
func TestListenRefusesAnUnsafeFolder(t *testing.T) {
	for _, mode := range []fs.FileMode{0o770, 0o707, 0o777} {
		dir := t.TempDir()
		if err := os.Chmod(dir, mode); err != nil {
			t.Fatal(err)
		}
		_, err := socket.Listen(dir)
		if err == nil || !strings.Contains(err.Error(), "writable by its group or others") || !strings.Contains(err.Error(), "chmod go-w") {
			t.Errorf("mode %o: %v", mode, err)
		}
		if _, err := os.Lstat(socket.Path(dir)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("mode %o: the socket exists (%v)", mode, err)
		}
	}
}

// TestListenOwnerOnly: the socket is mode 0600; a second server on the
// same folder is refused while the first answers; a stale socket left by
// a server that is gone is replaced.
func TestListenOwnerOnly(t *testing.T) {
	dir := t.TempDir()
	ln, err := socket.Listen(dir)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(socket.Path(dir))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v", fi.Mode())
	}
	if _, err := socket.Listen(dir); err == nil || !strings.Contains(err.Error(), "another server is running") {
		t.Errorf("second Listen: %v", err)
	}
	// A stale socket: the file stays, nobody listens.
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	if _, err := socket.Dial(context.Background(), dir); !errors.Is(err, socket.ErrNoServer) {
		t.Errorf("Dial on a stale socket: %v", err)
	}
	ln, err = socket.Listen(dir)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	ln.Close()
	if err := os.WriteFile(socket.Path(dir), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := socket.Listen(dir); err == nil || !strings.Contains(err.Error(), "is not a socket") {
		t.Errorf("Listen over a file: %v", err)
	}
}

// TestProtocol: requests and answers on the wire, errors classified.
func TestProtocol(t *testing.T) {
	dir := t.TempDir()
	ln, err := socket.Listen(dir)
	if err != nil {
		t.Fatal(err)
	}
	ops := admin.New(admin.Options{Domains: []string{"example.org"}, Sessions: session.NewTable(0), Started: time.Now()})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- socket.NewServer(ops, nil).Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()

	c, err := net.Dial("unix", socket.Path(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("not json\n{\"op\":\"frobnicate\"}\n{\"op\":\"kick\",\"args\":{\"jid\":\"a@elsewhere\"}}\n{\"op\":\"rooms\"}\n{\"op\":\"kick\",\"args\":{\"jid\":\"a@example.org\"}}\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	var got strings.Builder
	for strings.Count(got.String(), "\n") < 5 {
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("read: %v (so far %q)", err, got.String())
		}
		got.Write(buf[:n])
	}
	lines := strings.Split(strings.TrimSpace(got.String()), "\n")
	for i, want := range []string{`"code":"invalid"`, `"code":"unknown_op"`, `"code":"invalid"`, `"code":"unavailable"`, `{"ok":true,"result":[]}`} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("answer %d %s lacks %s", i, lines[i], want)
		}
	}
}

// TestMaxConns: past MaxConns open connections, one more is answered with
// an error and closed; the first ones are still served.
func TestMaxConns(t *testing.T) {
	dir := t.TempDir()
	ln, err := socket.Listen(dir)
	if err != nil {
		t.Fatal(err)
	}
	ops := admin.New(admin.Options{Domains: []string{"example.org"}, Sessions: session.NewTable(0), Started: time.Now()})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- socket.NewServer(ops, nil).Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()
	var clients []*socket.Client
	for range socket.MaxConns {
		c, err := socket.Dial(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// A call makes sure the server took the connection.
		if err := c.Call(ctx, "sessions", socket.Args{}, nil); err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	extra, err := socket.Dial(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	var se *socket.Error
	if err := extra.Call(ctx, "sessions", socket.Args{}, nil); !errors.As(err, &se) || se.Code != "unavailable" {
		t.Errorf("connection %d: %v", socket.MaxConns+1, err)
	}
	if err := clients[0].Call(ctx, "sessions", socket.Args{}, nil); err != nil {
		t.Errorf("the first connection: %v", err)
	}
}
