package s2s_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/internal/testca"
	"github.com/parley-xmpp/parley/server/s2s"
	"github.com/parley-xmpp/parley/server/s2s/certid"
	"github.com/parley-xmpp/parley/server/s2s/dialback"
	"github.com/parley-xmpp/parley/server/s2s/resolve"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// sink records what a listener routes: the receiving server's router,
// reduced to what the s2s package asks of it.
type sink struct {
	domains map[string]bool
	got     chan *stanza.Element
	owned   sync.Map // domains Owns reports beside the served ones
}

func newSink(domains ...string) *sink {
	s := &sink{domains: map[string]bool{}, got: make(chan *stanza.Element, 100)}
	for _, d := range domains {
		s.domains[d] = true
	}
	return s
}

func (s *sink) Route(_ context.Context, st *stanza.Element) { s.got <- st }
func (s *sink) Serves(domain string) bool                   { return s.domains[domain] }
func (s *sink) Owns(domain string) bool {
	_, owned := s.owned.Load(domain)
	return s.domains[domain] || owned
}

func (s *sink) next(t *testing.T) *stanza.Element {
	t.Helper()
	select {
	case st := <-s.got:
		return st
	case <-time.After(10 * time.Second):
		t.Fatal("nothing was routed")
		return nil
	}
}

func (s *sink) none(t *testing.T) {
	t.Helper()
	select {
	case st := <-s.got:
		t.Fatalf("routed %s", st)
	default:
	}
}

// node is one server of a federation test: a pool and a listener for
// its domain, with routes to the other nodes.
type node struct {
	domain string
	pool   *s2s.Pool
	ln     *s2s.Listener
	sink   *sink
	addr   string
	keyer  *dialback.Keyer
	routes map[string]string
}

