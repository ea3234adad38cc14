package tlsrec

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"testing"
	"time"
)

func testCert(t testing.TB) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// serve accepts one connection on a loopback listener, runs the tlsrec
// handshake and hands the result to fn.
func serve(t *testing.T, cfg *tls.Config, fn func(c *Conn, st tls.ConnectionState)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	srv := NewServer(cfg, RecordLayerParley)
	go func() {
		for {
			raw, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				c, st, err := srv.Handshake(context.Background(), raw)
				if err != nil {
					raw.Close()
					return
				}
				fn(c, st)
			}()
		}
	}()
	return ln.Addr().String()
}

// echo copies everything read back to the peer until the input ends,
// parking between reads to exercise the AEAD rebuild.
func echo(c *Conn, _ tls.ConnectionState) {
	defer c.Close()
	buf := make([]byte, 1000)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
		if c.Idle() {
			c.Park()
		}
	}
}

func clientConfig() *tls.Config {
	return &tls.Config{InsecureSkipVerify: true, ServerName: "localhost"}
}

func roundTrip(t *testing.T, tc *tls.Conn, sizes []int) {
	t.Helper()
	for _, size := range sizes {
		msg := make([]byte, size)
		_, _ = rand.Read(msg)
		go func() { _, _ = tc.Write(msg) }()
		got := make([]byte, size)
		_ = tc.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadFull(tc, got); err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if !bytes.Equal(got, msg) {
			t.Fatalf("size %d: echo differs", size)
		}
	}
}

func TestEchoTLS13(t *testing.T) {
	lean := make(chan bool, 4)
	addr := serve(t, &tls.Config{Certificates: []tls.Certificate{testCert(t)}}, func(c *Conn, st tls.ConnectionState) {
		lean <- c.Lean()
		echo(c, st)
	})
	for _, cache := range []tls.ClientSessionCache{nil, tls.NewLRUClientSessionCache(4)} {
		cfg := clientConfig()
		cfg.ClientSessionCache = cache
		for i := range 2 {
			tc, err := tls.Dial("tcp", addr, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if tc.ConnectionState().Version != tls.VersionTLS13 {
				t.Fatal("not TLS 1.3")
			}
			// The first read also takes the server's session ticket, sent
			// under the application key before our records.
			roundTrip(t, tc, []int{1, 100, maxPlaintext, maxPlaintext + 1, 200000})
			if cache != nil && i == 1 && !tc.ConnectionState().DidResume {
				t.Error("second connection did not resume the session")
			}
			if !<-lean {
				t.Error("TLS 1.3 connection not taken over")
			}
			tc.Close()
		}
	}
}

func TestTLS12StaysWithCryptoTLS(t *testing.T) {
	lean := make(chan bool, 1)
	addr := serve(t, &tls.Config{Certificates: []tls.Certificate{testCert(t)}}, func(c *Conn, st tls.ConnectionState) {
		lean <- c.Lean()
		echo(c, st)
	})
	cfg := clientConfig()
	cfg.MaxVersion = tls.VersionTLS12
	tc, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	roundTrip(t, tc, []int{1, 50000})
	if <-lean {
		t.Error("a TLS 1.2 connection was taken over")
	}
}

// The channel-binding exporter of the returned state must agree with the
// client's.
func TestStateExporter(t *testing.T) {
	got := make(chan []byte, 1)
	addr := serve(t, &tls.Config{Certificates: []tls.Certificate{testCert(t)}}, func(c *Conn, st tls.ConnectionState) {
		b, _ := (&st).ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)
		got <- b
		echo(c, st)
	})
	tc, err := tls.Dial("tcp", addr, clientConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	cst := tc.ConnectionState()
	want, _ := cst.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)
	if b := <-got; len(b) != 32 || !bytes.Equal(b, want) {
		t.Errorf("exporter %x, client %x", b, want)
	}
}

func TestCloseNotifyEndsInput(t *testing.T) {
	res := make(chan error, 1)
	addr := serve(t, &tls.Config{Certificates: []tls.Certificate{testCert(t)}}, func(c *Conn, _ tls.ConnectionState) {
		defer c.Close()
		_, err := io.ReadAll(c)
		res <- err
	})
	tc, err := tls.Dial("tcp", addr, clientConfig())
	if err != nil {
		t.Fatal(err)
	}
	_, _ = tc.Write([]byte("bye"))
	tc.Close() // sends close_notify
	if err := <-res; err != nil {
		t.Errorf("ReadAll after close_notify: %v, want nil (io.EOF)", err)
	}
}

