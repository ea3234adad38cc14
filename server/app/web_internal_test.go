package app

import (
	"crypto/tls"
	"net/http"
	"net/netip"
	"testing"

	"github.com/parley-xmpp/parley/server/config"
)

// TestForwardedHeaders: X-Forwarded-For and X-Forwarded-Proto count only
// from a trusted proxy; from anyone else they are ignored, so a client
// cannot pick the address that login throttling counts.
func TestForwardedHeaders(t *testing.T) {
	a := &App{cfg: config.Default()}
	a.cfg.HTTP.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	req := func(remote string, tlsOn bool, xff, proto string) *http.Request {
		r := &http.Request{RemoteAddr: remote, Header: http.Header{}}
		if tlsOn {
			r.TLS = &tls.ConnectionState{}
		}
		if xff != "" {
			r.Header.Set("X-Forwarded-For", xff)
		}
		if proto != "" {
			r.Header.Set("X-Forwarded-Proto", proto)
		}
		return r
	}
	for _, tc := range []struct {
		name   string
		r      *http.Request
		addr   string
		secure bool
	}{
		{"direct, plain", req("192.0.2.1:4000", false, "", ""), "192.0.2.1:4000", false},
		{"direct, TLS", req("192.0.2.1:4000", true, "", ""), "192.0.2.1:4000", true},
		{"loopback", req("127.0.0.1:4000", false, "", ""), "127.0.0.1:4000", true},
		{"forged headers from a stranger", req("192.0.2.1:4000", false, "198.51.100.7", "https"), "192.0.2.1:4000", false},
		{"trusted proxy", req("10.1.2.3:4000", false, "198.51.100.7", "https"), "198.51.100.7:0", true},
		{"trusted proxy, plain client", req("10.1.2.3:4000", false, "198.51.100.7", "http"), "198.51.100.7:0", false},
		{"chain of proxies, spoofed first hop", req("10.1.2.3:4000", false, "203.0.113.9, 198.51.100.7, 10.9.9.9", "https"), "198.51.100.7:0", true},
	} {
		if got := a.clientAddr(tc.r); got != tc.addr {
			t.Errorf("%s: clientAddr = %s, want %s", tc.name, got, tc.addr)
		}
		if got := a.secureRequest(tc.r); got != tc.secure {
			t.Errorf("%s: secureRequest = %v, want %v", tc.name, got, tc.secure)
		}
	}
}