// newNode starts a node for domain whose certificate names certName.
func newNode(t *testing.T, ca *testca.CA, domain, certName string, edit func(*s2s.Options)) *node {
	t.Helper()
	keyer, err := dialback.NewRandom()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cert := ca.Issue(t, certName, certid.Identities{DNS: []string{certName}}, nil).TLS()
	n := &node{domain: domain, sink: newSink(domain), addr: ln.Addr().String(), keyer: keyer, routes: map[string]string{}}
	o := s2s.Options{
		Certificates:   []tls.Certificate{cert},
		Roots:          ca.Pool,
		Finder:         &resolve.Finder{Routes: n.routes},
		Dialback:       keyer,
		ConnectTimeout: 5 * time.Second,
		Bounce:         func(_ context.Context, reply *stanza.Element) { n.sink.got <- reply },
	}
	if edit != nil {
		edit(&o)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.pool = s2s.NewPool(ctx, o)
	n.ln = n.pool.NewListener(s2s.InboundOptions{Router: n.sink, TLS: &tls.Config{Certificates: []tls.Certificate{cert}}, AuthTimeout: 5 * time.Second})
	done := make(chan struct{})
	go func() { defer close(done); n.ln.Serve(ctx, ln, false) }()
	t.Cleanup(func() {
		c, stop := context.WithTimeout(context.Background(), 10*time.Second)
		defer stop()
		n.pool.Close(c)
		n.ln.Close(c)
		cancel()
		<-done
	})
	return n
}

// link makes each node reach the other through its listener.
func link(a, b *node) {
	a.routes[b.domain] = b.addr
	b.routes[a.domain] = a.addr
}

func message(from, to, body string) (jid.JID, jid.JID, *stanza.Element) {
	st := stanza.NewMessage(stanza.TypeChat, to, body)
	st.Set("from", from)
	return jid.MustParse(from), jid.MustParse(to), st
}

// TestFederationExternal: two nodes with certificates for their domains
// authenticate with SASL EXTERNAL; what one sends, the other routes, in
// jabber:client.
func TestFederationExternal(t *testing.T) {
	ca := testca.New(t)
	a := newNode(t, ca, "a.example", "a.example", nil)
	b := newNode(t, ca, "b.example", "b.example", nil)
	link(a, b)
	from, to, st := message("alice@a.example/desk", "bob@b.example", "hello <b>")
	if err := a.pool.Deliver(context.Background(), from, to, st); err != nil {
		t.Fatal(err)
	}
	got := b.sink.next(t)
	if got.Get("from") != from.String() || got.Child(stanza.NSClient, "body").Text() != "hello <b>" || got.Name.Space != stanza.NSClient {
		t.Fatalf("b routed %s", got)
	}
	if l := a.pool.Links(); len(l) != 1 || l[0].Auth != "SASL EXTERNAL" {
		t.Fatalf("links %+v", l)
	}
	wantIncoming(t, b.ln, "b.example", "a.example", "SASL EXTERNAL")
	// And back, over b's own outgoing stream.
	from, to, st = message("bob@b.example/phone", "alice@a.example", "hi")
	if err := b.pool.Deliver(context.Background(), from, to, st); err != nil {
		t.Fatal(err)
	}
	if got := a.sink.next(t); got.Get("from") != from.String() {
		t.Fatalf("a routed %s", got)
	}
}

// wantIncoming checks that ln lists exactly one incoming link, from
// remote to local, authenticated with auth over TLS.
func wantIncoming(t *testing.T, ln *s2s.Listener, local, remote, auth string) {
	t.Helper()
	l := ln.Links()
	if len(l) != 1 || !l[0].Incoming || l[0].Local != local || l[0].Remote != remote || l[0].Auth != auth ||
		l[0].State != "ready" || !strings.HasPrefix(l[0].TLS, "TLS 1.") || l[0].Since.IsZero() {
		t.Fatalf("incoming links %+v", l)
	}
}

// TestFederationDialback: b's certificate does not name b.example, so it
// authenticates with dialback; a asks b's authoritative server (b's
// listener) about the key.
func TestFederationDialback(t *testing.T) {
	ca := testca.New(t)
	a := newNode(t, ca, "a.example", "a.example", nil)
	b := newNode(t, ca, "b.example", "somewhere-else.example", nil)
	link(a, b)
	from, to, st := message("bob@b.example/phone", "alice@a.example", "over dialback")
	if err := b.pool.Deliver(context.Background(), from, to, st); err != nil {
		t.Fatal(err)
	}
	if got := a.sink.next(t); got.Child(stanza.NSClient, "body").Text() != "over dialback" {
		t.Fatalf("a routed %s", got)
	}
	if l := b.pool.Links(); len(l) != 1 || l[0].Auth != "dialback" {
		t.Fatalf("links %+v", l)
	}
	wantIncoming(t, a.ln, "a.example", "b.example", "dialback")
}

// TestFederationDialbackSpoofed: a server that claims b.example but is
// not its authoritative server (its key was made with another secret)
// is refused; nothing it sends is routed.
func TestFederationDialbackSpoofed(t *testing.T) {
	ca := testca.New(t)
	a := newNode(t, ca, "a.example", "a.example", nil)
	b := newNode(t, ca, "b.example", "b.example", nil) // the real b.example, authoritative
	evil := newNode(t, ca, "b.example", "evil.example", nil)
	a.routes["b.example"] = b.addr // a asks the real b
	evil.routes["a.example"] = a.addr
	from, to, st := message("bob@b.example/phone", "alice@a.example", "spoofed")
	if err := evil.pool.Deliver(context.Background(), from, to, st); err != nil {
		t.Fatal(err)
	}
	reply := evil.sink.next(t) // the bounce of the refused link
	if e := stanza.ParseError(reply); e == nil || e.Condition != stanza.RemoteServerNotFound {
		t.Fatalf("evil's stanza came back as %s", reply)
	}
	a.sink.none(t)
}

// rawPeer speaks to a listener by hand, to misbehave.
type rawPeer struct {
	t    *testing.T
	conn net.Conn
	dec  *stream.Decoder
	hdr  stream.Header
}

func dialRaw(t *testing.T, addr string) *rawPeer {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawPeer{t: t, conn: c, dec: stream.NewDecoder(c, stream.Limits{})}
}

func (p *rawPeer) send(s string) {
	p.t.Helper()
	if _, err := p.conn.Write([]byte(s)); err != nil {
		p.t.Fatalf("write: %v", err)
	}
}

// open sends a header from from to to and reads the answer and features.
func (p *rawPeer) open(from, to string) *stanza.Element {
	p.t.Helper()
	p.send("<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' version='1.0' from='" + from + "' to='" + to + "'>")
	h, err := p.dec.ReadHeader()
	if err != nil {
		p.t.Fatalf("header: %v", err)
	}
	p.hdr = h
	return p.next()
}

func (p *rawPeer) next() *stanza.Element {
	p.t.Helper()
	el, err := p.dec.Next()
	if err != nil {
		p.t.Fatalf("read: %v", err)
	}
	return el
}

// starttls upgrades with cert as the client certificate.
func (p *rawPeer) starttls(cert tls.Certificate, from, to string) *stanza.Element {
	p.t.Helper()
	p.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
	if el := p.next(); el.Name.Local != "proceed" {
		p.t.Fatalf("starttls: %s", el)
	}
	tc := tls.Client(p.conn, &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{cert}})
	if err := tc.Handshake(); err != nil {
		p.t.Fatal(err)
	}
	p.conn = tc
	p.dec.Reset(tc)
	return p.open(from, to)
}

