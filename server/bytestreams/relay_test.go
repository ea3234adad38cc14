package bytestreams_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/bytestreams"
	"github.com/parley-xmpp/parley/server/bytestreams/bytestreamstest"
)

// start runs a relay with o on a loopback listener; it returns the relay
// and its address, and stops it when the test ends.
func start(t *testing.T, o bytestreams.Options) (*bytestreams.Relay, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := bytestreams.New(o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return r, ln.Addr().String()
}

// connect is bytestreamstest.Connect.
var connect = bytestreamstest.Connect

// hashOf is a hash-like destination; the relay does not compute hashes.
const hashOf = "4d7d1e7bf2cf7d4c1a0ea9fb7c8f1e4f1bb9e2a1"

// Two parties connect with the same hash, are activated, and a file goes
// through byte for byte, and an answer comes back.
func TestRelayMovesBytesAfterActivation(t *testing.T) {
	r, addr := start(t, bytestreams.Options{})
	target, rep := connect(t, addr, hashOf)
	if rep != 0 {
		t.Fatalf("target refused: %d", rep)
	}
	if err := r.Activate(hashOf, "alice@example.com"); !errors.Is(err, bytestreams.ErrOneParty) {
		t.Fatalf("activation with one party: %v", err)
	}
	requester, rep := connect(t, addr, hashOf)
	if rep != 0 {
		t.Fatalf("requester refused: %d", rep)
	}
	if _, rep := connect(t, addr, hashOf); rep != 2 {
		t.Fatalf("a third connection got reply %d, want 2 (not allowed)", rep)
	}
	if err := r.Activate("0000", "alice@example.com"); !errors.Is(err, bytestreams.ErrNoStream) {
		t.Fatalf("activation of an unknown hash: %v", err)
	}
	if err := r.Activate(hashOf, "alice@example.com"); err != nil {
		t.Fatal(err)
	}
	if err := r.Activate(hashOf, "alice@example.com"); !errors.Is(err, bytestreams.ErrActive) {
		t.Fatalf("second activation: %v", err)
	}
	file := make([]byte, 1<<20)
	rand.Read(file)
	go func() {
		requester.Write(file)
	}()
	got := make([]byte, len(file))
	target.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.ReadFull(target, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, file) {
		t.Fatal("the target received other bytes")
	}
	target.Write([]byte("thanks"))
	ans := make([]byte, 6)
	requester.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(requester, ans); err != nil || string(ans) != "thanks" {
		t.Fatalf("answer %q, %v", ans, err)
	}
	requester.Close()
	if _, err := target.Read(ans); err == nil {
		t.Fatal("the target's side stayed open after the requester closed")
	}
	waitFor(t, "the stream is forgotten", func() bool { return r.Active() == 0 })
}

// waitFor polls cond until it holds or ten seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A stream nobody activates is closed after PendingTimeout; an activated
// one where nothing moves is closed after IdleTimeout.
func TestRelayTimeouts(t *testing.T) {
	r, addr := start(t, bytestreams.Options{PendingTimeout: 100 * time.Millisecond, IdleTimeout: 500 * time.Millisecond})
	lone, _ := connect(t, addr, "pending")
	lone.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := lone.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("an unactivated connection: %v, want EOF", err)
	}
	if err := r.Activate("pending", "alice@example.com"); !errors.Is(err, bytestreams.ErrNoStream) {
		t.Fatalf("activation after expiry: %v", err)
	}

	a, _ := connect(t, addr, "idle")
	b, _ := connect(t, addr, "idle")
	if err := r.Activate("idle", "alice@example.com"); err != nil {
		t.Fatal(err)
	}
	// Bytes one way keep both ways open past the idle timeout.
	var last time.Time // the last byte sent
	for range 5 {
		last = time.Now()
		a.Write([]byte("x"))
		b.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadFull(b, make([]byte, 1)); err != nil {
			t.Fatalf("an active stream closed: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := b.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("an idle stream: %v, want EOF", err)
	}
	// The relay saw the last byte after it was sent: it cannot have
	// closed the stream sooner than the idle timeout after the sending.
	if d := time.Since(last); d < 500*time.Millisecond {
		t.Fatalf("an idle stream closed %v after its last byte, before its idle timeout", d)
	}
	waitFor(t, "the idle stream is forgotten", func() bool { return r.Active() == 0 })
}

// Limits: pending connections beyond MaxPending are closed at once, and a
// user's activations beyond MaxTransfersPerUser are refused.
func TestRelayLimits(t *testing.T) {
	r, addr := start(t, bytestreams.Options{MaxPending: 4, MaxTransfersPerUser: 1})
	for _, h := range []string{"one", "one", "two", "two"} {
		if _, rep := connect(t, addr, h); rep != 0 {
			t.Fatalf("connection for %s refused", h)
		}
	}
	extra, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	extra.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := extra.Read(make([]byte, 1)); err == nil {
		t.Fatal("a connection beyond max_pending was served")
	}
	if err := r.Activate("one", "alice@example.com"); err != nil {
		t.Fatal(err)
	}
	if err := r.Activate("two", "alice@example.com"); !errors.Is(err, bytestreams.ErrBusy) {
		t.Fatalf("a second transfer of one user: %v", err)
	}
	if err := r.Activate("two", "bob@example.com"); err != nil {
		t.Fatalf("another user's transfer: %v", err)
	}
}

// The per-transfer rate bounds the throughput.
func TestRelayRateLimit(t *testing.T) {
	r, addr := start(t, bytestreams.Options{TransferRate: 64 << 10})
	a, _ := connect(t, addr, hashOf)
	b, _ := connect(t, addr, hashOf)
	if err := r.Activate(hashOf, "alice@example.com"); err != nil {
		t.Fatal(err)
	}
	// The burst is the 32 KiB copy buffer: 192 KiB take at least 2.5 s
	// at 64 KiB/s.
	go a.Write(make([]byte, 192<<10))
	start := time.Now()
	b.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.ReadFull(b, make([]byte, 192<<10)); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 1500*time.Millisecond {
		t.Fatalf("192 KiB moved in %v at a 64 KiB/s limit", d)
	}
}

// One address cannot take every pending place: past
// MaxPendingPerAddress its connections are closed at once, while
// another address is still served.
func TestRelayPendingPerAddress(t *testing.T) {
	_, addr := start(t, bytestreams.Options{MaxPendingPerAddress: 2})
	connect(t, addr, "a")
	connect(t, addr, "b")
	greet := func(from string) error {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		c.Write([]byte{5, 1, 0})
		_, err = io.ReadFull(c, make([]byte, 2))
		return err
	}
	if err := greet("127.0.0.1"); err == nil {
		t.Fatal("a third pending connection from 127.0.0.1 was served")
	}
	if err := greet("127.0.0.2"); err != nil {
		t.Fatalf("a connection from another address: %v", err)
	}
}
