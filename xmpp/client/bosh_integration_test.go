package client_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
	"github.com/parley-xmpp/parley/xmpptest"
)

// boshServer starts a server with plain and TLS HTTP listeners and
// returns it with its http:// and https:// BOSH URLs.
func boshServer(t *testing.T, opts ...xmpptest.Option) (s *xmpptest.Server, plain, secure string) {
	t.Helper()
	opts = append(opts, func(c *config.Config) {
		c.Listeners = append(c.Listeners,
			config.Listener{Type: config.ListenerHTTP, Address: "127.0.0.1:0"},
			config.Listener{Type: config.ListenerHTTPS, Address: "127.0.0.1:0"})
	})
	s = xmpptest.NewServer(t, opts...)
	return s, "http://" + s.App.Addrs(config.ListenerHTTP)[0].String() + "/http-bind",
		"https://" + s.App.Addrs(config.ListenerHTTPS)[0].String() + "/http-bind"
}

// exchange checks that a and b, logged in, exchange messages both ways.
func exchange(t *testing.T, a, b *client.Client) {
	t.Helper()
	xmpptest.Send(t, a, stanza.NewMessage(stanza.TypeChat, b.JID().String(), "from "+a.JID().Resource()))
	if got := xmpptest.NextMessage(t, b); got.ChildText(stanza.NSClient, "body") != "from "+a.JID().Resource() || got.Get("from") != a.JID().String() {
		t.Fatalf("%s got %s", b.JID(), got)
	}
	xmpptest.Send(t, b, stanza.NewMessage(stanza.TypeChat, a.JID().String(), "back to "+a.JID().Resource()))
	if got := xmpptest.NextMessage(t, a); got.ChildText(stanza.NSClient, "body") != "back to "+a.JID().Resource() || got.Get("from") != b.JID().String() {
		t.Fatalf("%s got %s", a.JID(), got)
	}
}

// TestBOSH: the client library over BOSH logs in (SASL, a stream restart,
// resource binding), exchanges messages with a TCP client, stays
// reachable while idle for longer than the session's inactivity period
// (a request is always held at the server), and its Close terminates the
// session on the server.
func TestBOSH(t *testing.T) {
	s, plain, _ := boshServer(t, func(c *config.Config) { c.Limits.BOSHInactivity = time.Second })
	s.AddUser(t, "alice", "pw")
	s.AddUser(t, "bob", "pw")
	cfg := s.ClientConfig(t, "alice", "pw", "web")
	cfg.BOSH = plain
	cfg.BOSHWait = 2 * time.Second // longer than the inactivity period; answered empty once or twice below
	alice := s.Dial(t, cfg)
	bob := s.Client(t, "bob", "pw", "desk")
	if alice.JID().String() != "alice@localhost/web" || alice.Mechanism() == "" {
		t.Fatalf("bound %s with %q", alice.JID(), alice.Mechanism())
	}
	exchange(t, alice, bob)

	time.Sleep(2500 * time.Millisecond) // idle: more than inactivity, more than wait
	xmpptest.Send(t, bob, stanza.NewMessage(stanza.TypeChat, alice.JID().String(), "after a quiet while"))
	if got := xmpptest.NextMessage(t, alice); got.ChildText(stanza.NSClient, "body") != "after a quiet while" {
		t.Fatalf("alice got %s", got)
	}
	ctx := xmpptest.Context(t, 10*time.Second)
	if _, err := alice.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", "localhost", stanza.New("urn:xmpp:ping", "ping"))); err != nil {
		t.Fatalf("ping over BOSH: %v", err)
	}
	if err := alice.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	s.WaitSessionEnded(t, alice.JID())
}

