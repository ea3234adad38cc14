package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/parley-xmpp/parley/server/app"
	"github.com/parley-xmpp/parley/server/config"
)

// testCA is a certificate authority for the tests' certificates.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	file string // its PEM file, for --ca
}

func newTestCA(t *testing.T, dir string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Parley test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(5, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, file: file}
}

// issue writes a certificate the CA signed for names, valid from an hour
// ago to notAfter, and its key; it returns the YAML list entry.
func (ca *testCA) issue(t *testing.T, dir, name string, notAfter time.Time, names ...string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: names[0]},
		DNSNames:     names,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     notAfter,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return "    - {cert: " + certFile + ", key: " + keyFile + "}\n"
}

// writeConfig writes a configuration file and returns its path.
func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "parley.yaml")
	if err := os.WriteFile(f, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// wantLines fails the test unless out holds each line (trimmed) as one
// of its own lines.
func wantLines(t *testing.T, out string, want ...string) {
	t.Helper()
	have := map[string]bool{}
	for _, l := range strings.Split(out, "\n") {
		have[strings.TrimSpace(l)] = true
	}
	for _, w := range want {
		if !have[w] {
			t.Errorf("output lacks the line %q:\n%s", w, out)
		}
	}
}

// TestCheckCerts: "parley check certs" finds, for the served domain and
// each service domain, the certificate that covers it, and tells expired
// (error), expiring within 14 days (warning), not covering a name
// (error), not trusted (warning) and sound (ok) apart.
func TestCheckCerts(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, dir)
	year := time.Now().AddDate(1, 0, 0)
	day := 24 * time.Hour
	wild := ca.issue(t, dir, "wild", year, "example.test", "*.example.test")
	bare := ca.issue(t, dir, "bare", year, "example.test")
	conf := ca.issue(t, dir, "conf", time.Now().Add(10*day+time.Hour), "conference.example.test")
	expired := ca.issue(t, dir, "expired", time.Now().Add(-day), "upload.example.test")
	selfCert, selfKey := writeCert(t, dir, "self", year, "example.test", "*.example.test")
	until := year.UTC().Format(time.DateOnly)
	listeners := "listeners:\n  - {type: c2s, address: \"127.0.0.1:0\"}\n  - {type: proxy65, address: \"127.0.0.1:0\"}\n"
	for _, tc := range []struct {
		name, certs string
		code        int
		want        []string
	}{
		{"wildcard", wild, 0, []string{
			"ok: example.test: certificate valid until " + until + " (" + filepath.Join(dir, "wild.crt") + "), 364 days left",
			"ok: conference.example.test: certificate valid until " + until + " (" + filepath.Join(dir, "wild.crt") + "), 364 days left",
			"ok: upload.example.test: certificate valid until " + until + " (" + filepath.Join(dir, "wild.crt") + "), 364 days left",
			"ok: pubsub.example.test: certificate valid until " + until + " (" + filepath.Join(dir, "wild.crt") + "), 364 days left",
			"ok: proxy.example.test: certificate valid until " + until + " (" + filepath.Join(dir, "wild.crt") + "), 364 days left",
			"all checks OK",
		}},
		{"names missing", bare, 2, []string{
			"ok: example.test: certificate valid until " + until + " (" + filepath.Join(dir, "bare.crt") + "), 364 days left",
			"error: conference.example.test: no certificate covers this name",
			"error: proxy.example.test: no certificate covers this name",
		}},
		{"one expiring, one expired", conf + expired + wild, 2, []string{
			"warning: conference.example.test: certificate expires in 10 days, on " + time.Now().Add(10*day+time.Hour).UTC().Format(time.DateOnly) + " (" + filepath.Join(dir, "conf.crt") + ")",
			"error: upload.example.test: certificate expired on " + time.Now().Add(-day).UTC().Format(time.DateOnly) + " (" + filepath.Join(dir, "expired.crt") + ")",
			"ok: pubsub.example.test: certificate valid until " + until + " (" + filepath.Join(dir, "wild.crt") + "), 364 days left",
		}},
		{"expiring only", conf + wild, 1, []string{
			"warning: conference.example.test: certificate expires in 10 days, on " + time.Now().Add(10*day+time.Hour).UTC().Format(time.DateOnly) + " (" + filepath.Join(dir, "conf.crt") + ")",
			"fix: renew it now: clients and servers refuse it once it has expired",
			"check passed with 1 warnings",
		}},
		{"not trusted", "    - {cert: " + selfCert + ", key: " + selfKey + "}\n", 1, []string{
			"warning: example.test: certificate valid until " + until + " (" + selfCert + "), but not trusted: x509: certificate signed by unknown authority",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := writeConfig(t, "domains: [example.test]\n"+listeners+"tls:\n  certificates:\n"+tc.certs)
			code, stdout, stderr := runT(t, nil, "", "check", "--config", cfg, "--data", t.TempDir(), "--ca", ca.file, "certs")
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr %q", code, tc.code, stderr)
			}
			wantLines(t, stdout, tc.want...)
		})
	}
	// Without a proxy65 listener there is no proxy. service to cover;
	// a module section renames the MUC service.
	cfg := writeConfig(t, "domains: [example.test]\nlisteners:\n  - {type: c2s, address: \"127.0.0.1:0\"}\nmodules:\n  muc: {domain_prefix: rooms}\ntls:\n  certificates:\n"+bare)
	_, stdout, _ := runT(t, nil, "", "check", "--config", cfg, "--data", t.TempDir(), "--ca", ca.file, "certs")
	wantLines(t, stdout, "error: rooms.example.test: no certificate covers this name")
	if strings.Contains(stdout, "proxy.example.test") || strings.Contains(stdout, "conference.example.test") {
		t.Errorf("names a service the configuration does not serve:\n%s", stdout)
	}
}

