//go:build !openssl || !cgo

package opensslkey_test

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"testing"

	"github.com/parley-xmpp/parley/server/certs/opensslkey"
)

func TestNotBuiltWithOpenSSL(t *testing.T) {
	if opensslkey.Available {
		t.Fatal("Available in a build without the openssl tag")
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	if s, err := opensslkey.New(key); !errors.Is(err, opensslkey.ErrNotBuilt) || s != nil {
		t.Fatalf("New = %v, %v; want nil, ErrNotBuilt", s, err)
	}
}