// TestBOSHTLS: over https with the configuration's TLS settings, SASL2
// with Bind 2, a FAST token, stream management and client state
// indication run over BOSH as over TCP; the FAST token then logs in
// again.
func TestBOSHTLS(t *testing.T) {
	s, _, secure := boshServer(t)
	s.AddUser(t, "alice", "pw")
	s.AddUser(t, "bob", "pw")
	cfg := s.ClientConfig(t, "alice", "pw", "")
	cfg.BOSH = secure
	cfg.SASL2, cfg.StreamManagement, cfg.RequestFastToken = true, true, true
	cfg.UserAgent = &client.UserAgent{ID: "d4565fa7-4d72-4749-b3d3-740edbf87770", Software: "parley test"}
	alice := s.Dial(t, cfg)
	bob := s.Client(t, "bob", "pw", "desk")
	if on, id := alice.StreamManagement(); !on || id == "" {
		t.Fatalf("stream management over BOSH: %v %q", on, id)
	}
	tok := alice.FastToken()
	if tok == nil {
		t.Fatal("no FAST token over BOSH")
	}
	exchange(t, alice, bob)

	// Client state indication (XEP-0352): while alice is inactive, bob's
	// presences are coalesced and held until a message with a body.
	if alice.Features().Child("urn:xmpp:csi:0", "csi") == nil {
		t.Fatalf("no CSI over BOSH: %s", alice.Features())
	}
	xmpptest.Send(t, alice, stanza.New(stanza.NSClient, "presence"))
	xmpptest.Send(t, alice, stanza.New("urn:xmpp:csi:0", "inactive"))
	xmpptest.Sync(t, alice)
	for _, status := range []string{"first", "second"} {
		xmpptest.Send(t, bob, stanza.New(stanza.NSClient, "presence", "to", alice.JID().String()).Append(stanza.New(stanza.NSClient, "status").AppendText(status)))
	}
	xmpptest.Send(t, bob, stanza.NewMessage(stanza.TypeChat, alice.JID().String(), "wake up"))
	ctx := xmpptest.Context(t, 10*time.Second)
	var got []string
	for len(got) < 2 {
		el, err := alice.Recv(ctx)
		if err != nil {
			t.Fatalf("after %v: %v", got, err)
		}
		if el.From() == bob.JID().String() { // not her own presence
			got = append(got, el.Name.Local+":"+el.ChildText(stanza.NSClient, "status")+el.ChildText(stanza.NSClient, "body"))
		}
	}
	if strings.Join(got, ",") != "presence:second,message:wake up" {
		t.Fatalf("while inactive alice got %v", got)
	}
	xmpptest.Send(t, alice, stanza.New("urn:xmpp:csi:0", "active"))
	if err := alice.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	cfg.Password, cfg.FastToken, cfg.RequestFastToken = "", tok, false
	again := s.Dial(t, cfg)
	if !strings.HasPrefix(again.Mechanism(), "HT-") {
		t.Fatalf("logged in again with %q, not FAST", again.Mechanism())
	}
	exchange(t, again, bob)

	// The TLS settings are the configuration's: a server it does not
	// trust is refused.
	cfg.TLS = nil
	if c, err := client.Dial(ctx, cfg); err == nil || !strings.Contains(err.Error(), "certificate") {
		if c != nil {
			c.Close()
		}
		t.Fatalf("dial without trusting the certificate: %v", err)
	}
}

// boshProxy is an HTTP proxy in front of a BOSH endpoint that can lose
// responses, hold requests back, and records the rids it forwards.
type boshProxy struct {
	target string
	url    string

	mu   sync.Mutex
	rids []string
	// drop, when it returns true for a response, cuts the connection
	// instead of delivering the response.
	drop func(resp []byte) bool
	gate chan struct{} // when not nil, requests wait for it to close
	// delayEmpty holds back requests without payloads this long, so that
	// the requests sent after them overtake them.
	delayEmpty time.Duration
	// rewrite, when set, changes each request body on the way.
	rewrite func(body []byte) []byte
	// empty counts the requests without payloads forwarded, creation
	// response the first response.
	empty    int
	creation []byte
	// upstream is the number of requests forwarded and not answered.
	upstream int
}

// behindProxy starts a server with the accounts alice and bob and a
// proxy in front of its BOSH endpoint; it returns alice's configuration
// through the proxy.
func behindProxy(t *testing.T, opts ...xmpptest.Option) (*xmpptest.Server, *boshProxy, client.Config) {
	s, plain, _ := boshServer(t, opts...)
	s.AddUser(t, "alice", "pw")
	s.AddUser(t, "bob", "pw")
	p := &boshProxy{target: plain}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	p.url = srv.URL + "/http-bind"
	cfg := s.ClientConfig(t, "alice", "pw", "web")
	cfg.BOSH = p.url
	return s, p, cfg
}