// secure opens a stream from b.example to a.example and upgrades it to
// TLS with cert; it returns the features of the secured stream.
func (p *rawPeer) secure(cert tls.Certificate) *stanza.Element {
	p.t.Helper()
	p.open("b.example", "a.example")
	return p.starttls(cert, "b.example", "a.example")
}

// streamError reads until the stream error and returns its condition.
func (p *rawPeer) streamError() stream.Condition {
	p.t.Helper()
	if p.hdr.ContentNS == "" {
		if _, err := p.dec.ReadHeader(); err != nil {
			p.t.Fatalf("no header before the stream error: %v", err)
		}
	}
	for {
		el, err := p.dec.Next()
		var se *stream.Error
		switch {
		case errors.As(err, &se):
			return se.Condition
		case err != nil:
			p.t.Fatalf("no stream error: %v", err)
		}
		if se := stream.ParseStreamError(el); se != nil {
			return se.Condition
		}
	}
}

// externalAs authenticates p as b.example with SASL EXTERNAL (cert
// naming it) and opens
// the stream again.
func externalAs(t *testing.T, p *rawPeer, cert tls.Certificate) {
	t.Helper()
	f := p.secure(cert)
	if !strings.Contains(f.String(), "EXTERNAL") {
		t.Fatalf("no EXTERNAL offered: %s", f)
	}
	p.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>Yi5leGFtcGxl</auth>") // b.example
	if el := p.next(); el.Name.Local != "success" {
		t.Fatalf("EXTERNAL: %s", el)
	}
	p.open("b.example", "a.example")
}

func TestIncomingBadPeers(t *testing.T) {
	ca := testca.New(t)
	a := newNode(t, ca, "a.example", "a.example", nil)
	b := newNode(t, ca, "b.example", "b.example", nil) // authoritative for b.example
	link(a, b)
	bCert := ca.Issue(t, "b.example", certid.Identities{DNS: []string{"b.example"}}, nil).TLS()
	evilCert := ca.Issue(t, "evil.example", certid.Identities{DNS: []string{"evil.example"}}, nil).TLS()

	for _, tc := range []struct {
		name string
		run  func(p *rawPeer) stream.Condition
		want stream.Condition
	}{
		{"a domain not served", func(p *rawPeer) stream.Condition {
			p.send("<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' version='1.0' from='b.example' to='nope.example'>")
			return p.streamError()
		}, stream.HostUnknown},
		{"jabber:client on the server port", func(p *rawPeer) stream.Condition {
			p.send("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0' to='a.example'>")
			return p.streamError()
		}, stream.InvalidNamespace},
		{"a stanza before authenticating", func(p *rawPeer) stream.Condition {
			p.secure(bCert)
			p.send("<message from='bob@b.example' to='alice@a.example'><body>x</body></message>")
			return p.streamError()
		}, stream.InvalidFrom},
		{"an unsolicited dialback verdict", func(p *rawPeer) stream.Condition {
			p.secure(bCert)
			p.send("<db:result from='b.example' to='a.example' type='valid'/>")
			return p.streamError()
		}, stream.NotAuthorized},
		{"a stanza from another domain than the authenticated one", func(p *rawPeer) stream.Condition {
			externalAs(t, p, bCert)
			p.send("<message from='mallory@c.example' to='alice@a.example'><body>x</body></message>")
			return p.streamError()
		}, stream.InvalidFrom},
		{"a stanza from a domain of this server (an external component's)", func(p *rawPeer) stream.Condition {
			a.sink.owned.Store("b.example", true)
			defer a.sink.owned.Delete("b.example")
			externalAs(t, p, bCert)
			p.send("<message from='gw@b.example' to='alice@a.example'><body>x</body></message>")
			return p.streamError()
		}, stream.InvalidFrom},
		{"a DOCTYPE", func(p *rawPeer) stream.Condition {
			p.open("b.example", "a.example")
			p.send("<!DOCTYPE foo [<!ENTITY x 'y'>]>")
			return p.streamError()
		}, stream.RestrictedXML},
		{"an oversized stanza", func(p *rawPeer) stream.Condition {
			p.open("b.example", "a.example")
			p.send("<message><body>" + strings.Repeat("x", s2s.DefaultMaxStanzaBytes+10) + "</body></message>")
			return p.streamError()
		}, stream.PolicyViolation},
		{"invalid UTF-8", func(p *rawPeer) stream.Condition {
			p.open("b.example", "a.example")
			p.send("<message><body>\xff\xfe</body></message>")
			return p.streamError()
		}, stream.NotWellFormed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.run(dialRaw(t, a.addr)); got != tc.want {
				t.Fatalf("stream error %s, want %s", got, tc.want)
			}
			a.sink.none(t)
		})
	}

	t.Run("EXTERNAL with a certificate for another domain", func(t *testing.T) {
		p := dialRaw(t, a.addr)
		f := p.secure(evilCert)
		if strings.Contains(f.String(), "EXTERNAL") {
			t.Fatalf("EXTERNAL offered to a certificate for another domain: %s", f)
		}
		p.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>Yi5leGFtcGxl</auth>")
		if el := p.next(); el.Name.Local != "failure" {
			t.Fatalf("EXTERNAL for b.example with evil's certificate: %s", el)
		}
	})
	t.Run("a dialback key b.example never made", func(t *testing.T) {
		p := dialRaw(t, a.addr)
		p.secure(evilCert)
		p.send("<db:result from='b.example' to='a.example'>" + strings.Repeat("ab", 32) + "</db:result>")
		el := p.next()
		m, err := dialback.Parse(el)
		if err != nil || m.Type != dialback.TypeInvalid || m.From != "a.example" || m.To != "b.example" {
			t.Fatalf("answer %s (%v), want invalid", el, err)
		}
		a.sink.none(t)
	})
	t.Run("a verification request for a stream never opened", func(t *testing.T) {
		p := dialRaw(t, a.addr)
		p.secure(evilCert)
		p.send("<db:verify from='b.example' to='a.example' id='never-issued'>" + a.keyer.Key("b.example", "a.example", "other-stream") + "</db:verify>")
		m, err := dialback.Parse(p.next())
		if err != nil || m.Kind != dialback.Verify || m.Type != dialback.TypeInvalid || m.ID != "never-issued" {
			t.Fatalf("answer %+v (%v), want invalid", m, err)
		}
	})
	t.Run("a stalling peer", func(t *testing.T) {
		p := dialRaw(t, a.addr)
		p.open("b.example", "a.example")
		// Say nothing more: the listener ends the stream at its
		// authentication deadline (5 s here).
		if got := p.streamError(); got != stream.PolicyViolation {
			t.Fatalf("stream error %s", got)
		}
	})
	// Through all this, streams that behave still work.
	from, to, st := message("bob@b.example/phone", "alice@a.example", "still fine")
	if err := b.pool.Deliver(context.Background(), from, to, st); err != nil {
		t.Fatal(err)
	}
	if got := a.sink.next(t); got.Child(stanza.NSClient, "body").Text() != "still fine" {
		t.Fatalf("a routed %s", got)
	}
}