// dnsServer is a tiny authoritative DNS server on UDP loopback for the
// tests of "parley check dns": it answers A, AAAA and SRV queries from
// its records, NXDOMAIN for names it does not know and SERVFAIL for the
// names in fail.
type dnsServer struct {
	pc      net.PacketConn
	records map[string][]dnsmessage.Resource // by lower-case FQDN
	fail    map[string]bool
}

func startDNS(t *testing.T) *dnsServer {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &dnsServer{pc: pc, records: map[string][]dnsmessage.Resource{}, fail: map[string]bool{}}
	t.Cleanup(func() { pc.Close() })
	return s
}

func (s *dnsServer) addr() string { return s.pc.LocalAddr().String() }

func (s *dnsServer) add(name string, body dnsmessage.ResourceBody) {
	name = strings.ToLower(name) + "."
	typ := dnsmessage.TypeA
	switch body.(type) {
	case *dnsmessage.AAAAResource:
		typ = dnsmessage.TypeAAAA
	case *dnsmessage.SRVResource:
		typ = dnsmessage.TypeSRV
	}
	s.records[name] = append(s.records[name], dnsmessage.Resource{
		Header: dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName(name), Type: typ, Class: dnsmessage.ClassINET, TTL: 60},
		Body:   body,
	})
}

func (s *dnsServer) a(name, ip string) {
	addr := netip.MustParseAddr(ip)
	if addr.Is4() {
		s.add(name, &dnsmessage.AResource{A: addr.As4()})
	} else {
		s.add(name, &dnsmessage.AAAAResource{AAAA: addr.As16()})
	}
}

func (s *dnsServer) srv(service, domain string, port uint16, target string) {
	s.add("_"+service+"._tcp."+domain, &dnsmessage.SRVResource{Priority: 0, Weight: 5, Port: port, Target: dnsmessage.MustNewName(target + ".")})
}

