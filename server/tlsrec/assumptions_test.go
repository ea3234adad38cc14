package tlsrec

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// recordingConn keeps a copy of every byte read and written.
type recordingConn struct {
	net.Conn
	mu            sync.Mutex
	read, written bytes.Buffer
}

func (r *recordingConn) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	r.mu.Lock()
	r.read.Write(p[:n])
	r.mu.Unlock()
	return n, err
}

func (r *recordingConn) Write(p []byte) (int, error) {
	r.mu.Lock()
	r.written.Write(p)
	r.mu.Unlock()
	return r.Conn.Write(p)
}

func (r *recordingConn) snapshot() (read, written []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.read.Bytes()), bytes.Clone(r.written.Bytes())
}

// splitRecords cuts a byte stream into TLS records (header included); a
// trailing partial record is returned as rest.
func splitRecords(b []byte) (records [][]byte, rest []byte) {
	for len(b) >= headerLen {
		n := headerLen + (int(b[3])<<8 | int(b[4]))
		if len(b) < n {
			break
		}
		records = append(records, b[:n:n])
		b = b[n:]
	}
	return records, b
}

// keyLogLines parses NSS key log lines: label -> secret.
func keyLogLines(t *testing.T, log string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, line := range strings.Split(strings.TrimSpace(log), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		b, err := hex.DecodeString(f[2])
		if err != nil {
			t.Fatalf("key log line %q: %v", line, err)
		}
		out[f[0]] = b
	}
	return out
}

// syncWriter is a bytes.Buffer for a KeyLogWriter.
type syncWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b.Reset()
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// assumptionBroken fails the test with the explanation a Go upgrade needs.
func assumptionBroken(t *testing.T, format string, args ...any) {
	t.Helper()
	t.Fatalf("crypto/tls (%s) no longer behaves as server/tlsrec assumes: %s.\n"+
		"tlsrec's record layer would fail or silently fall back to crypto/tls. Until tlsrec is fixed, "+
		"release with tls.record_layer: go (see docs/release.md).", runtime.Version(), fmt.Sprintf(format, args...))
}

// TestCryptoTLSAssumptions checks, with crypto/tls alone, the two things
// tlsrec's record layer takes from crypto/tls that are not its API:
//
//  1. the key log (tls.Config.KeyLogWriter) of a server handshake holds
//     CLIENT_TRAFFIC_SECRET_0 and SERVER_TRAFFIC_SECRET_0 once
//     HandshakeContext returns, and they are the application traffic
//     secrets (a client record opens with the one, the server's ticket
//     with the other);
//  2. after its Finished, the server writes at most one record under the
//     application key during the handshake — one NewSessionTicket, as the
//     last record — and none when tickets are disabled.
//
// If a Go release changes either, this test fails and says what to do;
// the end-to-end tests would only show broken or silently heavier
// connections.
func TestCryptoTLSAssumptions(t *testing.T) {
	for _, tickets := range []bool{true, false} {
		for _, cache := range []bool{true, false} {
			for _, clientCert := range []bool{false, true} {
				t.Run(fmt.Sprintf("server_tickets=%v,client_cache=%v,client_cert=%v", tickets, cache, clientCert), func(t *testing.T) {
					checkAssumptions(t, tickets, cache, clientCert)
				})
			}
		}
	}
}

// checkAssumptions runs one handshake: tickets enables session tickets on
// the server, cache gives the client a session cache (without one Go's
// client does not ask for tickets), clientCert has the server request a
// client certificate and the client send one.
func checkAssumptions(t *testing.T, tickets, cache, clientCert bool) {
	cert := testCert(t)
	var keyLog syncWriter
	scfg := &tls.Config{
		Certificates:           []tls.Certificate{cert},
		MinVersion:             tls.VersionTLS13,
		SessionTicketsDisabled: !tickets,
		KeyLogWriter:           &keyLog,
	}
	ccfg := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13, ServerName: "localhost"}
	if cache {
		ccfg.ClientSessionCache = tls.NewLRUClientSessionCache(1)
	}
	if clientCert {
		scfg.ClientAuth = tls.RequestClientCert
		ccfg.Certificates = []tls.Certificate{testCert(t)}
	}
	checkHandshake(t, scfg, ccfg, &keyLog, tickets, cache, false)
	if tickets && cache {
		// The ticket resumes a second handshake (PSK), which sends a new
		// ticket the same way.
		keyLog.reset()
		checkHandshake(t, scfg, ccfg, &keyLog, tickets, cache, true)
	}
}

