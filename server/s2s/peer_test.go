package s2s_test

import (
	"crypto/tls"
	"encoding/base64"
	"encoding/xml"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/internal/testca"
	"github.com/parley-xmpp/parley/server/s2s/certid"
	"github.com/parley-xmpp/parley/server/s2s/dialback"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// peer is a receiving server written for these tests: it plays the far
// end of an outgoing link on a loopback port, following its script, and
// reports what it received. It is how the tests stage peers that
// misbehave; the interop tests use real servers.
type peer struct {
	t      *testing.T
	ln     net.Listener
	domain string
	cert   tls.Certificate
	ca     *testca.CA // verifies client certificates for EXTERNAL

	// The script.
	offerTLS      bool
	offerExternal bool
	offerDialback bool
	// verifyKey decides a dialback key; nil answers invalid.
	verifyKey func(from, to, id, key string) bool
	// keyer answers <db:verify/> requests, as the authoritative server
	// of the peer's domain; nil answers invalid.
	keyer *dialback.Keyer
	// stall makes the peer accept and then say nothing.
	stall bool
	// closeAfter closes the stream after this many stanzas (0: never).
	closeAfter int

	conns    atomic.Int32
	got      chan *stanza.Element // stanzas received
	closed   chan string          // "closed by us" or "closed by peer" per connection
	authWith chan string          // the method each connection authenticated with
}

// newPeer starts a peer for domain with a certificate of ca; script sets
// its behaviour before it accepts connections.
func newPeer(t *testing.T, ca *testca.CA, domain string, script func(*peer)) *peer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{
		t: t, ln: ln, domain: domain, ca: ca, offerTLS: true,
		cert:   ca.Issue(t, domain, certidNames(domain), nil).TLS(),
		got:    make(chan *stanza.Element, 100),
		closed: make(chan string, 10), authWith: make(chan string, 10),
	}
	if script != nil {
		script(p)
	}
	go p.accept()
	t.Cleanup(func() { ln.Close() })
	return p
}

func (p *peer) addr() string { return p.ln.Addr().String() }

func (p *peer) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.conns.Add(1)
		go p.serve(c)
	}
}

func (p *peer) serve(conn net.Conn) {
	defer conn.Close()
	if p.stall {
		buf := make([]byte, 1024)
		for {
			if _, err := conn.Read(buf); err != nil {
				return
			}
		}
	}
	dec := stream.NewDecoder(conn, stream.Limits{})
	secure, authed, n := false, false, 0
	id := 0
	open := func(features string) (stream.Header, bool) {
		h, err := dec.ReadHeader()
		if err != nil {
			return h, false
		}
		id++
		hdr := stream.AppendHeader(nil, stream.Header{ContentNS: stanza.NSServer, From: p.domain, To: h.From, ID: "s" + strconv.Itoa(id), Version: "1.0",
			Attr: []stanza.Attr{{Name: xmlnsName("db"), Value: dialback.NS}}})
		hdr = append(hdr, "<stream:features>"+features+"</stream:features>"...)
		_, err = conn.Write(hdr)
		return h, err == nil
	}
	features := func() string {
		f := ""
		if !secure && p.offerTLS {
			return "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>"
		}
		if authed {
			return ""
		}
		if p.offerExternal && secure {
			f += "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>EXTERNAL</mechanism></mechanisms>"
		}
		if p.offerDialback {
			f += "<dialback xmlns='urn:xmpp:features:dialback'><errors/></dialback>"
		}
		return f
	}
	h, ok := open(features())
	if !ok {
		return
	}
	for {
		el, err := dec.Next()
		if err != nil {
			p.closed <- "closed by peer"
			return
		}
		switch {
		case el.Name.Local == "starttls":
			conn.Write([]byte("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"))
			tc := tls.Server(conn, &tls.Config{Certificates: []tls.Certificate{p.cert}, ClientAuth: tls.RequestClientCert})
			if tc.Handshake() != nil {
				return
			}
			conn, secure = tc, true
			dec.Reset(conn)
			if h, ok = open(features()); !ok {
				return
			}
		case el.Name.Local == "auth":
			tc, _ := conn.(*tls.Conn)
			authz, _ := base64.StdEncoding.DecodeString(el.Text())
			if tc == nil || len(tc.ConnectionState().PeerCertificates) == 0 || string(authz) != h.From ||
				tc.ConnectionState().PeerCertificates[0].VerifyHostname(h.From) != nil {
				conn.Write([]byte("<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/></failure>"))
				continue
			}
			conn.Write([]byte("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"))
			authed = true
			p.authWith <- "EXTERNAL"
			if h, ok = open(features()); !ok {
				return
			}
		case el.Name.Space == dialback.NS:
			m, err := dialback.Parse(el)
			if err != nil {
				return
			}
			if m.Kind == dialback.Verify { // as the authoritative server
				valid := p.keyer != nil && p.keyer.Check(m.Key, m.From, m.To, m.ID)
				conn.Write(m.Answer(valid, nil).AppendXML(nil))
				continue
			}
			valid := p.verifyKey != nil && p.verifyKey(m.From, m.To, "s"+strconv.Itoa(id), m.Key)
			conn.Write(m.Answer(valid, nil).AppendXML(nil))
			if valid {
				authed = true
				p.authWith <- "dialback"
			}
		case el.Name.Local == "message" || el.Name.Local == "presence" || el.Name.Local == "iq":
			if !authed {
				conn.Write([]byte("<stream:error><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>"))
				return
			}
			p.got <- el
			n++
			if p.closeAfter > 0 && n >= p.closeAfter {
				conn.Write([]byte(stream.Close))
				p.closed <- "closed by us"
				return
			}
		}
	}
}

// next returns the next stanza the peer received.
func (p *peer) next(t *testing.T) *stanza.Element {
	t.Helper()
	select {
	case st := <-p.got:
		return st
	case <-time.After(10 * time.Second):
		t.Fatal("the peer received nothing")
		return nil
	}
}

func (p *peer) wait(t *testing.T, ch <-chan string, what string) string {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s", what)
		return ""
	}
}

// certidNames are the names of a certificate for domain.
func certidNames(domain string) certid.Identities { return certid.Identities{DNS: []string{domain}} }

func xmlnsName(prefix string) xml.Name { return xml.Name{Space: "xmlns", Local: prefix} }