// serve answers queries until the socket closes. Start it after the
// records are in place.
func (s *dnsServer) serve() {
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := s.pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var p dnsmessage.Parser
			h, err := p.Start(buf[:n])
			if err != nil {
				continue
			}
			q, err := p.Question()
			if err != nil {
				continue
			}
			name := strings.ToLower(q.Name.String())
			rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired, RecursionAvailable: true}
			recs, known := s.records[name]
			switch {
			case s.fail[name]:
				rh.RCode = dnsmessage.RCodeServerFailure
			case !known:
				rh.RCode = dnsmessage.RCodeNameError
			}
			b := dnsmessage.NewBuilder(nil, rh)
			b.EnableCompression()
			_ = b.StartQuestions()
			_ = b.Question(q)
			_ = b.StartAnswers()
			for _, r := range recs {
				if r.Header.Type != q.Type {
					continue
				}
				switch body := r.Body.(type) {
				case *dnsmessage.AResource:
					_ = b.AResource(r.Header, *body)
				case *dnsmessage.AAAAResource:
					_ = b.AAAAResource(r.Header, *body)
				case *dnsmessage.SRVResource:
					_ = b.SRVResource(r.Header, *body)
				}
			}
			msg, err := b.Finish()
			if err != nil {
				continue
			}
			_, _ = s.pc.WriteTo(msg, from)
		}
	}()
}

// TestCheckDNS runs "parley check dns" against a DNS server of its own
// (a real DNS exchange over UDP on loopback): records that lead to this
// machine pass, missing ones draw advice with the record to add, records
// that lead elsewhere or to a port no listener has draw warnings, and a
// domain that cannot be found at all or a failing query are errors.
func TestCheckDNS(t *testing.T) {
	dns := startDNS(t)
	// good.test: everything in place, on 127.0.0.1, which is this
	// machine's; its services under a wildcard-like set of A records.
	dns.a("good.test", "127.0.0.1")
	dns.a("xmpp.good.test", "127.0.0.1")
	dns.a("xmpp.good.test", "::1")
	dns.srv("xmpp-client", "good.test", 5222, "xmpp.good.test")
	dns.srv("xmpp-server", "good.test", 5269, "xmpp.good.test")
	for _, s := range []string{"conference", "upload", "pubsub"} {
		dns.srv("xmpp-server", s+".good.test", 5269, "xmpp.good.test")
	}
	dns.srv("xmpps-client", "good.test", 5223, "xmpp.good.test")
	// partial.test: no client SRV (the fallback to port 5222 works), a
	// direct TLS record pointing at another machine, a server record on
	// a port without a listener, services not found.
	dns.a("partial.test", "127.0.0.1")
	dns.a("elsewhere.partial.test", "192.0.2.7")
	dns.srv("xmpps-client", "partial.test", 5223, "elsewhere.partial.test")
	dns.srv("xmpp-server", "partial.test", 5999, "partial.test")
	dns.srv("xmpps-server", "partial.test", 0, "")
	// fail.test: the DNS server fails.
	dns.fail["fail.test."] = true
	dns.serve()

	listeners := "listeners:\n" +
		"  - {type: c2s, address: \"0.0.0.0:5222\"}\n" +
		"  - {type: c2s_tls, address: \"0.0.0.0:5223\"}\n" +
		"  - {type: s2s, address: \"0.0.0.0:5269\"}\n"
	check := func(domains string) (int, string) {
		t.Helper()
		cfg := writeConfig(t, "domains: ["+domains+"]\n"+listeners)
		code, stdout, stderr := runT(t, nil, "", "check", "--config", cfg, "--data", t.TempDir(), "--dns-server", dns.addr(), "--timeout", "2s", "dns")
		return code, stdout + stderr
	}
	code, out := check("good.test")
	if code != 0 {
		t.Errorf("good.test: exit %d, want 0", code)
	}
	wantLines(t, out,
		"ok: good.test: A/AAAA 127.0.0.1, this machine",
		"ok: _xmpp-client._tcp.good.test: xmpp.good.test port 5222 (127.0.0.1, ::1), this machine",
		"ok: _xmpps-client._tcp.good.test: xmpp.good.test port 5223 (127.0.0.1, ::1), this machine",
		"ok: _xmpp-server._tcp.good.test: xmpp.good.test port 5269 (127.0.0.1, ::1), this machine",
		"ok: conference.good.test: found by other servers (SRV xmpp.good.test:5269)",
		"all checks OK",
	)
	if strings.Contains(out, "xmpps-server") {
		t.Errorf("reports on _xmpps-server without an s2s_tls listener:\n%s", out)
	}

	code, out = check("partial.test")
	if code != 1 {
		t.Errorf("partial.test: exit %d, want 1", code)
	}
	wantLines(t, out,
		"note: _xmpp-client._tcp.partial.test: no SRV record; clients fall back to partial.test port 5222, which works",
		"fix: add _xmpp-client._tcp.partial.test. 3600 IN SRV 0 5 5222 partial.test.",
		"warning: _xmpps-client._tcp.partial.test: points at elsewhere.partial.test port 5223 (192.0.2.7), not this machine",
		"warning: _xmpp-server._tcp.partial.test: points at partial.test port 5999, but no s2s listener is configured on that port",
		"fix: change the record to port 5269, or add a s2s listener on port 5999",
		"warning: conference.partial.test: no _xmpp-server._tcp SRV record and no address: users of other servers cannot reach it",
		"fix: add _xmpp-server._tcp.conference.partial.test. 3600 IN SRV 0 5 5269 partial.test.",
	)

	code, out = check("missing.test, fail.test, localhost")
	if code != 2 {
		t.Errorf("missing.test: exit %d, want 2", code)
	}
	wantLines(t, out,
		"note: missing.test: no A/AAAA record (fine when SRV records lead elsewhere)",
		"warning: _xmpp-client._tcp.missing.test: no SRV record, so clients do not find the c2s listener on port 5222",
		"error: missing.test: clients cannot find this server: no usable SRV record and no A/AAAA record",
		"fix: add A/AAAA records for missing.test and _xmpp-client._tcp.missing.test. 3600 IN SRV 0 5 5222 missing.test.",
		"note: localhost: a local name, no DNS records needed",
	)
	if !strings.Contains(out, "error: fail.test: DNS query failed: lookup fail.test") {
		t.Errorf("no failed query reported:\n%s", out)
	}
}

