package tickets

import (
	"crypto/tls"
	"os"
	"testing"
)

// FuzzUnwrap: whatever a client presents as a ticket, Unwrap returns no
// error (an error would end the handshake) and no session unless the
// bytes are a ticket these keys sealed.
func FuzzUnwrap(f *testing.F) {
	fx := newFixture(f)
	f.Add([]byte{})
	f.Add([]byte{version})
	f.Add(append([]byte{version}, make([]byte, headerLen+nonceLen+16)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		ss, err := fx.keys.Unwrap(b, tls.ConnectionState{})
		if err != nil || ss != nil {
			t.Fatalf("Unwrap(%x) = %v, %v", b, ss, err)
		}
	})
}

// FuzzKeyFile: a damaged or foreign key file is refused by read (Open
// then starts with new keys), never a panic.
func FuzzKeyFile(f *testing.F) {
	fx := newFixture(f)
	good, err := os.ReadFile(fx.opts.File)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(fileMagic))
	f.Add([]byte("not a key file"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := os.WriteFile(fx.opts.File, b, 0o600); err != nil {
			t.Fatal(err)
		}
		keys, err := fx.keys.read()
		if err == nil && len(keys) > maxKeys {
			t.Fatalf("read %d keys, more than %d", len(keys), maxKeys)
		}
	})
}
