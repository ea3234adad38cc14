package load

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	xbosh "github.com/parley-xmpp/parley/xmpp/bosh"
	"github.com/parley-xmpp/parley/xmpp/sasl"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
	"github.com/parley-xmpp/parley/xmpptest"
)

// TestCheckBOSHURL: as TestCheckWebSocketURL, with http:// and https://,
// and a config cannot have both transports.
func TestCheckBOSHURL(t *testing.T) {
	testCheckURL(t, checkBOSHURL, []string{"http://127.0.0.1:5280/http-bind", "https://localhost:5443/bosh"},
		[]string{"ws://127.0.0.1/http-bind", "http:///path", "https//x", "http://a b/"},
		func(d *Dialer, u string) { d.BOSH = u }, "ws://x/", "http://127.0.0.1:1/http-bind")
	cfg := Config{Dialer: Dialer{Domain: "localhost", BOSH: "http://127.0.0.1:1/http-bind", WebSocket: "ws://127.0.0.1:1/xmpp-websocket"}, UserFormat: "u%d", Count: 1}
	if err := cfg.validate("login"); err == nil {
		t.Error("a config with both BOSH and WebSocket validated")
	}
}

// TestBOSHBodies: the requests the generator sends are XEP-0124's and
// XEP-0206's: the creation request with hold, wait, ver and the XMPP
// version, the restart with xmpp:restart (both with the prefix xmpp,
// which ejabberd requires), the terminate, and payloads inside the
// wrapper in the order written.
func TestBOSHBodies(t *testing.T) {
	c := &boshConn{to: "a'b.example", rid: 41, sid: "s&1"}
	lim := stream.Limits{MaxStanzaBytes: boshMaxBody}
	el, err := stream.ParseElement(c.createBody(), lim)
	if err != nil {
		t.Fatal(err)
	}
	if el.Name.Space != xbosh.NSHTTPBind || el.Name.Local != "body" || el.Get("rid") != "41" || el.Get("to") != "a'b.example" ||
		el.Get("hold") != "1" || el.Get("wait") != "60" || el.Get("ver") != xbosh.Version || el.Has("sid") {
		t.Errorf("creation: %s", el)
	}
	if attrNS(el, xbosh.NSXBOSH, "version") != "1.0" || attrNS(el, stanza.NSXML, "lang") != "en" {
		t.Errorf("creation without xmpp:version='1.0' and xml:lang: %s", el)
	}
	// Servers look for the attributes by their usual prefix.
	for _, b := range [][]byte{c.createBody(), c.body(42, boshRestart, nil)} {
		if !strings.Contains(string(b), "xmlns:xmpp='"+xbosh.NSXBOSH+"'") || !strings.Contains(string(b), " xmpp:") {
			t.Errorf("no xmpp: prefix: %s", b)
		}
	}
	el, err = stream.ParseElement(c.body(42, boshRestart, nil), lim)
	if err != nil {
		t.Fatal(err)
	}
	if el.Get("rid") != "42" || el.Get("sid") != "s&1" || el.Get("to") != "a'b.example" || len(el.Elements()) != 0 ||
		attrNS(el, xbosh.NSXBOSH, "restart") != "true" {
		t.Errorf("restart: %s", el)
	}
	msgs := [][]byte{[]byte(`<message xmlns="jabber:client" to="u@x"><body>1</body></message>`), []byte(`<presence xmlns="jabber:client"/>`)}
	el, err = stream.ParseElement(c.body(43, boshTerminate, msgs), lim)
	if err != nil {
		t.Fatal(err)
	}
	kids := el.Elements()
	if el.Get("type") != "terminate" || el.Get("rid") != "43" || len(kids) != 2 || kids[0].Name.Local != "message" ||
		kids[0].Name.Space != stanza.NSClient || kids[0].ChildText(stanza.NSClient, "body") != "1" || kids[1].Name.Local != "presence" {
		t.Errorf("terminate with payloads: %s", el)
	}
}