func (p *boshProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	p.mu.Lock()
	gate := p.gate
	p.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-r.Context().Done():
			panic(http.ErrAbortHandler)
		}
	}
	p.mu.Lock()
	delay := p.delayEmpty
	p.mu.Unlock()
	if delay > 0 && !bytes.Contains(body, []byte("</body>")) {
		time.Sleep(delay)
	}
	p.mu.Lock()
	if p.rewrite != nil {
		body = p.rewrite(body)
	}
	if el, err := stream.ParseElement(body, stream.DefaultLimits()); err == nil {
		p.rids = append(p.rids, el.Get("rid"))
		if el.Get("sid") != "" && len(el.Elements()) == 0 && len(el.Attr) == 2 { // rid, sid
			p.empty++
		}
	}
	p.mu.Unlock()
	req, _ := http.NewRequestWithContext(r.Context(), http.MethodPost, p.target, bytes.NewReader(body))
	req.Header.Set("Content-Type", r.Header.Get("Content-Type"))
	p.mu.Lock()
	p.upstream++
	p.mu.Unlock()
	resp, err := http.DefaultClient.Do(req)
	p.mu.Lock()
	p.upstream--
	p.mu.Unlock()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	p.mu.Lock()
	if p.creation == nil {
		p.creation = b
	}
	drop := p.drop != nil && p.drop(b)
	if drop {
		p.drop = nil // once
	}
	p.mu.Unlock()
	if drop {
		panic(http.ErrAbortHandler) // the response is lost on the way
	}
	w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
	w.WriteHeader(resp.StatusCode)
	w.Write(b)
}

// TestBOSHRetransmission: a response lost on the way (the connection
// breaks) is fetched again by the client with a request of the same rid
// (XEP-0124 §14.3), and the server answers it with the same response:
// the message it carried arrives exactly once.
func TestBOSHRetransmission(t *testing.T) {
	s, p, cfg := behindProxy(t)
	alice := s.Dial(t, cfg)
	bob := s.Client(t, "bob", "pw", "desk")

	p.mu.Lock()
	p.drop = func(resp []byte) bool { return bytes.Contains(resp, []byte("lost once")) }
	p.mu.Unlock()
	xmpptest.Send(t, bob, stanza.NewMessage(stanza.TypeChat, alice.JID().String(), "lost once"))
	if got := xmpptest.NextMessage(t, alice); got.ChildText(stanza.NSClient, "body") != "lost once" {
		t.Fatalf("alice got %s", got)
	}
	p.mu.Lock()
	dropped := p.drop == nil
	seen := map[string]int{}
	for _, rid := range p.rids {
		seen[rid]++
	}
	p.mu.Unlock()
	repeated := 0
	for _, n := range seen {
		if n > 1 {
			repeated++
		}
	}
	if !dropped || repeated != 1 {
		t.Fatalf("dropped %v, %d rids sent more than once: %v", dropped, repeated, seen)
	}
	// Nothing came twice, and the session goes on.
	xmpptest.Send(t, bob, stanza.NewMessage(stanza.TypeChat, alice.JID().String(), "next"))
	if got := xmpptest.NextMessage(t, alice); got.ChildText(stanza.NSClient, "body") != "next" {
		t.Fatalf("after the retransmission alice got %s", got)
	}
}

// TestBOSHInactivityEnds: when no request reaches the server for its
// inactivity period (here the network holds them back), the server ends
// the session; the client's next request names a sid the server no
// longer knows, and the stream ends with the terminal condition
// item-not-found (XEP-0124 §10, §17.2).
func TestBOSHInactivityEnds(t *testing.T) {
	s, p, cfg := behindProxy(t, func(c *config.Config) { c.Limits.BOSHInactivity = time.Second })
	cfg.BOSHWait = time.Second
	alice := s.Dial(t, cfg)

	gate := make(chan struct{})
	p.mu.Lock()
	p.gate = gate
	p.mu.Unlock()
	// The held request is answered within wait, then none reaches the
	// server: it ends the session after its inactivity period.
	s.WaitSessionEnded(t, alice.JID())
	close(gate)
	select {
	case <-alice.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the stream did not end")
	}
	var be *client.BOSHError
	if err := alice.Err(); !errors.As(err, &be) || be.Condition != "item-not-found" {
		t.Fatalf("stream ended with %v, want the BOSH condition item-not-found", err)
	}
}

// TestBOSHLostClientEnds: a client that vanishes (its connections close,
// no terminate) while the server holds its request: the server still
// answers that request at 'wait' (for a retransmission that never
// comes), and ends the session an inactivity period later.
func TestBOSHLostClientEnds(t *testing.T) {
	s, p, cfg := behindProxy(t, func(c *config.Config) { c.Limits.BOSHInactivity = time.Second })
	cfg.BOSHWait = time.Second
	alice := s.Dial(t, cfg)
	xmpptest.Eventually(t, "a request held", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.upstream > 0
	})
	alice.Abort()
	s.WaitSessionEnded(t, alice.JID())
}

