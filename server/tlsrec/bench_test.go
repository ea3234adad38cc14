package tlsrec

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"testing"
)

// benchEcho measures a 300-byte request and its echo over loopback TLS 1.3,
// the server side being either this package's record layer or crypto/tls.
func benchEcho(b *testing.B, lean bool) {
	cfg := &tls.Config{Certificates: []tls.Certificate{testCert(b)}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	srv := NewServer(cfg, RecordLayerParley)
	go func() {
		raw, err := ln.Accept()
		if err != nil {
			return
		}
		var c net.Conn
		if lean {
			rc, _, err := srv.Handshake(context.Background(), raw)
			if err != nil {
				return
			}
			c = rc
		} else {
			tc := tls.Server(raw, cfg)
			if tc.Handshake() != nil {
				return
			}
			c = tc
		}
		defer c.Close()
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			if _, err := c.Write(buf[:n]); err != nil {
				return
			}
		}
	}()
	tc, err := tls.Dial("tcp", ln.Addr().String(), clientConfig())
	if err != nil {
		b.Fatal(err)
	}
	defer tc.Close()
	msg := make([]byte, 300)
	got := make([]byte, 300)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := tc.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(tc, got); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEchoRecordLayer(b *testing.B) { benchEcho(b, true) }
func BenchmarkEchoCryptoTLS(b *testing.B)   { benchEcho(b, false) }