// attrNS returns el's attribute local of namespace space.
func attrNS(el *stanza.Element, space, local string) string {
	for _, a := range el.Attr {
		if a.Name.Space == space && a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// TestBOSHDeliver: payloads are read as they came, unqualified ones as
// jabber:client's, and a terminating body ends the session with its
// condition after its payloads.
func TestBOSHDeliver(t *testing.T) {
	c := &boshConn{changed: make(chan struct{}), sid: "s", ended: false}
	body, err := stream.ParseElement([]byte(`<body xmlns="`+xbosh.NSHTTPBind+`" type="terminate" condition="policy-violation">`+
		`<message xmlns="jabber:client" id="q"/><iq id="u" type="result"><query xmlns="jabber:iq:roster"/></iq></body>`), stream.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	c.deliverLocked(body)
	c.sid = "" // nothing is sent in this test
	a, err := c.nextElement()
	if err != nil || a.Name.Space != stanza.NSClient || a.ID() != "q" {
		t.Fatalf("first: %v %v", a, err)
	}
	b, err := c.nextElement()
	if err != nil || b.Name.Space != stanza.NSClient || b.Name.Local != "iq" || b.ID() != "u" || b.Child("jabber:iq:roster", "query") == nil {
		t.Fatalf("second (unqualified): %v %v", b, err)
	}
	_, err = c.nextElement()
	var be *BOSHError
	if !errors.As(err, &be) || be.Condition != "policy-violation" {
		t.Errorf("after the payloads: %v, want the condition", err)
	}
}

// boshServer is an in-process Parley with an http listener and one
// account, and a dialer for its BOSH endpoint over http to loopback
// (where it offers SASL).
func boshServer(t *testing.T) (*xmpptest.Server, Dialer) {
	s := xmpptest.NewServer(t, func(c *config.Config) {
		c.Auth.MaxFailureDelay = 0
		c.Listeners = append(c.Listeners, config.Listener{Type: config.ListenerHTTP, Address: "127.0.0.1:0"})
	})
	s.AddUser(t, "user0", "pw")
	return s, Dialer{
		Domain:    s.Domain(),
		Mechanism: sasl.ScramSHA256,
		Keys:      NewKeyCache(),
		Resource:  "bench",
		BOSH:      "http://" + s.App.Addrs(config.ListenerHTTP)[0].String() + "/http-bind",
	}
}

// TestBOSHSession: over BOSH to a server on loopback, a session logs in
// (creation, SASL, restart, bind), gets messages it sent itself with
// SendRaw (no namespace declared: the generator's messages) and with
// Send, many at once (batched while two requests are out), in order,
// and ends with a terminate, after which the server no longer knows
// the session.
func TestBOSHSession(t *testing.T) {
	s, d := boshServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sess, err := d.Login(ctx, 0, Account{User: "user0", Password: "pw"}, LoginOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := "user0@" + s.Domain() + "/bench0"; sess.JID != want {
		t.Errorf("bound %q, want %q", sess.JID, want)
	}
	const n = 50
	for i := range n {
		if err := sess.SendRaw(appendMessage(nil, sess.Bare, stanza.TypeChat, i, time.Now())); err != nil {
			t.Fatal(err)
		}
	}
	if err := sess.Send(stanza.NewMessage(stanza.TypeChat, sess.Bare, "last")); err != nil {
		t.Fatal(err)
	}
	var bodies []string
	for len(bodies) < n+1 {
		el, err := sess.Next()
		if err != nil {
			t.Fatalf("after %d messages: %v", len(bodies), err)
		}
		if stanza.KindOf(el) == stanza.KindMessage {
			bodies = append(bodies, el.ChildText(stanza.NSClient, "body"))
		}
	}
	for i, b := range bodies[:n] {
		if _, idx, ok := parsePayload(b); !ok || idx != i {
			t.Fatalf("message %d: body %q", i, b)
		}
	}
	if bodies[n] != "last" {
		t.Errorf("last body %q", bodies[n])
	}
	bc := sess.bosh
	sid := bc.sid
	if err := sess.Close(); err != nil {
		t.Fatal(err)
	}
	// The session is gone: a request for it is answered with a terminate
	// of condition item-not-found (XEP-0124 §14.2)...
	u, err := checkBOSHURL(bc.url)
	if err != nil {
		t.Fatal(err)
	}
	c2 := &boshConn{url: bc.url, h: d.newBOSHHTTP(1, u), sid: sid}
	a := c2.post(context.Background(), c2.body(bc.rid+1, boshPlain, nil), 10*time.Second)
	if a.err != nil {
		t.Fatal(a.err)
	}
	if a.body.Get("type") != "terminate" || a.body.Get("condition") != "item-not-found" {
		t.Errorf("a request of the terminated session: %s", a.body)
	}
	// ... and the session's reads end.
	if _, err := sess.Next(); err == nil {
		t.Error("a read after Close succeeded")
	}
}

// TestBOSHLoginErrors: a URL where nothing listens, a path that is no
// BOSH endpoint, and a wrong password fail the login with an error that
// says so.
func TestBOSHLoginErrors(t *testing.T) {
	s, d := boshServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, tc := range []struct{ url, password, want string }{
		{"http://127.0.0.1:1/http-bind", "pw", "creating the BOSH session"},
		{"http://" + s.App.Addrs(config.ListenerHTTP)[0].String() + "/no-such-path", "pw", "HTTP 404"},
		{d.BOSH, "wrong", "not-authorized"},
	} {
		d.BOSH = tc.url
		_, err := d.Login(ctx, 0, Account{User: "user0", Password: tc.password}, LoginOptions{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.url, err, tc.want)
		}
	}
}

// TestBOSHRequestOrder: through a recording proxy in front of a real
// server, the requests of a login arrive in rid order, one at a time
// (ejabberd 23.01 answered neither of two requests that crossed), and a
// burst of messages after it arrives.
func TestBOSHRequestOrder(t *testing.T) {
	_, d := boshServer(t)
	target, err := url.Parse(d.BOSH)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: target.Scheme, Host: target.Host})
	var mu sync.Mutex
	var rids []uint64
	out, maxOut := 0, 0
	loggedIn := false
	rec := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Error(err)
			return
		}
		el, err := stream.ParseElement(body, stream.Limits{MaxStanzaBytes: boshMaxBody})
		if err != nil {
			t.Errorf("request %q: %v", body, err)
			return
		}
		rid, _ := strconv.ParseUint(el.Get("rid"), 10, 64)
		mu.Lock()
		rids = append(rids, rid)
		out++
		if !loggedIn {
			maxOut = max(maxOut, out)
		}
		mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		proxy.ServeHTTP(w, r)
		mu.Lock()
		out--
		mu.Unlock()
	}))
	defer rec.Close()
	d.BOSH = rec.URL + target.Path
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sess, err := d.Login(ctx, 0, Account{User: "user0", Password: "pw"}, LoginOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	loggedIn = true
	login := len(rids)
	for i := 1; i < login; i++ {
		if rids[i] != rids[i-1]+1 {
			t.Errorf("the login's rids arrived as %v", rids)
		}
	}
	if login < 6 {
		t.Errorf("the login took %d requests: %v", login, rids)
	}
	if maxOut != 1 {
		t.Errorf("%d requests out at once during the login, want 1", maxOut)
	}
	mu.Unlock()
	const n = 30
	for i := range n {
		if err := sess.SendRaw(appendMessage(nil, sess.Bare, stanza.TypeChat, i, time.Now())); err != nil {
			t.Fatal(err)
		}
	}
	for got := 0; got < n; {
		el, err := sess.Next()
		if err != nil {
			t.Fatal(err)
		}
		if stanza.KindOf(el) == stanza.KindMessage {
			got++
		}
	}
	sess.Close()
}