// TestCheckConnectivity runs a real server with a listener of each kind
// on loopback ports and "parley check connectivity" against it: each
// answers with its protocol's greeting. A port where nothing listens and
// one where something else answers are errors.
func TestCheckConnectivity(t *testing.T) {
	data := t.TempDir()
	types := []config.ListenerType{config.ListenerC2S, config.ListenerC2STLS, config.ListenerS2S, config.ListenerS2STLS,
		config.ListenerHTTP, config.ListenerHTTPS, config.ListenerProxy65, config.ListenerTURN, config.ListenerTURNS, config.ListenerComponent}
	cfg := config.Default()
	cfg.DataDir = data
	cfg.Components = []config.Component{{Domain: "gateway.localhost", Secret: "s3cret"}}
	cfg.Listeners = nil
	for _, typ := range types {
		cfg.Listeners = append(cfg.Listeners, config.Listener{Type: typ, Address: "127.0.0.1:0"})
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.Open(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, nil, func(*app.App) { close(ready) }) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		a.Close()
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatal(err)
	}
	// Something that is no XMPP server, and a port nobody listens on.
	other, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	go func() {
		for {
			c, err := other.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, "SSH-2.0-OpenSSH_9.2\r\n")
			c.Close()
		}
	}()
	closed := closedPort(t)

	var yaml strings.Builder
	yaml.WriteString("domains: [localhost]\nlisteners:\n")
	addrs := map[config.ListenerType]string{}
	for _, typ := range types {
		as := a.Addrs(typ)
		if len(as) == 0 || as[0].String() != as[len(as)-1].String() {
			t.Fatalf("%s: addresses %v", typ, as)
		}
		addrs[typ] = as[0].String()
		fmt.Fprintf(&yaml, "  - {type: %s, address: %q}\n", typ, as[0].String())
	}
	cfgFile := writeConfig(t, yaml.String())
	code, stdout, stderr := runT(t, nil, "", "check", "--config", cfgFile, "--data", data, "--timeout", "5s", "connectivity")
	if code != 0 {
		t.Errorf("exit %d, want 0; stderr %q", code, stderr)
	}
	wantLines(t, stdout,
		"ok: c2s listener "+addrs[config.ListenerC2S]+": stream header answered, STARTTLS offered, STARTTLS TLS 1.3 handshake",
		"ok: c2s_tls listener "+addrs[config.ListenerC2STLS]+": TLS 1.3 handshake, stream header answered",
		"ok: s2s listener "+addrs[config.ListenerS2S]+": stream header answered, STARTTLS offered, STARTTLS TLS 1.3 handshake",
		"ok: s2s_tls listener "+addrs[config.ListenerS2STLS]+": TLS 1.3 handshake, stream header answered",
		"ok: http listener "+addrs[config.ListenerHTTP]+": HTTP answered 200 OK to GET /.well-known/host-meta",
		"ok: https listener "+addrs[config.ListenerHTTPS]+": TLS 1.3 handshake, HTTP answered 200 OK to GET /.well-known/host-meta",
		"ok: proxy65 listener "+addrs[config.ListenerProxy65]+": SOCKS5 greeting answered",
		"ok: turn listener "+addrs[config.ListenerTURN]+": STUN binding answered over UDP, STUN binding answered over TCP",
		"ok: turns listener "+addrs[config.ListenerTURNS]+": TLS 1.3 handshake, STUN binding answered over TLS",
		"ok: component listener "+addrs[config.ListenerComponent]+": stream header answered",
		"all checks OK",
	)

	cfgFile = writeConfig(t, fmt.Sprintf("domains: [localhost]\nlisteners:\n  - {type: c2s, address: %q}\n  - {type: c2s, address: %q}\n  - {type: http, address: %q}\n",
		other.Addr().String(), closed, addrs[config.ListenerC2S]))
	code, stdout, _ = runT(t, nil, "", "check", "--config", cfgFile, "--data", data, "--timeout", "5s", "connectivity")
	if code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	wantLines(t, stdout,
		"error: c2s listener "+closed+": dial tcp "+closed+": connect: connection refused",
		"fix: is the server running? (systemctl status parley) Does a firewall block port "+portOf(closed)+"?",
	)
	for _, w := range []string{
		"error: c2s listener " + other.Addr().String() + ": no stream header in answer",
		"error: http listener " + addrs[config.ListenerC2S] + ": no HTTP answer",
	} {
		if !strings.Contains(stdout, w) {
			t.Errorf("output lacks %q:\n%s", w, stdout)
		}
	}
}