// TestBOSHPolling: in a polling session (the proxy asks for hold 0 on the
// client's behalf) the client polls no more often than the server's
// 'polling' interval, which the server enforces: the session logs in,
// gets a message, and lives on.
func TestBOSHPolling(t *testing.T) {
	s, p, cfg := behindProxy(t, func(c *config.Config) { c.Limits.BOSHPolling = time.Second })
	p.rewrite = func(b []byte) []byte { return bytes.Replace(b, []byte(`hold="1"`), []byte(`hold="0"`), 1) }
	start := time.Now()
	alice := s.Dial(t, cfg)
	bob := s.Client(t, "bob", "pw", "desk")
	p.mu.Lock()
	creation := string(p.creation)
	p.mu.Unlock()
	if !strings.Contains(creation, `hold="0"`) || !strings.Contains(creation, `polling="1"`) {
		t.Fatalf("not a polling session: %s", creation)
	}
	xmpptest.Send(t, bob, stanza.NewMessage(stanza.TypeChat, alice.JID().String(), "polled"))
	if got := xmpptest.NextMessage(t, alice); got.ChildText(stanza.NSClient, "body") != "polled" {
		t.Fatalf("alice got %s", got)
	}
	time.Sleep(2 * time.Second) // a few more polls
	xmpptest.Sync(t, alice)
	p.mu.Lock()
	empty := p.empty
	p.mu.Unlock()
	if max := int(time.Since(start)/time.Second) + 1; empty > max || empty < 2 {
		t.Fatalf("%d empty requests in %v (polling 1 s)", empty, time.Since(start))
	}
	if err := alice.Err(); err != nil {
		t.Fatalf("the session ended: %v", err)
	}
	// Terminating needs no poll: the terminate request is answered when
	// the session has ended.
	closeStart := time.Now()
	if err := alice.Close(); err != nil || time.Since(closeStart) > time.Second {
		t.Fatalf("close after %v: %v", time.Since(closeStart), err)
	}
	s.WaitSessionEnded(t, alice.JID())
}

// TestBOSHOutOfOrder: when the network reorders requests (the proxy
// holds back the client's empty requests, so that the next request with
// payloads overtakes them), the server processes them in rid order and
// the client reads the responses in rid order: every message arrives,
// in order, both ways.
func TestBOSHOutOfOrder(t *testing.T) {
	s, p, cfg := behindProxy(t)
	alice := s.Dial(t, cfg)
	bob := s.Client(t, "bob", "pw", "desk")
	p.mu.Lock()
	p.delayEmpty = 300 * time.Millisecond
	p.mu.Unlock()
	for round := range 3 {
		// The answer to alice's held request makes her send an empty
		// one, held back; what she sends next overtakes it.
		xmpptest.Send(t, bob, stanza.NewMessage(stanza.TypeChat, alice.JID().String(), "ping "+strconv.Itoa(round)))
		if got := xmpptest.NextMessage(t, alice); got.ChildText(stanza.NSClient, "body") != "ping "+strconv.Itoa(round) {
			t.Fatalf("alice got %s", got)
		}
		for i := range 3 {
			xmpptest.Send(t, alice, stanza.NewMessage(stanza.TypeChat, bob.JID().String(), "m"+strconv.Itoa(round)+strconv.Itoa(i)))
		}
		for i := range 3 {
			want := "m" + strconv.Itoa(round) + strconv.Itoa(i)
			if got := xmpptest.NextMessage(t, bob); got.ChildText(stanza.NSClient, "body") != want {
				t.Fatalf("bob got %s, want %s", got, want)
			}
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	overtaken := 0
	for i := 1; i < len(p.rids); i++ {
		a, _ := strconv.ParseUint(p.rids[i-1], 10, 64)
		b, _ := strconv.ParseUint(p.rids[i], 10, 64)
		if b < a {
			overtaken++
		}
	}
	if overtaken == 0 {
		t.Fatalf("no request overtook another: %v", p.rids)
	}
	t.Logf("%d requests reached the server after a later one", overtaken)
}

// TestWebNeedsConfidentiality: XMPP over WebSocket or BOSH in the clear
// to another machine is refused before anything is sent (there is no
// STARTTLS over the web), and a URL of the wrong scheme is refused.
func TestWebNeedsConfidentiality(t *testing.T) {
	ctx := xmpptest.Context(t, 10*time.Second)
	for _, tc := range []struct {
		set  func(*client.Config)
		want string
	}{
		{func(c *client.Config) { c.BOSH = "http://192.0.2.1:5280/http-bind" }, "not confidential"},
		{func(c *client.Config) { c.BOSH = "ws://localhost:5280/http-bind" }, "not an http:// or https:// URL"},
	} {
		cfg := client.Config{JID: jid.MustParse("alice@example.org"), Password: "pw"}
		tc.set(&cfg)
		if c, err := client.Dial(ctx, cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			if c != nil {
				c.Close()
			}
			t.Errorf("%s: %v, want %q", cfg.BOSH, err, tc.want)
		}
	}
}