// TestBOSHHTTPReconnect: the BOSH client keeps its connection between
// requests, and a request on a kept connection that the server closed
// meanwhile (no byte of a response) goes out once more, the same body,
// on a new connection.
func TestBOSHHTTPReconnect(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var mu sync.Mutex
	var bodies []string
	conns := 0
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns++
			mu.Unlock()
			go func(c net.Conn) {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					b, _ := io.ReadAll(req.Body)
					mu.Lock()
					bodies = append(bodies, string(b))
					n := len(bodies)
					mu.Unlock()
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
					if n == 2 {
						return // closed after the second answer, without saying so
					}
				}
			}(c)
		}
	}()
	u, err := checkBOSHURL("http://" + ln.Addr().String() + "/http-bind")
	if err != nil {
		t.Fatal(err)
	}
	h := (&Dialer{}).newBOSHHTTP(0, u)
	defer h.close()
	for i, b := range []string{"one", "two", "three"} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		st, data, err := h.do(ctx, []byte(b), 100, nil)
		cancel()
		if err != nil || st != http.StatusOK || string(data) != "ok" {
			t.Fatalf("request %d: %d %q %v", i, st, data, err)
		}
		if i == 1 {
			time.Sleep(100 * time.Millisecond) // the server has closed the kept connection
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if conns != 2 || strings.Join(bodies, ",") != "one,two,three" {
		t.Fatalf("%d connections, bodies %q", conns, bodies)
	}
}