func TestIncomingPolicy(t *testing.T) {
	ca := testca.New(t)
	a := newNode(t, ca, "a.example", "a.example", func(o *s2s.Options) {
		o.Policy = func(d string) s2s.Policy { return s2s.Policy{Deny: d == "b.example"} }
	})
	b := newNode(t, ca, "b.example", "b.example", nil)
	link(a, b)
	// A denied domain cannot connect in...
	from, to, st := message("bob@b.example/phone", "alice@a.example", "let me in")
	if err := b.pool.Deliver(context.Background(), from, to, st); err != nil {
		t.Fatal(err)
	}
	if e := stanza.ParseError(b.sink.next(t)); e == nil || e.Condition != stanza.RemoteServerNotFound {
		t.Fatalf("b's stanza to a came back as %v", e)
	}
	a.sink.none(t)
	// ...nor be reached.
	from, to, st = message("alice@a.example/desk", "bob@b.example", "hi")
	var se *stanza.Error
	if err := a.pool.Deliver(context.Background(), from, to, st); !errors.As(err, &se) || se.Condition != stanza.RemoteServerNotFound {
		t.Fatalf("Deliver to a denied domain = %v", err)
	}
}

// TestDialbackVerificationsBounded: a peer that asks for many domains at
// once on one stream, whose authoritative servers never answer, gets a
// wait error past the bound of verifications in flight instead of making
// the listener open a connection for each.
func TestDialbackVerificationsBounded(t *testing.T) {
	ca := testca.New(t)
	a := newNode(t, ca, "a.example", "a.example", nil)
	stall, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stall.Close()
	go func() { // accepts and says nothing
		for {
			c, err := stall.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	const n = 12
	for i := range n {
		a.routes["d"+strconv.Itoa(i)+".example"] = stall.Addr().String()
	}
	p := dialRaw(t, a.addr)
	p.secure(ca.Issue(t, "b.example", certid.Identities{DNS: []string{"b.example"}}, nil).TLS())
	for i := range n {
		p.send("<db:result from='d" + strconv.Itoa(i) + ".example' to='a.example'>" + strings.Repeat("ab", 32) + "</db:result>")
	}
	el := p.next() // the first answers are the refusals: the others wait
	m, err := dialback.Parse(el)
	if err != nil || m.Type != dialback.TypeError || m.Err == nil || m.Err.Condition != stanza.ResourceConstraint {
		t.Fatalf("answer %s (%v), want a resource-constraint error", el, err)
	}
	a.sink.none(t)
}