// TestCheckRunsAllParts: a bare "parley check" runs the four parts in
// order; a part named alone runs alone; an unknown part is a usage error.
func TestCheckRunsAllParts(t *testing.T) {
	cfg := writeConfig(t, "domains: [localhost]\nlisteners:\n  - {type: c2s, address: \"127.0.0.1:0\"}\n")
	code, stdout, stderr := runT(t, nil, "", "check", "--config", cfg, "--data", t.TempDir())
	if code != 0 {
		t.Errorf("exit %d; stdout %q stderr %q", code, stdout, stderr)
	}
	at := 0
	for _, want := range []string{"config:\n", "certs:\n", "dns:\n", "connectivity:\n", "  note: c2s listener 127.0.0.1:0: port 0 is chosen at start, nothing to check\n", "all checks OK\n"} {
		i := strings.Index(stdout[at:], want)
		if i < 0 {
			t.Fatalf("output lacks %q after offset %d:\n%s", want, at, stdout)
		}
		at += i + len(want)
	}
	_, stdout, _ = runT(t, nil, "", "check", "--config", cfg, "dns", "--data", t.TempDir())
	if stdout != "dns:\n  note: localhost: a local name, no DNS records needed\nall checks OK\n" {
		t.Errorf("check dns alone: %q", stdout)
	}
	if code, _, stderr := runT(t, nil, "", "check", "--config", cfg, "certificates"); code != 2 || !strings.Contains(stderr, `unknown part "certificates" (known: config, certs, dns, connectivity)`) {
		t.Errorf("unknown part: exit %d, %q", code, stderr)
	}
}
