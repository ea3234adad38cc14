package interop

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/internal/testca"
	"github.com/parley-xmpp/parley/server/s2s"
	"github.com/parley-xmpp/parley/server/s2s/certid"
	"github.com/parley-xmpp/parley/server/s2s/resolve"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// prosodyPeer is a Prosody instance serving one domain on its own
// loopback address, for federation tests.
type prosodyPeer struct {
	dir, domain, ip string
}

// serverCert issues a certificate for domain usable in both directions
// of a server-to-server stream (OpenSSL, under Prosody, checks a peer's
// certificate for client authentication).
func serverCert(t *testing.T, ca *testca.CA, domain string, more ...string) *testca.Leaf {
	return ca.Issue(t, domain, certid.Identities{DNS: append([]string{domain}, more...)}, func(c *x509.Certificate) {
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	})
}

// startProsody runs Prosody for domain on ip (ports 5222 and 5269),
// with a certificate from ca, trusting trusts for its peers (ca when
// nil), with the given users (name → password). With secure, it requires
// valid certificates from peers (s2s_secure_auth); else it accepts any
// with Server Dialback.
func startProsody(t *testing.T, ca, trusts *testca.CA, domain, ip string, users map[string]string, secure bool) *prosodyPeer {
	t.Helper()
	if _, err := exec.LookPath("prosody"); err != nil {
		need(t, "prosody", "prosody not found on PATH; apt-get install prosody")
	}
	needRoot(t, "prosody")
	dir := ownedTempDir(t, "prosody")
	b, err := os.ReadFile(filepath.Join(testDir(t), "s2s", "prosody.cfg.lua"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "prosody.cfg.lua")
	text := strings.NewReplacer("{{DIR}}", dir, "{{IP}}", ip, "{{DOMAIN}}", domain, "{{SECURE}}", fmt.Sprint(secure)).Replace(string(b))
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if trusts == nil {
		trusts = ca
	}
	trusts.WritePEM(t, filepath.Join(dir, "ca.pem"))
	serverCert(t, ca, domain).WritePEM(t, filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key"))
	chown(t, "prosody", dir)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for name, pw := range users {
		asUser(t, ctx, "prosody", dir, "prosodyctl", "--config", cfg, "register", name, domain, pw)
	}
	cmd := exec.Command("setpriv", "--reuid=prosody", "--regid=prosody", "--init-groups", "env", "HOME="+dir,
		"prosody", "--config", cfg, "-F")
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting prosody: %v", err)
	}
	p := &prosodyPeer{dir: dir, domain: domain, ip: ip}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("prosody output:\n%s\nprosody log:\n%s", out, p.log())
		}
	})
	for deadline := time.Now().Add(30 * time.Second); ; {
		c, err := net.DialTimeout("tcp", net.JoinHostPort(ip, "5222"), time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("prosody did not listen on %s:5222: %v\n%s\n%s", ip, err, out, p.log())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return p
}

func (p *prosodyPeer) log() string {
	b, _ := os.ReadFile(filepath.Join(p.dir, "prosody.log"))
	return string(b)
}

// login logs a user into the Prosody instance with Parley's client
// library.
func (p *prosodyPeer) login(t *testing.T, ca *testca.CA, user, pw string) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Config{
		JID: jid.MustParse(user + "@" + p.domain), Password: pw, Address: net.JoinHostPort(p.ip, "5222"),
		TLS: &tls.Config{RootCAs: ca.Pool, ServerName: p.domain}, Resource: "interop",
	})
	if err != nil {
		t.Fatalf("%s@%s logging into prosody: %v\n%s", user, p.domain, err, p.log())
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Send(ctx, stanza.New(stanza.NSClient, "presence")); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestProsodyReceivesOverS2S: Parley's outgoing server-to-server link
// reaches a real Prosody, authenticates its domain with SASL EXTERNAL
// (a certificate from a CA Prosody trusts), and Prosody delivers the
// message to its user.
func TestProsodyReceivesOverS2S(t *testing.T) {
	ca := testca.New(t)
	p := startProsody(t, ca, nil, prosodyDomain, prosodyIP, map[string]string{"bob": "bob-pw"}, true)
	bob := p.login(t, ca, "bob", "bob-pw")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pool := s2s.NewPool(ctx, s2s.Options{
		Certificates: []tls.Certificate{serverCert(t, ca, parleyDomain).TLS()},
		Roots:        ca.Pool,
		Finder:       &resolve.Finder{Routes: map[string]string{prosodyDomain: prosodyIP + ":5269"}},
		Bounce: func(_ context.Context, reply *stanza.Element) {
			t.Errorf("bounced: %s\n%s", reply, p.log())
		},
	})
	defer pool.Close(context.Background())

	from, to := jid.MustParse("alice@"+parleyDomain+"/desk"), jid.MustParse("bob@"+prosodyDomain)
	msg := stanza.NewMessage(stanza.TypeChat, to.String(), "hello from Parley <&> ü")
	msg.Set("from", from.String())
	if err := pool.Deliver(ctx, from, to, msg); err != nil {
		t.Fatal(err)
	}
	rctx, rcancel := context.WithTimeout(ctx, 30*time.Second)
	defer rcancel()
	for {
		st, err := bob.Recv(rctx)
		if err != nil {
			t.Fatalf("bob received no message: %v\nprosody log:\n%s", err, p.log())
		}
		if stanza.KindOf(st) != stanza.KindMessage {
			continue
		}
		if st.Get("from") != from.String() || st.Child("", "body").Text() != "hello from Parley <&> ü" {
			t.Fatalf("bob got %s", st)
		}
		break
	}
	links := pool.Links()
	if len(links) != 1 || links[0].Auth != "SASL EXTERNAL" || links[0].State != "ready" {
		t.Fatalf("links = %+v", links)
	}
}
