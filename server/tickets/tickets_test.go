package tickets

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/internal/testca"
	"github.com/parley-xmpp/parley/server/s2s/certid"
)

// clock is a settable clock shared by the keys and both TLS sides.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// serverCert returns a certificate for example.org valid past the
// tests' clock steps (a client drops a ticket whose server certificate
// has expired). Clients skip verification: the test CA expires sooner,
// and what the tests check is resumption, not trust.
func serverCert(t testing.TB) tls.Certificate {
	t.Helper()
	return testca.New(t).Issue(t, "example.org", certid.Identities{DNS: []string{"example.org"}}, func(c *x509.Certificate) {
		c.NotAfter = time.Now().Add(24 * time.Hour)
	}).TLS()
}

// fixture is a server (whose ticket keys a test may reopen, as a
// restart does) and a client with a session cache.
type fixture struct {
	t      testing.TB
	clk    *clock
	opts   Options
	cert   tls.Certificate
	cache  tls.ClientSessionCache
	keys   *Keys
	server *tls.Config
}

func newFixture(t testing.TB) *fixture {
	dir := t.TempDir()
	f := &fixture{t: t, clk: &clock{t: time.Now()}, cert: serverCert(t), cache: tls.NewLRUClientSessionCache(8)}
	f.opts = Options{
		File:        filepath.Join(dir, "tls", "session-ticket-keys"),
		WrapKeyFile: filepath.Join(dir, "tls", "ticket-wrap.key"),
		Rotate:      time.Hour,
		Lifetime:    3 * time.Hour,
		Now:         f.clk.now,
	}
	f.restart()
	return f
}

// restart opens the keys from their files again and builds a new server
// configuration, as a server restart does.
func (f *fixture) restart() {
	f.t.Helper()
	k, err := Open(f.opts)
	if err != nil {
		f.t.Fatal(err)
	}
	f.keys = k
	f.server = &tls.Config{Certificates: []tls.Certificate{f.cert}, MinVersion: tls.VersionTLS13, Time: f.clk.now}
	k.Install(f.server)
}

// connect runs one handshake (TLS 1.3, or 1.2 with tls12) and reads one
// byte so that the client takes the server's session ticket, and
// reports whether the session was resumed.
func (f *fixture) connect(tls12 bool) bool {
	f.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.t.Fatal(err)
	}
	defer ln.Close()
	cc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		f.t.Fatal(err)
	}
	defer cc.Close()
	sc, err := ln.Accept()
	if err != nil {
		f.t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	cc.SetDeadline(deadline)
	sc.SetDeadline(deadline)
	srvCfg := f.server.Clone() // as the listeners do: clones share the keys
	if tls12 {
		srvCfg.MinVersion, srvCfg.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	}
	done := make(chan error, 1)
	go func() {
		s := tls.Server(sc, srvCfg)
		defer s.Close()
		if err := s.Handshake(); err != nil {
			done <- err
			return
		}
		_, err := s.Write([]byte("x"))
		done <- err
		s.Read(make([]byte, 1)) // until the client closes: no reset losing "x"
	}()
	c := tls.Client(cc, &tls.Config{ServerName: "example.org", InsecureSkipVerify: true, ClientSessionCache: f.cache, Time: f.clk.now})
	if err := c.Handshake(); err != nil {
		f.t.Fatalf("client handshake: %v", err)
	}
	_, rerr := c.Read(make([]byte, 1))
	if err := <-done; err != nil {
		f.t.Fatalf("server: %v", err)
	}
	if rerr != nil {
		f.t.Fatalf("client read: %v", rerr)
	}
	return c.ConnectionState().DidResume
}

// ticketKeyID returns the key ID of the ticket the client holds.
func (f *fixture) ticketKeyID() []byte {
	f.t.Helper()
	cs, ok := f.cache.Get("example.org")
	if !ok || cs == nil {
		f.t.Fatal("the client holds no session ticket")
	}
	ticket, _, err := cs.ResumptionState()
	if err != nil {
		f.t.Fatal(err)
	}
	return ticket[1 : 1+idLen]
}

func (f *fixture) newestID() []byte {
	f.keys.mu.RLock()
	defer f.keys.mu.RUnlock()
	return bytes.Clone(f.keys.keys[0].id[:])
}

func TestResumesAcrossRestart(t *testing.T) {
	for _, tls12 := range []bool{false, true} {
		f := newFixture(t)
		if f.connect(tls12) {
			t.Fatal("first connection resumed a session it never had")
		}
		f.restart()
		if !f.connect(tls12) {
			t.Fatalf("tls12=%v: a returning client did not resume its session after a restart", tls12)
		}
	}
}