// The server's own close_notify reaches a crypto/tls client as io.EOF.
func TestServerCloseNotify(t *testing.T) {
	addr := serve(t, &tls.Config{Certificates: []tls.Certificate{testCert(t)}}, func(c *Conn, _ tls.ConnectionState) {
		_, _ = c.Write([]byte("hello"))
		c.Close()
	})
	tc, err := tls.Dial("tcp", addr, clientConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	_ = tc.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(tc)
	if err != nil || string(b) != "hello" {
		t.Errorf("got %q, %v", b, err)
	}
}

// rawAfterHandshake completes a handshake with a crypto/tls client, then
// writes raw bytes on the client's socket and returns the client and the
// error of the server's first read.
func rawAfterHandshake(t *testing.T, raw []byte) (*tls.Conn, error) {
	t.Helper()
	res := make(chan error, 1)
	addr := serve(t, &tls.Config{Certificates: []tls.Certificate{testCert(t)}}, func(c *Conn, _ tls.ConnectionState) {
		defer c.Close()
		_, err := c.Read(make([]byte, 10))
		res <- err
	})
	tc, err := tls.Dial("tcp", addr, clientConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tc.Close() })
	if _, err := tc.NetConn().Write(raw); err != nil {
		t.Fatal(err)
	}
	return tc, <-res
}

// A record that does not authenticate is answered with bad_record_mac.
func TestBadRecordMAC(t *testing.T) {
	tc, err := rawAfterHandshake(t, append([]byte{typeApplicationData, 3, 3, 0, 40}, make([]byte, 40)...))
	var ae *AlertError
	if !errors.As(err, &ae) || ae.Description != alertBadRecordMAC || !ae.Sent {
		t.Fatalf("server read: %v", err)
	}
	_ = tc.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = tc.Read(make([]byte, 10))
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("bad record MAC")) {
		t.Errorf("client read: %v, want a bad record MAC alert", err)
	}
}

// A plaintext record after the handshake is an unexpected_message.
func TestUnprotectedRecord(t *testing.T) {
	_, err := rawAfterHandshake(t, []byte{typeHandshake, 3, 3, 0, 1, 0})
	var ae *AlertError
	if !errors.As(err, &ae) || ae.Description != alertUnexpectedMessage {
		t.Fatalf("server read: %v", err)
	}
}

// KeyUpdate with update_requested: the server moves to the client's next
// key, answers with its own KeyUpdate and moves its sending key too. The
// client here is this package's record layer with the secrets the Go
// client logged, which can send a KeyUpdate (crypto/tls's client cannot).
func TestKeyUpdate(t *testing.T) {
	cfg := &tls.Config{Certificates: []tls.Certificate{testCert(t)}, SessionTicketsDisabled: true}
	addr := serve(t, cfg, echo)
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	hc := &handshakeConn{Conn: raw}
	ccfg := clientConfig()
	ccfg.KeyLogWriter = &hc.keys
	tc := tls.Client(hc, ccfg)
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	su, _ := suiteByID(tc.ConnectionState().CipherSuite)
	cs, ss, err := hc.keys.secrets(su.hashLen)
	if err != nil {
		t.Fatal(err)
	}
	cl := &Conn{raw: raw, suite: su}
	cl.in.setSecret(ss)
	cl.out.setSecret(cs)
	// The Go client wrote its Finished; nothing protected by the
	// application key yet.
	for round := range 3 {
		cl.wmu.Lock()
		rec, err := cl.out.seal(su, nil, typeHandshake, []byte{24, 0, 0, 1, 1})
		if err != nil {
			t.Fatal(err)
		}
		cl.out.update(su)
		_, err = raw.Write(rec)
		cl.wmu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		msg := []byte("after update " + string(rune('0'+round)))
		if _, err := cl.Write(msg); err != nil {
			t.Fatal(err)
		}
		_ = raw.SetReadDeadline(time.Now().Add(5 * time.Second))
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(cl, got); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if !bytes.Equal(got, msg) {
			t.Fatalf("round %d: got %q", round, got)
		}
	}
	if cl.in.seq == 0 && cl.in.secret == ([48]byte{}) {
		t.Fatal("no state")
	}
}

