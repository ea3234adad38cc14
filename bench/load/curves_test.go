package load

import (
	"crypto/tls"
	"slices"
	"testing"

	"github.com/parley-xmpp/parley/xmpptest"
)

func TestParseCurves(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want []tls.CurveID
	}{
		{"", nil},
		{" , ", nil},
		{"x25519", []tls.CurveID{tls.X25519}},
		{"X25519MLKEM768, x25519", []tls.CurveID{tls.X25519MLKEM768, tls.X25519}},
		{"prime256v1,P-384,secp521r1", []tls.CurveID{tls.CurveP256, tls.CurveP384, tls.CurveP521}},
		{"CurveP256", []tls.CurveID{tls.CurveP256}},
	} {
		got, err := ParseCurves(tc.spec)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParseCurves(%q) = %v, %v; want %v", tc.spec, got, err, tc.want)
		}
	}
	for _, bad := range []string{"x448", "x25519,X25519", "25519"} {
		if got, err := ParseCurves(bad); err == nil {
			t.Errorf("ParseCurves(%q) = %v, want an error", bad, got)
		}
	}
}

// TestCurvePreferencesNegotiated checks that the preferences reach the
// handshake: Parley (Go), whose default would be X25519MLKEM768, agrees on
// X25519 when the client offers only that.
func TestCurvePreferencesNegotiated(t *testing.T) {
	s := xmpptest.NewServer(t)
	for _, tc := range []struct {
		spec string
		want tls.CurveID
	}{
		{"", tls.X25519MLKEM768},
		{"x25519", tls.X25519},
		{"p256", tls.CurveP256},
	} {
		curves, err := ParseCurves(tc.spec)
		if err != nil {
			t.Fatal(err)
		}
		tc0 := s.TLSConfig()
		tc0.CurvePreferences = curves
		d := Dialer{Domain: s.Domain(), TLS: tc0}
		c, err := tls.Dial("tcp", s.TLSAddr(), d.tlsConfig(0))
		if err != nil {
			t.Fatalf("curves %q: %v", tc.spec, err)
		}
		if got := c.ConnectionState().CurveID; got != tc.want {
			t.Errorf("curves %q: negotiated %v, want %v", tc.spec, got, tc.want)
		}
		c.Close()
	}
}
