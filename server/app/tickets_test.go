package app_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/app"
	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/modules"
	"github.com/parley-xmpp/parley/xmpptest"
)

// startIn starts a server on dir, the data folder, with every kind of
// TLS listener, and returns it with a function stopping it.
func startIn(t *testing.T, dir string, layer config.RecordLayer) (*app.App, func()) {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.TLS.RecordLayer = layer
	cfg.S2S.Enabled = true
	cfg.Listeners = []config.Listener{
		{Type: config.ListenerC2S, Address: "127.0.0.1:0"},
		{Type: config.ListenerC2STLS, Address: "127.0.0.1:0"},
		{Type: config.ListenerS2STLS, Address: "127.0.0.1:0"},
		{Type: config.ListenerHTTPS, Address: "127.0.0.1:0"},
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.Open(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if err := a.Start(ctx, modules.Default(cfg)); err != nil {
		cancel()
		a.Close()
		t.Fatal(err)
	}
	return a, func() {
		a.Stop(xmpptest.Context(t, 10*time.Second))
		cancel()
		a.Close()
	}
}

// tlsProbe connects to one listener, negotiates TLS (STARTTLS on a c2s
// listener) with the client's session cache, reads the first bytes the
// server sends after the handshake (so that the client takes the
// session ticket), and reports whether the session was resumed.
func tlsProbe(t *testing.T, typ config.ListenerType, addr string, cache tls.ClientSessionCache) bool {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	header := func(ns string) string {
		return fmt.Sprintf("<?xml version='1.0'?><stream:stream xmlns='%s' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>", ns)
	}
	var raw net.Conn = conn
	if typ == config.ListenerC2S {
		fmt.Fprint(conn, header("jabber:client"))
		r := bufio.NewReader(conn)
		var seen strings.Builder
		for !strings.Contains(seen.String(), "</stream:features>") {
			b, err := r.ReadByte()
			if err != nil {
				t.Fatalf("reading the features: %v (so far %q)", err, seen.String())
			}
			seen.WriteByte(b)
		}
		fmt.Fprint(conn, "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
		seen.Reset()
		for !strings.Contains(seen.String(), "<proceed") || !strings.HasSuffix(seen.String(), ">") {
			b, err := r.ReadByte()
			if err != nil {
				t.Fatalf("reading the STARTTLS answer: %v", err)
			}
			seen.WriteByte(b)
		}
	}
	tc := tls.Client(raw, &tls.Config{ServerName: "localhost", InsecureSkipVerify: true, ClientSessionCache: cache})
	if err := tc.Handshake(); err != nil {
		t.Fatalf("%s: handshake: %v", typ, err)
	}
	switch typ {
	case config.ListenerHTTPS:
		fmt.Fprint(tc, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
	case config.ListenerS2STLS:
		fmt.Fprint(tc, header("jabber:server"))
	default:
		fmt.Fprint(tc, header("jabber:client"))
	}
	if _, err := tc.Read(make([]byte, 1)); err != nil {
		t.Fatalf("%s: reading after the handshake: %v", typ, err)
	}
	return tc.ConnectionState().DidResume
}

// TestTLSResumptionAcrossRestart: a client that connected once resumes
// its TLS session on every kind of TLS listener after the server
// restarted on the same data folder.
func TestTLSResumptionAcrossRestart(t *testing.T) {
	types := []config.ListenerType{config.ListenerC2S, config.ListenerC2STLS, config.ListenerS2STLS, config.ListenerHTTPS}
	for _, layer := range []config.RecordLayer{config.RecordLayerParley, config.RecordLayerGo} {
		t.Run(string(layer), func(t *testing.T) {
			dir := t.TempDir()
			caches := map[config.ListenerType]tls.ClientSessionCache{}
			a, stop := startIn(t, dir, layer)
			for _, typ := range types {
				caches[typ] = tls.NewLRUClientSessionCache(4)
				if tlsProbe(t, typ, a.Addrs(typ)[0].String(), caches[typ]) {
					t.Fatalf("%s: the first connection resumed a session", typ)
				}
			}
			stop()
			a, stop = startIn(t, dir, layer)
			defer stop()
			for _, typ := range types {
				if !tlsProbe(t, typ, a.Addrs(typ)[0].String(), caches[typ]) {
					t.Errorf("%s: a returning client got a full handshake after the restart", typ)
				}
			}
		})
	}
}
