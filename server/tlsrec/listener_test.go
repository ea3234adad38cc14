package tlsrec

import (
	"bytes"
	"crypto/tls"
	"net"
	"testing"
	"time"
)

// A Listener's connections handshake on first use, carry data with this
// package's record layer, park, and keep the tls-exporter binding.
func TestListener(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := NewServer(&tls.Config{Certificates: []tls.Certificate{testCert(t)}}, RecordLayerParley).NewListener(inner, 5*time.Second)
	t.Cleanup(func() { ln.Close() })
	type result struct {
		version  uint16
		exporter []byte
		lean     bool
	}
	got := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		sc := c.(*ServerConn)
		defer sc.Close()
		buf := make([]byte, 100)
		n, err := sc.Read(buf) // runs the handshake
		if err != nil {
			got <- result{}
			return
		}
		got <- result{version: sc.Version(), exporter: sc.Exporter(), lean: sc.Idle()}
		sc.Park()
		_, _ = sc.Write(buf[:n])
	}()
	tc, err := tls.Dial("tcp", ln.Addr().String(), clientConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	if _, err := tc.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	r := <-got
	cst := tc.ConnectionState()
	want, _ := cst.ExportKeyingMaterial(ExporterLabel, []byte{}, 32)
	if r.version != tls.VersionTLS13 || !bytes.Equal(r.exporter, want) || !r.lean {
		t.Fatalf("version %#x, exporter %x (client %x), idle after a read %v", r.version, r.exporter, want, r.lean)
	}
	_ = tc.SetReadDeadline(time.Now().Add(5 * time.Second))
	echo := make([]byte, 5)
	if _, err := tc.Read(echo); err != nil || string(echo) != "hello" {
		t.Fatalf("echo after parking: %q, %v", echo, err)
	}
}

// A connection closed before its handshake reports an error, not a hang.
func TestListenerCloseBeforeHandshake(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := NewServer(&tls.Config{Certificates: []tls.Certificate{testCert(t)}}, RecordLayerParley).NewListener(inner, 5*time.Second)
	t.Cleanup(func() { ln.Close() })
	client, err := net.Dial("tcp", ln.Addr().String()) // accepted by the kernel's backlog
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("read after close succeeded")
	}
	if c.(*ServerConn).Idle() {
		t.Fatal("a connection without a handshake is idle")
	}
}

// Close breaks a handshake in progress: a client that sends nothing does
// not hold the connection until the handshake's time limit.
func TestListenerCloseDuringHandshake(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := NewServer(&tls.Config{Certificates: []tls.Certificate{testCert(t)}}, RecordLayerParley).NewListener(inner, time.Minute)
	t.Cleanup(func() { ln.Close() })
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 1)) // waits for a ClientHello
		done <- err
	}()
	// Close while the handshake waits, or before it starts: either way
	// the read fails well within the handshake's minute.
	closed := make(chan error, 1)
	go func() { closed <- c.Close() }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("read succeeded on a closed connection")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not break the handshake")
	}
	<-closed
}
