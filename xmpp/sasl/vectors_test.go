package sasl

import (
	"encoding/base64"
	"errors"
	"testing"
)

type vector struct {
	name        string
	mech        string
	hash        Hash
	cnonce      string
	snonce      string
	salt        string
	clientFirst string
	serverFirst string
	clientFinal string
	serverFinal string
}

// vectors are the example exchanges of RFC 5802 §5 and RFC 7677 §3
// (username "user", password "pencil").
var vectors = []vector{
	{
		name:        "RFC5802",
		mech:        ScramSHA1,
		hash:        SHA1,
		cnonce:      "fyko+d2lbbFgONRv9qkxdawL",
		snonce:      "3rfcNHYJY1ZVvWVs7j",
		salt:        "QSXCR+Q6sek8bf92",
		clientFirst: "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
		serverFirst: "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
		clientFinal: "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
		serverFinal: "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
	},
	{
		name:        "RFC7677",
		mech:        ScramSHA256,
		hash:        SHA256,
		cnonce:      "rOprNGfwEbeRWgbNEkqO",
		snonce:      "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
		salt:        "W22ZaJ0SNY7soEsUEjb6gQ==",
		clientFirst: "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
		serverFirst: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
		clientFinal: "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		serverFinal: "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
	},
}

// credLookup returns a Lookup serving one user with the given password and
// salt at 4096 iterations.
func credLookup(t testing.TB, user, password string, salt []byte) func(string, Hash) (Credentials, error) {
	return func(u string, h Hash) (Credentials, error) {
		if u != user {
			return Credentials{}, ErrUnknownUser
		}
		c, err := DeriveCredentials(h, password, salt, 4096)
		if err != nil {
			t.Fatalf("DeriveCredentials: %v", err)
		}
		return c, nil
	}
}

func mustB64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return b
}

func fixedNonce(n string) func() (string, error) {
	return func() (string, error) { return n, nil }
}

func TestVectorsClient(t *testing.T) {
	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) {
			m, err := NewClient(v.mech, ClientConfig{Username: "user", Password: "pencil"})
			if err != nil {
				t.Fatal(err)
			}
			c := m.(*scramClient)
			c.nonce = fixedNonce(v.cnonce)
			first, err := c.Start()
			if err != nil {
				t.Fatal(err)
			}
			if string(first) != v.clientFirst {
				t.Fatalf("client-first = %q, want %q", first, v.clientFirst)
			}
			final, err := c.Next([]byte(v.serverFirst))
			if err != nil {
				t.Fatal(err)
			}
			if string(final) != v.clientFinal {
				t.Fatalf("client-final = %q, want %q", final, v.clientFinal)
			}
			if c.Done() {
				t.Fatal("Done before server-final")
			}
			out, err := c.Next([]byte(v.serverFinal))
			if err != nil || out != nil {
				t.Fatalf("server-final: out=%q err=%v", out, err)
			}
			if !c.Done() {
				t.Fatal("not Done after valid server-final")
			}
		})
	}
}

func TestVectorsServer(t *testing.T) {
	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) {
			cfg := ServerConfig{
				Lookup:     credLookup(t, "user", "pencil", mustB64(t, v.salt)),
				FakeSecret: []byte("secret"),
			}
			m, err := NewServer(v.mech, cfg)
			if err != nil {
				t.Fatal(err)
			}
			s := m.(*scramServer)
			s.nonce = fixedNonce(v.snonce)
			out, done, err := s.Next([]byte(v.clientFirst))
			if err != nil || done {
				t.Fatalf("client-first: done=%v err=%v", done, err)
			}
			if string(out) != v.serverFirst {
				t.Fatalf("server-first = %q, want %q", out, v.serverFirst)
			}
			out, done, err = s.Next([]byte(v.clientFinal))
			if err != nil || !done {
				t.Fatalf("client-final: done=%v err=%v", done, err)
			}
			if string(out) != v.serverFinal {
				t.Fatalf("server-final = %q, want %q", out, v.serverFinal)
			}
			if s.Username() != "user" || s.Authzid() != "" {
				t.Fatalf("identity = %q/%q", s.Username(), s.Authzid())
			}
		})
	}
}

