package sasl

import (
	"testing"
	"unsafe"
)

// The username a SCRAM server reports is a string of its own, not a
// substring of the client-first message: the server keeps it for the
// session's life, and a substring would keep the whole message (the
// nonce, the GS2 header) in memory with it.
func TestSCRAMUsernameOwnString(t *testing.T) {
	creds, err := DeriveCredentials(SHA256, "pencil", testSalt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewServer(ScramSHA256, ServerConfig{
		Lookup:     func(string, Hash) (Credentials, error) { return creds, nil },
		FakeSecret: []byte("test"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.Next([]byte("n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL")); err != nil {
		t.Fatal(err)
	}
	s := m.(*scramServer)
	user, bare := s.user, s.clientFirstBare
	if user != "user" {
		t.Fatalf("username %q, want user", user)
	}
	u, b := uintptr(unsafe.Pointer(unsafe.StringData(user))), uintptr(unsafe.Pointer(unsafe.StringData(bare)))
	if u >= b && u < b+uintptr(len(bare)) {
		t.Error("the username is a substring of the client-first message")
	}
}
