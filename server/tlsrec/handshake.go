package tlsrec

import (
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
)

// Record content types (RFC 8446 §5.1).
const (
	typeChangeCipherSpec = 20
	typeAlert            = 21
	typeHandshake        = 22
	typeApplicationData  = 23
)

const (
	headerLen     = 5
	maxPlaintext  = 1 << 14     // largest TLSInnerPlaintext content
	maxCiphertext = 1<<14 + 256 // largest protected record body
	maxRecord     = headerLen + maxCiphertext
	tagLen        = 16 // every TLS 1.3 AEAD's tag
)

// RecordLayer selects what carries a connection's records after the
// handshake.
type RecordLayer int

const (
	// RecordLayerParley hands TLS 1.3 connections to this package's record
	// layer after the handshake (the default).
	RecordLayerParley RecordLayer = iota
	// RecordLayerGo keeps every connection with crypto/tls for its whole
	// life: no record-at-a-time handshake reads, no key log, no parking.
	// It relies on nothing but crypto/tls's API, for when a Go release
	// breaks what RecordLayerParley assumes (see TestCryptoTLSAssumptions).
	RecordLayerGo
)

// Server makes server-side connections from one TLS configuration. It is
// safe for concurrent use.
type Server struct {
	shared *tls.Config
	layer  RecordLayer
}

// NewServer returns a Server using cfg for every handshake and layer for
// the records after it. cfg must not be modified afterwards. A
// GetConfigForClient callback in cfg is honoured.
func NewServer(cfg *tls.Config, layer RecordLayer) *Server {
	if layer == RecordLayerGo {
		return &Server{shared: cfg.Clone(), layer: layer}
	}
	shared := cfg.Clone()
	prev := cfg.GetConfigForClient
	shared.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		base := shared
		if prev != nil {
			c, err := prev(hello)
			if err != nil {
				return nil, err
			}
			if c != nil {
				base = c
			}
		}
		hc, ok := hello.Conn.(*handshakeConn)
		if !ok {
			return nil, errors.New("tlsrec: handshake on a foreign connection")
		}
		// A clone per handshake carries this connection's key log. It
		// sets no session ticket keys of its own, so crypto/tls keeps
		// using the shared configuration's: resumption works across
		// connections.
		c := base.Clone()
		c.GetConfigForClient = nil
		c.KeyLogWriter = &hc.keys
		return c, nil
	}
	return &Server{shared: shared, layer: layer}
}

// Handshake runs the server handshake on raw and returns the connection
// and the negotiated state. The state's ExportKeyingMaterial works, but
// the Conn keeps no reference to it: callers take what they need (channel
// bindings, say) before dropping it. On error raw is left to the caller
// to close.
func (s *Server) Handshake(ctx context.Context, raw net.Conn) (*Conn, tls.ConnectionState, error) {
	if s.layer == RecordLayerGo {
		tc := tls.Server(raw, s.shared)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, tls.ConnectionState{}, err
		}
		return &Conn{raw: raw, fallback: tc}, tc.ConnectionState(), nil
	}
	hc := &handshakeConn{Conn: raw}
	tc := tls.Server(hc, s.shared)
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, tls.ConnectionState{}, err
	}
	st := tc.ConnectionState()
	c := &Conn{raw: raw}
	su, ok := suiteByID(st.CipherSuite)
	lean := ok && st.Version == tls.VersionTLS13 && hc.atBoundary()
	var client, server []byte
	if lean {
		// An error here is not expected from crypto/tls: stay correct, if
		// not lean.
		var err error
		client, server, err = hc.keys.secrets(su.hashLen)
		lean = err == nil
	}
	if !lean {
		hc.passthrough = true
		c.fallback = tc
		return c, st, nil
	}
	c.suite = su
	c.in.setSecret(client)
	c.out.setSecret(server)
	// crypto/tls sends at most one NewSessionTicket, as the last record
	// of its handshake, under the new application key: if the last
	// protected record it wrote opens with that key, the ticket took
	// sequence number 0.
	if last := hc.lastProtected; last != nil {
		if _, err := c.out.open(su, last); err == nil {
			c.out.seq = 1
		}
		c.out.drop()
	}
	return c, st, nil
}