// checkHandshake runs one handshake between scfg and ccfg and checks the
// two assumptions on it; resumed says whether it must resume a session.
func checkHandshake(t *testing.T, scfg, ccfg *tls.Config, keyLog *syncWriter, tickets, cache, resumed bool) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type result struct {
		rc      *recordingConn
		st      tls.ConnectionState
		written []byte // what the server wrote by the time the handshake returned
		log     string // the key log at that time
		data    []byte
		err     error
	}
	done := make(chan result, 1)
	go func() {
		raw, err := ln.Accept()
		if err != nil {
			done <- result{err: err}
			return
		}
		defer raw.Close()
		rc := &recordingConn{Conn: raw}
		tc := tls.Server(rc, scfg)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := tc.HandshakeContext(ctx); err != nil {
			done <- result{err: err}
			return
		}
		_, written := rc.snapshot()
		r := result{rc: rc, st: tc.ConnectionState(), written: written, log: keyLog.String()}
		buf := make([]byte, 64)
		_ = raw.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := tc.Read(buf)
		r.data, r.err = buf[:n], err
		if err == nil {
			_, r.err = tc.Write([]byte("ok"))
		}
		done <- r
	}()
	cc, err := tls.Dial("tcp", ln.Addr().String(), ccfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	if _, err := cc.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	// Reading the answer makes the client take the session ticket that
	// came before it.
	answer := make([]byte, 2)
	_ = cc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(cc, answer); err != nil || string(answer) != "ok" {
		t.Fatalf("client read %q, %v", answer, err)
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if string(r.data) != "hello" {
		t.Fatalf("server read %q", r.data)
	}
	if r.st.Version != tls.VersionTLS13 {
		t.Fatalf("negotiated %x, not TLS 1.3", r.st.Version)
	}
	if r.st.DidResume != resumed {
		t.Fatalf("resumed %v, want %v", r.st.DidResume, resumed)
	}
	su, ok := suiteByID(r.st.CipherSuite)
	if !ok {
		assumptionBroken(t, "negotiated cipher suite %s, which tlsrec does not implement", tls.CipherSuiteName(r.st.CipherSuite))
	}

	// 1. The key log holds both application traffic secrets by the end of
	// the handshake.
	secrets := keyLogLines(t, r.log)
	client, server := secrets["CLIENT_TRAFFIC_SECRET_0"], secrets["SERVER_TRAFFIC_SECRET_0"]
	if len(client) != su.hashLen || len(server) != su.hashLen {
		assumptionBroken(t, "the key log at the end of the handshake lacks the application traffic secrets "+
			"(CLIENT_TRAFFIC_SECRET_0: %d bytes, SERVER_TRAFFIC_SECRET_0: %d bytes, want %d; log:\n%s)",
			len(client), len(server), su.hashLen, r.log)
	}
	// The client's first application record opens with the logged secret.
	read, _ := r.rc.snapshot()
	in, _ := splitRecords(read)
	var cdir direction
	cdir.setSecret(client)
	opened := 0
	for _, rec := range in {
		if rec[0] != typeApplicationData {
			continue
		}
		if pt, err := cdir.open(su, bytes.Clone(rec)); err == nil {
			if opened == 0 && string(bytes.TrimRight(pt, "\x00")) != "hello\x17" {
				assumptionBroken(t, "the client's first application record under CLIENT_TRAFFIC_SECRET_0 holds %q", pt)
			}
			opened++
		}
	}
	if opened == 0 {
		assumptionBroken(t, "no record from the client opens with the logged CLIENT_TRAFFIC_SECRET_0")
	}

	// 2. What the server wrote under its application key during the
	// handshake: one NewSessionTicket as the last record, or nothing
	// without tickets.
	out, rest := splitRecords(r.written)
	if len(rest) != 0 {
		assumptionBroken(t, "the handshake returned with a partial record written (%d bytes)", len(rest))
	}
	var sdir direction
	sdir.setSecret(server)
	var appRecords []int // indexes in out
	for i, rec := range out {
		if rec[0] != typeApplicationData {
			continue
		}
		pt, err := sdir.open(su, bytes.Clone(rec))
		if err != nil {
			if len(appRecords) > 0 {
				assumptionBroken(t, "record %d, written after one under the application key, opens with neither key", i)
			}
			continue // a handshake-key record (EncryptedExtensions … Finished)
		}
		appRecords = append(appRecords, i)
		pt = bytes.TrimRight(pt, "\x00")
		if len(pt) < 2 || pt[len(pt)-1] != typeHandshake || pt[0] != 4 {
			assumptionBroken(t, "record %d under the application key is not a NewSessionTicket (inner type %d, message type %d)",
				i, pt[len(pt)-1], pt[0])
		}
	}
	want := 0
	if tickets && cache {
		want = 1
	}
	if len(appRecords) != want {
		assumptionBroken(t, "the server wrote %d records under the application key during the handshake (server tickets %v, client cache %v, resumed %v), want %d",
			len(appRecords), tickets, cache, resumed, want)
	}
	if want == 1 && appRecords[0] != len(out)-1 {
		assumptionBroken(t, "the session ticket is record %d of %d, not the last", appRecords[0], len(out))
	}
}

// TestLeanWithGoClients checks that with the default record layer a TLS
// 1.3 handshake with Go's client ends on tlsrec's record layer (a silent
// fallback to crypto/tls would lose the memory savings unnoticed), and
// that RecordLayerGo keeps crypto/tls.
func TestLeanWithGoClients(t *testing.T) {
	for _, layer := range []RecordLayer{RecordLayerParley, RecordLayerGo} {
		for _, tickets := range []bool{true, false} {
			cfg := &tls.Config{Certificates: []tls.Certificate{testCert(t)}, SessionTicketsDisabled: !tickets}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			srv := NewServer(cfg, layer)
			type res struct {
				lean bool
				echo string
				err  error
			}
			done := make(chan res, 1)
			go func() {
				raw, err := ln.Accept()
				if err != nil {
					done <- res{err: err}
					return
				}
				c, _, err := srv.Handshake(context.Background(), raw)
				if err != nil {
					raw.Close()
					done <- res{err: err}
					return
				}
				defer c.Close()
				buf := make([]byte, 16)
				n, err := c.Read(buf)
				if err == nil {
					_, err = c.Write(buf[:n])
				}
				done <- res{lean: c.Lean(), echo: string(buf[:n]), err: err}
			}()
			cc, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13, ClientSessionCache: tls.NewLRUClientSessionCache(1)})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := cc.Write([]byte("ping")); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 4)
			_ = cc.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := cc.Read(buf); err != nil || string(buf) != "ping" {
				t.Fatalf("layer %d: echo %q, %v", layer, buf, err)
			}
			r := <-done
			cc.Close()
			ln.Close()
			if r.err != nil {
				t.Fatal(r.err)
			}
			if wantLean := layer == RecordLayerParley; r.lean != wantLean {
				if wantLean {
					assumptionBroken(t, "a TLS 1.3 handshake with Go's client (tickets %v) fell back to crypto/tls's record layer", tickets)
				}
				t.Errorf("RecordLayerGo: the connection uses tlsrec's record layer")
			}
		}
	}
}
