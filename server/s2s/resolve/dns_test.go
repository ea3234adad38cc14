package resolve_test

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// dnsServer is a DNS server on a loopback UDP port answering from its
// tables, so that the tests run Go's real resolver over real DNS messages.
type dnsServer struct {
	conn net.PacketConn

	mu      sync.Mutex
	srv     map[string][]dnsmessage.SRVResource // by "_service._tcp.domain."
	a       map[string][4]byte                  // by "host."
	fail    map[string]bool                     // names answered with SERVFAIL
	queries []string
}

func newDNSServer(t *testing.T) *dnsServer {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &dnsServer{conn: pc, srv: map[string][]dnsmessage.SRVResource{}, a: map[string][4]byte{}, fail: map[string]bool{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if out := s.answer(buf[:n]); out != nil {
				pc.WriteTo(out, addr)
			}
		}
	}()
	t.Cleanup(func() { pc.Close(); <-done })
	return s
}

// resolver returns a Go resolver that asks only this server.
func (s *dnsServer) resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", s.conn.LocalAddr().String())
	}}
}

func (s *dnsServer) addSRV(name string, prio, weight, port uint16, target string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.srv[name+"."] = append(s.srv[name+"."], dnsmessage.SRVResource{Priority: prio, Weight: weight, Port: port, Target: dnsmessage.MustNewName(target + ".")})
}

// failName makes the server answer SERVFAIL for name.
func (s *dnsServer) failName(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail[name+"."] = true
}

func (s *dnsServer) addA(host string, ip [4]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.a[host+"."] = ip
}

func (s *dnsServer) answer(req []byte) []byte {
	var p dnsmessage.Parser
	h, err := p.Start(req)
	if err != nil {
		return nil
	}
	q, err := p.Question()
	if err != nil {
		return nil
	}
	name := strings.ToLower(q.Name.String())
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queries = append(s.queries, q.Type.String()+" "+name)
	resp := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RCode: dnsmessage.RCodeNameError}
	var srvs []dnsmessage.SRVResource
	var a *[4]byte
	switch {
	case s.fail[name]:
		resp.RCode = dnsmessage.RCodeServerFailure
	case q.Type == dnsmessage.TypeSRV && s.srv[name] != nil:
		resp.RCode, srvs = dnsmessage.RCodeSuccess, s.srv[name]
	case q.Type == dnsmessage.TypeA:
		if ip, ok := s.a[name]; ok {
			resp.RCode, a = dnsmessage.RCodeSuccess, &ip
		}
	case q.Type == dnsmessage.TypeAAAA:
		if _, ok := s.a[name]; ok {
			resp.RCode = dnsmessage.RCodeSuccess // the name exists, with no AAAA
		}
	}
	b := dnsmessage.NewBuilder(nil, resp)
	b.EnableCompression()
	if b.StartQuestions() != nil || b.Question(q) != nil || b.StartAnswers() != nil {
		return nil
	}
	rh := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}
	for _, r := range srvs {
		if b.SRVResource(rh, r) != nil {
			return nil
		}
	}
	if a != nil {
		if b.AResource(rh, dnsmessage.AResource{A: *a}) != nil {
			return nil
		}
	}
	out, err := b.Finish()
	if err != nil {
		return nil
	}
	return out
}
