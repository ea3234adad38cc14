package interop

// ACME against pebble, Let's Encrypt's test certificate authority: the
// server obtains a certificate for its domain and service domains over a
// real TLS-ALPN-01 (on its c2s_tls listener) or HTTP-01 (on its acme_http
// listener) validation, clients see it, and a renewal is served without a
// restart. Pebble is built from the Go module proxy; without it the test
// skips (fails under PARLEY_INTEROP_REQUIRED).

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// pebbleModule is the pebble release the test builds.
const pebbleModule = "github.com/letsencrypt/pebble/v2"
const pebbleVersion = "v2.10.3"

var (
	pebbleOnce sync.Once
	pebbleTmp  string // the folder of the build, removed by TestMain
	pebbleBin  string // the built pebble
	pebbleDir  string // its module's source (test certificates)
	pebbleErr  error
)

// buildPebble builds pebble once per test run.
func buildPebble(t *testing.T) (bin, dir string) {
	t.Helper()
	pebbleOnce.Do(func() {
		tmp, err := os.MkdirTemp("", "parley-pebble-")
		if err != nil {
			pebbleErr = err
			return
		}
		pebbleTmp = tmp
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
		defer cancel()
		install := exec.CommandContext(ctx, "go", "install", pebbleModule+"/cmd/pebble@"+pebbleVersion)
		install.Dir = tmp
		install.Env = append(os.Environ(), "GOBIN="+tmp, "GOFLAGS=")
		if out, err := install.CombinedOutput(); err != nil {
			pebbleErr = fmt.Errorf("go install pebble: %v\n%s", err, out)
			return
		}
		dl := exec.CommandContext(ctx, "go", "mod", "download", "-json", pebbleModule+"@"+pebbleVersion)
		dl.Dir = tmp
		dl.Env = append(os.Environ(), "GOFLAGS=")
		out, err := dl.Output()
		if err != nil {
			pebbleErr = fmt.Errorf("go mod download pebble: %v", err)
			return
		}
		var mod struct{ Dir string }
		if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
			pebbleErr = fmt.Errorf("go mod download pebble: no source folder in %s", out)
			return
		}
		pebbleBin, pebbleDir = filepath.Join(tmp, "pebble"), mod.Dir
	})
	if pebbleErr != nil {
		need(t, "pebble", pebbleErr.Error())
	}
	return pebbleBin, pebbleDir
}

// pebble is a running pebble.
type pebble struct {
	directory string         // the ACME directory URL
	caFile    string         // the CA of its HTTPS (pebble's minica)
	roots     *x509.CertPool // the root of the certificates it issues
	log       *lockedBuffer
}

// startPebble runs pebble issuing certificates valid for validity,
// validating TLS-ALPN-01 on tlsPort and HTTP-01 on httpPort of every
// name, which its resolver (a DNS server of the test's) maps to
// 127.0.0.1. Every authorization is validated anew (no reuse).
func startPebble(t *testing.T, tlsPort, httpPort string, validity time.Duration) *pebble {
	t.Helper()
	bin, src := buildPebble(t)
	dir := t.TempDir()
	ports := freePorts(t, 2)
	listen, mgmt := ports[0], ports[1]
	certs := filepath.Join(src, "test", "certs")
	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress":           listen,
		"managementListenAddress": mgmt,
		"certificate":             filepath.Join(certs, "localhost", "cert.pem"),
		"privateKey":              filepath.Join(certs, "localhost", "key.pem"),
		"httpPort":                mustPort(t, httpPort),
		"tlsPort":                 mustPort(t, tlsPort),
		"ocspResponderURL":        "",
		"retryAfter":              map[string]int{"authz": 1, "order": 1},
		"keyAlgorithm":            "ecdsa",
		"profiles": map[string]any{"default": map[string]any{
			"description": "short-lived, for the renewal test", "validityPeriod": int(validity / time.Second)}},
	}}
	b, _ := json.Marshal(cfg)
	cfgFile := filepath.Join(dir, "pebble.json")
	if err := os.WriteFile(cfgFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	p := &pebble{
		directory: "https://localhost:" + fmt.Sprint(mustPort(t, listen)) + "/dir",
		caFile:    filepath.Join(certs, "pebble.minica.pem"),
		log:       &lockedBuffer{},
	}
	cmd := exec.Command(bin, "-config", cfgFile, "-dnsserver", startLoopbackDNS(t))
	cmd.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0")
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		need(t, "pebble", err.Error())
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("pebble's log:\n%s", p.log.String())
		}
	})
	hc := httpsClient(t, p.caFile)
	// Pebble listens within moments; the directory answers once it does.
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := hc.Get(p.directory)
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case <-exited:
			t.Fatalf("pebble exited: %s", p.log.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("pebble's directory does not answer: %v\n%s", err, p.log.String())
		}
	}
	// The root of the chains it issues is made at start.
	resp, err := hc.Get("https://localhost:" + fmt.Sprint(mustPort(t, mgmt)) + "/roots/0")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	root, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	p.roots = x509.NewCertPool()
	if !p.roots.AppendCertsFromPEM(root) {
		t.Fatalf("pebble's root is not PEM: %q", root)
	}
	return p
}