func TestVectorBadServerSignature(t *testing.T) {
	v := vectors[1]
	m, _ := NewClient(v.mech, ClientConfig{Username: "user", Password: "pencil"})
	c := m.(*scramClient)
	c.nonce = fixedNonce(v.cnonce)
	if _, err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Next([]byte(v.serverFirst)); err != nil {
		t.Fatal(err)
	}
	// Same length, one character different.
	bad := []byte(v.serverFinal)
	bad[2] ^= 1
	if _, err := c.Next(bad); !errors.Is(err, ErrServerSignature) {
		t.Fatalf("err = %v, want ErrServerSignature", err)
	}
	if c.Done() {
		t.Fatal("Done after bad signature")
	}
}

// TestXEP0474Example replays the example of XEP-0474 §6 (SCRAM-SHA-1-PLUS
// with tls-exporter, password "pencil", an extra "x" extension in the
// client-final-message).
func TestXEP0474Example(t *testing.T) {
	const (
		clientFirst = "p=tls-exporter,,n=user,r=12C4CD5C-E38E-4A98-8F6D-15C38F51CCC6"
		serverFirst = "r=12C4CD5C-E38E-4A98-8F6D-15C38F51CCC6a09117a6-ac50-4f2f-93f1-93799c2bddf6,s=QSXCR+Q6sek8bf92,i=4096,h=G6k/rBLDqgOhRRaCuuatSDFkJ08="
		clientFinal = "c=cD10bHMtZXhwb3J0ZXIsLFRISVMgSVMgRkFLRSBDQiBEQVRB,r=12C4CD5C-E38E-4A98-8F6D-15C38F51CCC6a09117a6-ac50-4f2f-93f1-93799c2bddf6,x=19C6532F-1CF4-4A27-A18D-DC9CEA41BBB3,p=M/SIDjT+dfcxUh89jZEypRvFxB4="
		serverFinal = "v=MQrMPvv7yv4x4Cq4W4Ih25EqS2c="
	)
	mechs := []string{ScramSHA1Plus, ScramSHA1} // order must not matter
	if got := DowngradeHash(SHA1, mechs, []string{TLSServerEndPoint, TLSExporter}); got != "G6k/rBLDqgOhRRaCuuatSDFkJ08=" {
		t.Fatalf("DowngradeHash = %q", got)
	}
	cfg := ServerConfig{
		Lookup:     credLookup(t, "user", "pencil", mustB64(t, "QSXCR+Q6sek8bf92")),
		FakeSecret: []byte("secret"),
		ChannelBindings: map[string][]byte{
			TLSExporter:       []byte("THIS IS FAKE CB DATA"),
			TLSServerEndPoint: []byte("unused"),
		},
		Mechanisms: mechs,
	}
	m, err := NewServer(ScramSHA1Plus, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := m.(*scramServer)
	s.nonce = fixedNonce("a09117a6-ac50-4f2f-93f1-93799c2bddf6")
	out, _, err := s.Next([]byte(clientFirst))
	if err != nil || string(out) != serverFirst {
		t.Fatalf("server-first = %q, %v", out, err)
	}
	out, done, err := s.Next([]byte(clientFinal))
	if err != nil || !done || string(out) != serverFinal {
		t.Fatalf("server-final = %q, done=%v, %v", out, done, err)
	}

	// Client side: the hash verifies against the lists it saw, and a
	// stripped list is detected.
	for _, tc := range []struct {
		name    string
		mechs   []string
		cbTypes []string
		wantErr error
	}{
		{"match", []string{ScramSHA1, ScramSHA1Plus}, []string{TLSExporter, TLSServerEndPoint}, nil},
		{"mechanism stripped", []string{ScramSHA1}, []string{TLSExporter, TLSServerEndPoint}, ErrDowngrade},
		{"cb type stripped", []string{ScramSHA1, ScramSHA1Plus}, []string{TLSExporter}, ErrDowngrade},
		{"xep-0440 not seen", []string{ScramSHA1, ScramSHA1Plus}, nil, ErrDowngrade},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cm, err := NewClient(ScramSHA1Plus, ClientConfig{
				Username:         "user",
				Password:         "pencil",
				ChannelBindings:  map[string][]byte{TLSExporter: []byte("THIS IS FAKE CB DATA")},
				ServerMechanisms: tc.mechs,
				ServerCBTypes:    tc.cbTypes,
			})
			if err != nil {
				t.Fatal(err)
			}
			c := cm.(*scramClient)
			c.nonce = fixedNonce("12C4CD5C-E38E-4A98-8F6D-15C38F51CCC6")
			first, err := c.Start()
			if err != nil || string(first) != clientFirst {
				t.Fatalf("client-first = %q, %v", first, err)
			}
			_, err = c.Next([]byte(serverFirst))
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}
}