// A connection parked between reads holds no buffer and no AEAD.
func TestParkReleases(t *testing.T) {
	parked := make(chan *Conn, 1)
	checked := make(chan struct{})
	addr := serve(t, &tls.Config{Certificates: []tls.Certificate{testCert(t)}}, func(c *Conn, _ tls.ConnectionState) {
		buf := make([]byte, 5)
		if _, err := io.ReadFull(c, buf); err != nil {
			return
		}
		if !c.Idle() {
			parked <- nil
			return
		}
		c.Park()
		parked <- c
		<-checked
		if _, err := io.ReadFull(c, buf); err != nil {
			return
		}
		_, _ = c.Write(buf)
	})
	tc, err := tls.Dial("tcp", addr, clientConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	_, _ = tc.Write([]byte("hello"))
	c := <-parked
	if c == nil {
		t.Fatal("not idle after reading a whole record")
	}
	if c.rbuf != nil || c.in.aead != nil || c.out.aead != nil || c.plain != nil {
		t.Errorf("parked connection holds buf=%v in=%v out=%v", c.rbuf != nil, c.in.aead != nil, c.out.aead != nil)
	}
	close(checked)
	_, _ = tc.Write([]byte("again"))
	got := make([]byte, 5)
	_ = tc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(tc, got); err != nil || string(got) != "again" {
		t.Errorf("after wake: %q %v", got, err)
	}
}

// A record longer than TLS 1.3 allows is a record_overflow, before its
// body is even read.
func TestRecordOverflow(t *testing.T) {
	_, err := rawAfterHandshake(t, []byte{typeApplicationData, 3, 3, 0x41, 0x01})
	var ae *AlertError
	if !errors.As(err, &ae) || ae.Description != alertRecordOverflow {
		t.Fatalf("server read: %v", err)
	}
}

// A connection whose peer went holds no read buffer once its reader saw
// the end, whether the peer dropped the connection without close_notify
// (the read that found the end of the input releases it) or left a
// close_notify unread behind its last record (Discard releases it).
func TestEndReleasesReadBuffer(t *testing.T) {
	for _, tc := range []struct {
		name   string
		notify bool
	}{{"dropped", false}, {"close_notify unread", true}} {
		t.Run(tc.name, func(t *testing.T) {
			type result struct {
				err                   error
				afterRead, afterFinal bool // a buffer held
				readAfter             error
			}
			res := make(chan result, 1)
			addr := serve(t, &tls.Config{Certificates: []tls.Certificate{testCert(t)}}, func(c *Conn, _ tls.ConnectionState) {
				defer c.Close()
				buf := make([]byte, 3)
				var r result
				if _, r.err = io.ReadFull(c, buf); r.err != nil {
					res <- r
					return
				}
				if !tc.notify {
					// Read to the end of the input.
					_, r.err = c.Read(buf)
					if errors.Is(r.err, io.EOF) {
						r.err = nil
					}
				} else {
					// Wait until the close_notify is in, unread.
					_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
					for c.rs == c.re && r.err == nil {
						_, r.err = c.readRaw()
					}
				}
				r.afterRead = c.rbuf != nil
				c.Discard()
				r.afterFinal = c.rbuf != nil || c.in.aead != nil
				_, r.readAfter = c.Read(buf)
				res <- r
			})
			cc, err := tls.Dial("tcp", addr, clientConfig())
			if err != nil {
				t.Fatal(err)
			}
			_, _ = cc.Write([]byte("bye"))
			if tc.notify {
				cc.Close() // close_notify
			} else {
				cc.NetConn().Close()
			}
			r := <-res
			if r.err != nil {
				t.Fatalf("reading: %v", r.err)
			}
			if !tc.notify && r.afterRead {
				t.Error("the read that found the end of the input kept the read buffer")
			}
			if tc.notify && !r.afterRead {
				t.Error("the test did not get the close_notify into the buffer")
			}
			if r.afterFinal {
				t.Error("Discard left a read buffer or AEAD")
			}
			if r.readAfter == nil {
				t.Error("Read after Discard succeeded")
			}
		})
	}
}