// handshakeConn is the connection crypto/tls performs the handshake on: it
// never returns bytes beyond the end of the current record, so crypto/tls
// holds nothing of the following records when the handshake ends. It also
// remembers the last protected record crypto/tls wrote.
type handshakeConn struct {
	net.Conn
	keys keyLog

	passthrough bool // after the handshake, under crypto/tls (TLS 1.2)
	hdr         [headerLen]byte
	hdrN        int // bytes of hdr read
	remaining   int // body bytes of the current record still to read

	wmu           sync.Mutex
	whdr          [headerLen]byte
	whdrN         int
	wrec          []byte // the record being written, while its type is 23
	wremaining    int
	lastProtected []byte
}

func (h *handshakeConn) atBoundary() bool { return h.hdrN == 0 && h.remaining == 0 }

// Read implements net.Conn, stopping at record boundaries.
func (h *handshakeConn) Read(p []byte) (int, error) {
	if h.passthrough {
		return h.Conn.Read(p)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if h.remaining == 0 {
		want := headerLen - h.hdrN
		if len(p) < want {
			want = len(p)
		}
		n, err := h.Conn.Read(p[:want])
		copy(h.hdr[h.hdrN:], p[:n])
		h.hdrN += n
		if h.hdrN == headerLen {
			h.remaining = int(h.hdr[3])<<8 | int(h.hdr[4])
			h.hdrN = 0
		}
		return n, err
	}
	want := h.remaining
	if len(p) < want {
		want = len(p)
	}
	n, err := h.Conn.Read(p[:want])
	h.remaining -= n
	return n, err
}

// Write implements net.Conn, noting protected records as they pass.
func (h *handshakeConn) Write(p []byte) (int, error) {
	if !h.passthrough {
		h.wmu.Lock()
		h.observe(p)
		h.wmu.Unlock()
	}
	return h.Conn.Write(p)
}

// observe follows the record framing of what crypto/tls writes.
func (h *handshakeConn) observe(p []byte) {
	for len(p) > 0 {
		if h.wremaining == 0 {
			n := copy(h.whdr[h.whdrN:], p)
			h.whdrN += n
			p = p[n:]
			if h.whdrN < headerLen {
				return
			}
			h.whdrN = 0
			h.wremaining = int(h.whdr[3])<<8 | int(h.whdr[4])
			h.wrec = nil
			if h.whdr[0] == typeApplicationData {
				h.wrec = append(make([]byte, 0, headerLen+h.wremaining), h.whdr[:]...)
			}
			if h.wremaining == 0 && h.wrec != nil {
				h.lastProtected = h.wrec
			}
			continue
		}
		n := min(len(p), h.wremaining)
		if h.wrec != nil {
			h.wrec = append(h.wrec, p[:n]...)
		}
		h.wremaining -= n
		p = p[n:]
		if h.wremaining == 0 && h.wrec != nil {
			h.lastProtected = h.wrec
		}
	}
}

// keyLog receives crypto/tls's key log lines for one connection (NSS key
// log format: label, client random, secret, in hex).
type keyLog struct {
	mu             sync.Mutex
	client, server []byte
	err            error
}

// Write implements io.Writer for tls.Config.KeyLogWriter.
func (k *keyLog) Write(line []byte) (int, error) {
	f := strings.Fields(string(line))
	if len(f) != 3 {
		return len(line), nil
	}
	var dst *[]byte
	switch f[0] {
	case "CLIENT_TRAFFIC_SECRET_0":
		dst = &k.client
	case "SERVER_TRAFFIC_SECRET_0":
		dst = &k.server
	default:
		return len(line), nil
	}
	b, err := hex.DecodeString(f[2])
	k.mu.Lock()
	if err != nil {
		k.err = fmt.Errorf("tlsrec: key log: %w", err)
	}
	*dst = b
	k.mu.Unlock()
	return len(line), nil
}

// secrets returns the application traffic secrets once both were logged.
func (k *keyLog) secrets(hashLen int) (client, server []byte, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	switch {
	case k.err != nil:
		return nil, nil, k.err
	case len(k.client) != hashLen || len(k.server) != hashLen:
		return nil, nil, errors.New("tlsrec: traffic secrets missing from the key log")
	}
	return k.client, k.server, nil
}