func TestRotation(t *testing.T) {
	f := newFixture(t)
	f.connect(false)
	first := f.ticketKeyID()
	if !bytes.Equal(first, f.newestID()) {
		t.Fatal("the ticket is not sealed with the newest key")
	}
	// Past the rotation: the old key still opens the ticket, and the
	// new ticket is sealed with a new key.
	f.clk.add(90 * time.Minute)
	if !f.connect(false) {
		t.Fatal("a ticket of the previous key, within its lifetime, was refused")
	}
	second := f.ticketKeyID()
	if bytes.Equal(second, first) || !bytes.Equal(second, f.newestID()) {
		t.Fatal("after the rotation the new ticket is not sealed with the new key")
	}
	if n := f.keys.count(); n != 2 {
		t.Fatalf("%d keys kept after one rotation, want 2", n)
	}
	// The rotation survives a restart too.
	f.restart()
	if !bytes.Equal(f.newestID(), second) {
		t.Fatal("a restart lost the rotated key")
	}
}

func TestRotatedOutKeyRefused(t *testing.T) {
	f := newFixture(t)
	f.connect(false)
	first := f.ticketKeyID()
	// Rotate by hand twice within the ticket's lifetime, then let the
	// first key's last possible ticket outlive the lifetime: the key is
	// dropped, and the ticket with it, although the ticket's own issue
	// time would still be acceptable if the lifetime were counted from
	// the restart.
	if err := f.keys.Rotate(); err != nil {
		t.Fatal(err)
	}
	f.clk.add(3*time.Hour + time.Minute)
	f.restart()
	for _, c := range f.keys.keys {
		if bytes.Equal(c.id[:], first) {
			t.Fatal("a key whose tickets have all expired was kept")
		}
	}
	if f.connect(false) {
		t.Fatal("a ticket sealed with a rotated-out key was accepted")
	}
}

func TestDroppedKeyRefused(t *testing.T) {
	// A ticket within its lifetime whose key is gone (dropped, or never
	// this server's) gets a full handshake.
	f := newFixture(t)
	f.connect(false)
	if err := f.keys.Rotate(); err != nil {
		t.Fatal(err)
	}
	f.keys.mu.Lock()
	f.keys.keys = f.keys.keys[:1]
	f.keys.mu.Unlock()
	if f.connect(false) {
		t.Fatal("a ticket sealed with a key no longer kept was accepted")
	}
}

func TestExpiredTicketRefused(t *testing.T) {
	f := newFixture(t)
	f.connect(false)
	f.clk.add(3*time.Hour + time.Second)
	f.restart()
	if f.connect(false) {
		t.Fatal("a ticket older than the lifetime was accepted")
	}
}

func TestKeyFilesAtRest(t *testing.T) {
	f := newFixture(t)
	if err := f.keys.Rotate(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{f.opts.File, f.opts.WrapKeyFile} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if perm := st.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s has mode %o, want 600", filepath.Base(p), perm)
		}
	}
	b, err := os.ReadFile(f.opts.File)
	if err != nil {
		t.Fatal(err)
	}
	f.keys.mu.RLock()
	for _, c := range f.keys.keys {
		if bytes.Contains(b, c.raw[:]) || bytes.Contains(b, c.raw[:8]) {
			t.Error("the key file holds a ticket key in plaintext")
		}
	}
	f.keys.mu.RUnlock()
	wrap, err := os.ReadFile(f.opts.WrapKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, wrap) {
		t.Error("the key file holds its own wrapping key")
	}
}

func TestAnotherWrapKeyStartsAfresh(t *testing.T) {
	f := newFixture(t)
	f.connect(false)
	// A key file that cannot be decrypted (here: the wrapping key was
	// replaced) costs returning clients a full handshake, nothing more.
	if err := os.Remove(f.opts.WrapKeyFile); err != nil {
		t.Fatal(err)
	}
	f.restart()
	if f.connect(false) {
		t.Fatal("a session resumed with keys that could not be decrypted")
	}
	f.restart()
	if !f.connect(false) {
		t.Fatal("the keys made after the replaced wrapping key do not work across a restart")
	}
}

func TestBadWrapKeyFile(t *testing.T) {
	f := newFixture(t)
	if err := os.WriteFile(f.opts.WrapKeyFile, []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(f.opts); err == nil {
		t.Fatal("a wrapping key file of the wrong size was accepted")
	}
}

func TestForeignTicketsIgnored(t *testing.T) {
	f := newFixture(t)
	var cs tls.ConnectionState
	for _, id := range [][]byte{nil, {1}, bytes.Repeat([]byte{1}, 64), append([]byte{2}, make([]byte, 64)...)} {
		ss, err := f.keys.Unwrap(id, cs)
		if ss != nil || err != nil {
			t.Errorf("Unwrap(%x) = %v, %v; want nil, nil (a full handshake)", id, ss, err)
		}
	}
}