// freePorts returns n loopback addresses with free ports.
func freePorts(t *testing.T, n int) []string {
	t.Helper()
	out := make([]string, n)
	for i := range out {
		var err error
		if out[i], err = freePort(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func mustPort(t *testing.T, addr string) int {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	fmt.Sscan(port, &n)
	return n
}

func httpsClient(t *testing.T, caFile string) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

// startLoopbackDNS serves DNS over TCP on a loopback port, answering
// every A question with 127.0.0.1 and others with no record: pebble's
// resolver, so that the service domains (conference.localhost, …)
// resolve as localhost does.
func startLoopbackDNS(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serveDNS(c)
		}
	}()
	return ln.Addr().String()
}

func serveDNS(c net.Conn) {
	defer c.Close()
	for {
		var n uint16
		if err := binary.Read(c, binary.BigEndian, &n); err != nil {
			return
		}
		q := make([]byte, n)
		if _, err := io.ReadFull(c, q); err != nil || len(q) < 12 {
			return
		}
		// The question: its name's labels, then type and class.
		end := 12
		for end < len(q) && q[end] != 0 {
			end += int(q[end]) + 1
		}
		end += 5
		if end > len(q) {
			return
		}
		qtype := binary.BigEndian.Uint16(q[end-4:])
		var r bytes.Buffer
		r.Write(q[:2])                          // ID
		r.Write([]byte{0x84, 0x00, 0x00, 0x01}) // response, authoritative; one question
		if qtype == 1 {
			r.Write([]byte{0x00, 0x01}) // one answer
		} else {
			r.Write([]byte{0x00, 0x00})
		}
		r.Write([]byte{0, 0, 0, 0})
		r.Write(q[12:end])
		if qtype == 1 {
			r.Write([]byte{0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1})
		}
		out := binary.BigEndian.AppendUint16(nil, uint16(r.Len()))
		if _, err := c.Write(append(out, r.Bytes()...)); err != nil {
			return
		}
	}
}

// acmeServer starts `parley serve` with ACME pointed at p; restart
// starts it again on the same data and configuration.
func acmeServer(t *testing.T, p *pebble, listeners, challenge string) (s *server, restart func()) {
	t.Helper()
	shared := theServer(t)
	dir := t.TempDir()
	s = &server{dir: dir, data: filepath.Join(dir, "data"), bin: shared.bin, log: &lockedBuffer{}, exited: make(chan struct{})}
	if err := addUsers(s.bin, s.data, []string{"alice"}); err != nil {
		t.Fatal(err)
	}
	yaml := fmt.Sprintf(`domains: [%s]
listeners:
%s
tls:
  acme:
    enabled: true
    directory: %q
    ca_file: %q
    challenges: [%s]
    retry_after: 1s
log:
  level: debug
`, domain, listeners, p.directory, p.caFile, challenge)
	if err := s.run(s.data, yaml, "ACME certificates from "+p.directory); err != nil {
		t.Fatalf("starting parley: %v\n%s", err, s.log.String())
	}
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("parley's log:\n%s", s.log.String())
		}
	})
	return s, func() {
		s.stop()
		if err := s.run(s.data, yaml, "ACME certificates from "+p.directory); err != nil {
			t.Fatalf("restarting parley: %v\n%s", err, s.log.String())
		}
	}
}

// pebbleCert logs alice in over direct TLS at addr, verifying the
// server's certificate against pebble's root, and returns the
// certificate; nil while the server serves another (self-signed).
func pebbleCert(t *testing.T, p *pebble, addr string) (*x509.Certificate, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Config{
		JID:       jid.MustParse(bare("alice")),
		Password:  password("alice"),
		Address:   addr,
		DirectTLS: true,
		TLS:       &tls.Config{RootCAs: p.roots},
	})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	st, ok := c.TLSConnectionState()
	if !ok || len(st.PeerCertificates) == 0 {
		t.Fatal("the client has no TLS connection state")
	}
	return st.PeerCertificates[0], nil
}

// eventuallyCert waits for a pebble-issued certificate other than prev.
func eventuallyCert(t *testing.T, p *pebble, addr string, prev *x509.Certificate, within time.Duration) *x509.Certificate {
	t.Helper()
	deadline := time.Now().Add(within)
	var last error
	for time.Now().Before(deadline) {
		leaf, err := pebbleCert(t, p, addr)
		if err == nil && (prev == nil || leaf.SerialNumber.Cmp(prev.SerialNumber) != 0) {
			return leaf
		}
		last = err
		time.Sleep(200 * time.Millisecond) // polling a separate process's renewal
	}
	t.Fatalf("no new certificate from pebble served at %s within %v (last error: %v)", addr, within, last)
	return nil
}

