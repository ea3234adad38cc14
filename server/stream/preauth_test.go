package stream_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/sasl"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// One address may hold limits.preauth_connections_per_address
// connections open before authenticating: the next one gets a stream
// header and <policy-violation/> at once, before any TLS, on the
// STARTTLS listener, and is closed without a handshake on the direct TLS
// one. A connection that authenticates stops counting; authenticated
// sessions never count.
func TestPreauthConnectionsPerAddress(t *testing.T) {
	const most = 5
	s, alice, bob := newServer(t, func(c *config.Config) { c.Limits.PreauthConnectionsPerAddress = most })
	// alice and bob are logged in: they do not count. These do.
	held := make([]*raw, most)
	for i := range held {
		held[i] = dialRaw(t, s)
	}
	held[0].open() // one mid-negotiation, the others silent

	// The next connection is refused with a stream error, unasked.
	over := dialRaw(t, s)
	_ = over.nc.SetReadDeadline(time.Now().Add(ioTimeout))
	data, err := io.ReadAll(over.nc)
	if err != nil && !errors.Is(err, net.ErrClosed) {
		t.Logf("reading the refusal: %v", err) // a reset after the data is fine
	}
	dec := stream.NewDecoder(bytes.NewReader(data), stream.Limits{})
	if _, err := dec.ReadHeader(); err != nil {
		t.Fatalf("refused connection: no stream header in %q: %v", data, err)
	}
	el, err := dec.Next()
	if err != nil {
		t.Fatalf("refused connection: %q: %v", data, err)
	}
	if se := stream.ParseStreamError(el); se == nil || se.Condition != stream.PolicyViolation {
		t.Fatalf("refused connection got %s, want <policy-violation/>", el)
	}
	if _, err := dec.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the stream error: %v", err)
	}

	// On the direct TLS listener: closed, no handshake.
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: ioTimeout}, Config: s.TLSConfig()}
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	if tc, err := d.DialContext(ctx, "tcp", s.TLSAddr()); err == nil {
		tc.Close()
		t.Fatal("a TLS handshake was completed past the cap")
	}

	// Authenticating frees the place.
	held[0].startTLS(nil)
	held[0].login(sasl.Plain, "carol", "pw")
	held[0].bind("counted")
	again := dialRaw(t, s)
	again.open()
	// and a closed connection frees one too.
	held[1].nc.Close()
	var last *raw
	deadline := time.Now().Add(ioTimeout)
	for {
		last = dialRaw(t, s)
		_ = last.nc.SetReadDeadline(time.Now().Add(ioTimeout))
		last.write(last.streamHeader())
		last.readHeader()
		f, err := last.next()
		if err != nil {
			t.Fatalf("reading: %v", err)
		}
		if stream.ParseStreamError(f) == nil {
			break // features: accepted
		}
		// The server may not have seen held[1] go yet.
		if time.Now().After(deadline) {
			t.Fatal("a closed connection still counts against its address")
		}
		time.Sleep(10 * time.Millisecond)
	}
	alive(t, alice, bob)
	alive(t, bob, alice)
}
