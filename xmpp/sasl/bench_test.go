package sasl

import "testing"

// BenchmarkSCRAMSHA256Login measures a complete SCRAM-SHA-256 exchange
// (client and server, 4096 iterations, stored credentials on the server).
func BenchmarkSCRAMSHA256Login(b *testing.B) {
	creds, err := DeriveCredentials(SHA256, "pencil", testSalt, 4096)
	if err != nil {
		b.Fatal(err)
	}
	cfg := ServerConfig{
		Lookup:     func(string, Hash) (Credentials, error) { return creds, nil },
		FakeSecret: []byte("bench"),
	}
	b.ReportAllocs()
	for b.Loop() {
		c, err := NewClient(ScramSHA256, ClientConfig{Username: "user", Password: "pencil"})
		if err != nil {
			b.Fatal(err)
		}
		s, err := NewServer(ScramSHA256, cfg)
		if err != nil {
			b.Fatal(err)
		}
		if err := run(b, c, s); err != nil {
			b.Fatal(err)
		}
	}
}