func TestACMETLSALPN01AndRenewal(t *testing.T) {
	ports := freePorts(t, 2)
	tlsPort, httpPort := ports[0], ports[1]
	// 15 s certificates: renewed 10 s after they were issued.
	p := startPebble(t, tlsPort, httpPort, 15*time.Second)
	s, _ := acmeServer(t, p, fmt.Sprintf("  - {type: c2s_tls, address: %q}", tlsPort), "tls-alpn-01")
	start := time.Now()
	first := eventuallyCert(t, p, tlsPort, nil, 30*time.Second)
	t.Logf("issued in %v: %v, serial %v, until %v", time.Since(start).Round(time.Millisecond), first.DNSNames, first.SerialNumber, first.NotAfter)
	for _, n := range []string{domain, "conference." + domain} {
		if !slices.Contains(first.DNSNames, n) {
			t.Errorf("the certificate does not name %s: %v", n, first.DNSNames)
		}
	}
	if !strings.Contains(s.log.String(), "answering an ACME TLS-ALPN-01 validation") {
		t.Error("the server logged no TLS-ALPN-01 validation")
	}
	pid := s.cmd.Process.Pid
	second := eventuallyCert(t, p, tlsPort, first, 30*time.Second)
	t.Logf("renewed after %v: serial %v, until %v", time.Since(start).Round(time.Millisecond), second.SerialNumber, second.NotAfter)
	if !second.NotAfter.After(first.NotAfter) {
		t.Errorf("the renewed certificate expires %v, not after the first's %v", second.NotAfter, first.NotAfter)
	}
	if s.cmd.Process.Pid != pid || strings.Count(s.log.String(), "parley: serving") != 1 {
		t.Error("the server restarted")
	}
	// Kept in the data folder: a restart serves it at once.
	if _, err := os.Stat(filepath.Join(s.data, "acme", domain+".crt")); err != nil {
		t.Errorf("the certificate is not kept: %v", err)
	}
}

func TestACMEHTTP01(t *testing.T) {
	ports := freePorts(t, 3)
	tlsPort, httpPort, directTLS := ports[0], ports[1], ports[2]
	p := startPebble(t, tlsPort, httpPort, time.Hour)
	s, restart := acmeServer(t, p, fmt.Sprintf("  - {type: c2s_tls, address: %q}\n  - {type: acme_http, address: %q}", directTLS, httpPort), "http-01")
	leaf := eventuallyCert(t, p, directTLS, nil, 30*time.Second)
	if !slices.Contains(leaf.DNSNames, domain) {
		t.Errorf("the certificate does not name %s: %v", domain, leaf.DNSNames)
	}
	if !strings.Contains(s.log.String(), "answering an ACME HTTP-01 validation") {
		t.Error("the server logged no HTTP-01 validation")
	}
	// Anything else on the acme_http listener goes to HTTPS.
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Get("http://" + httpPort + "/upload/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("plain HTTP for a domain not served: %d, want 404", resp.StatusCode)
	}
	req, _ := http.NewRequest("GET", "http://"+httpPort+"/upload/x", nil)
	req.Host = domain
	resp, err = hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusMovedPermanently || loc != "https://"+domain+"/upload/x" {
		t.Errorf("plain HTTP for %s: %d to %q, want 301 to https://%s/upload/x", domain, resp.StatusCode, loc, domain)
	}
	// After a restart the kept certificate serves from the first
	// connection on, without a new order.
	restart()
	again, err := pebbleCert(t, p, directTLS)
	if err != nil || again.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
		t.Errorf("after a restart: %v, %v (want serial %v)", again, err, leaf.SerialNumber)
	}
	if !strings.Contains(s.log.String(), "serving a kept ACME certificate") {
		t.Error("the restarted server did not load the kept certificate")
	}
}

// The https listener answers TLS-ALPN-01 as well (its ALPN is HTTP/1.1
// for browsers), and serves the issued certificate to web clients.
func TestACMETLSALPN01OnHTTPS(t *testing.T) {
	ports := freePorts(t, 2)
	httpsPort, httpPort := ports[0], ports[1]
	p := startPebble(t, httpsPort, httpPort, time.Hour)
	s, _ := acmeServer(t, p, fmt.Sprintf("  - {type: https, address: %q}", httpsPort), "tls-alpn-01")
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.roots}}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := hc.Get("https://localhost:" + fmt.Sprint(mustPort(t, httpsPort)) + "/.well-known/host-meta")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.TLS == nil || !slices.Contains(resp.TLS.PeerCertificates[0].DNSNames, "upload."+domain) {
				t.Errorf("host-meta over the issued certificate: %d %v", resp.StatusCode, resp.TLS)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no certificate from pebble served over HTTPS within 30s: %v", err)
		}
		time.Sleep(200 * time.Millisecond) // polling a separate process's issuance
	}
	if !strings.Contains(s.log.String(), "answering an ACME TLS-ALPN-01 validation") {
		t.Error("the server logged no TLS-ALPN-01 validation")
	}
}
