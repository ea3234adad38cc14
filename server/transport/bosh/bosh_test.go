package bosh_test

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
	"github.com/parley-xmpp/parley/xmpptest"
)

const (
	nsBind  = "http://jabber.org/protocol/httpbind"
	nsXBOSH = "urn:xmpp:xbosh"
	nsSASL  = "urn:ietf:params:xml:ns:xmpp-sasl"
	nsRBind = "urn:ietf:params:xml:ns:xmpp-bind"
)

// server starts a test server with an HTTP listener and returns its
// /http-bind URL.
func server(t *testing.T, opts ...xmpptest.Option) (*xmpptest.Server, string) {
	t.Helper()
	opts = append(opts, func(c *config.Config) {
		c.Listeners = append(c.Listeners, config.Listener{Type: config.ListenerHTTP, Address: "127.0.0.1:0"})
	})
	s := xmpptest.NewServer(t, opts...)
	return s, "http://" + s.App.Addrs(config.ListenerHTTP)[0].String() + "/http-bind"
}

// post sends one request and returns the HTTP status and the <body/>.
func post(t *testing.T, url, body string) (int, *stanza.Element) {
	t.Helper()
	c := &http.Client{Timeout: 20 * time.Second}
	resp, err := c.Post(url, "text/xml; charset=utf-8", strings.NewReader(body))
	if err != nil {
		t.Fatalf("post: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	el, err := stream.ParseElement(b, stream.DefaultLimits())
	if err != nil || el.Name.Space != nsBind || el.Name.Local != "body" {
		t.Fatalf("response %q is not a <body/>: %v", b, err)
	}
	return resp.StatusCode, el
}

// session is a raw BOSH client.
type session struct {
	t   *testing.T
	url string
	sid string
	rid int
}

// create starts a session and returns the creation response.
func create(t *testing.T, url string) (*session, *stanza.Element) {
	t.Helper()
	return createHold(t, url, "1")
}

// createHold starts a session asking for hold.
func createHold(t *testing.T, url, hold string) (*session, *stanza.Element) {
	t.Helper()
	s := &session{t: t, url: url, rid: 1000}
	_, resp := post(t, url, `<body xmlns="`+nsBind+`" xmlns:xmpp="`+nsXBOSH+`" content="text/xml; charset=utf-8" hold="`+hold+`" rid="1000" to="localhost" ver="1.6" wait="5" xml:lang="en" xmpp:version="1.0"/>`)
	s.sid = resp.Get("sid")
	if s.sid == "" || resp.Get("type") == "terminate" {
		t.Fatalf("creation: %s", resp)
	}
	return s, resp
}

// body returns a request with the next rid (not sent).
func (s *session) body(attrs, payload string) (int, string) {
	s.rid++
	return s.rid, fmt.Sprintf(`<body xmlns="%s" xmlns:xmpp="%s" rid="%d" sid="%s" %s>%s</body>`, nsBind, nsXBOSH, s.rid, s.sid, attrs, payload)
}

// send sends a request with the next rid and returns the response.
func (s *session) send(attrs, payload string) *stanza.Element {
	s.t.Helper()
	_, b := s.body(attrs, payload)
	st, resp := post(s.t, s.url, b)
	if st != http.StatusOK {
		s.t.Fatalf("status %d: %s", st, resp)
	}
	return resp
}

// until sends empty requests until a payload element satisfies ok.
func (s *session) until(resp *stanza.Element, ok func(*stanza.Element) bool) *stanza.Element {
	s.t.Helper()
	for i := 0; i < 20; i++ {
		for _, el := range resp.Elements() {
			if ok(el) {
				return el
			}
		}
		if resp.Get("type") == "terminate" {
			s.t.Fatalf("terminated: %s", resp)
		}
		resp = s.send("", "")
	}
	s.t.Fatal("not received")
	return nil
}

func named(local string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool { return el.Name.Local == local }
}

// login authenticates with PLAIN, restarts and binds; it returns the JID.
func (s *session) login(user, password string) string {
	s.t.Helper()
	auth := `<auth xmlns="` + nsSASL + `" mechanism="PLAIN">` + base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00"+password)) + `</auth>`
	if el := s.until(s.send("", auth), func(el *stanza.Element) bool { return el.Name.Space == nsSASL }); el.Name.Local != "success" {
		s.t.Fatalf("auth: %s", el)
	}
	features := s.until(s.send(`xmpp:restart="true" to="localhost"`, ""), named("features"))
	if features.Child(nsRBind, "bind") == nil {
		s.t.Fatalf("features after restart: %s", features)
	}
	res := s.until(s.send("", `<iq xmlns="jabber:client" type="set" id="b1"><bind xmlns="`+nsRBind+`"><resource>bosh</resource></bind></iq>`), named("iq"))
	if res.Get("type") != "result" || res.Name.Space != stanza.NSClient {
		s.t.Fatalf("bind: %s", res)
	}
	return res.Child(nsRBind, "bind").ChildText(nsRBind, "jid")
}

// TestSession: a whole session over BOSH: creation with the stream's
// features, SASL PLAIN, restart, bind, a message to self, terminate.
func TestSession(t *testing.T) {
	s, url := server(t)
	s.AddUser(t, "alice", "secret")
	c, resp := create(t, url)
	for _, a := range []string{"wait", "requests", "inactivity", "polling", "hold", "ver", "from", "authid"} {
		if resp.Get(a) == "" {
			t.Errorf("creation response without %q: %s", a, resp)
		}
	}
	if resp.Get("from") != "localhost" || resp.Get("ver") != "1.6" || resp.Get("wait") != "5" || resp.Get("requests") != "2" || resp.Get("hold") != "1" {
		t.Errorf("creation response: %s", resp)
	}
	for a, v := range map[string]string{"version": "1.0", "restartlogic": "true"} {
		found := false
		for _, at := range resp.Attr {
			found = found || (at.Name.Space == nsXBOSH && at.Name.Local == a && at.Value == v)
		}
		if !found {
			t.Errorf("no xmpp:%s=%q: %s", a, v, resp)
		}
	}
	features := resp.Child(stanza.NSStream, "features")
	if features == nil || features.Child(nsSASL, "mechanisms") == nil {
		t.Fatalf("no features with SASL (loopback counts as confidential): %s", resp)
	}
	me := c.login("alice", "secret")
	if !strings.HasPrefix(me, "alice@localhost/") {
		t.Fatalf("bound %q", me)
	}
	msg := c.until(c.send("", `<message xmlns="jabber:client" to="`+me+`" type="chat"><body>over BOSH &lt;&amp;&gt;</body></message>`), named("message"))
	if msg.Name.Space != stanza.NSClient || msg.ChildText(stanza.NSClient, "body") != "over BOSH <&>" || msg.Get("from") != me {
		t.Fatalf("message: %s", msg)
	}
	end := c.send(`type="terminate"`, `<presence xmlns="jabber:client" type="unavailable"/>`)
	for end.Get("type") != "terminate" {
		end = c.send("", "")
	}
	// The session is gone.
	if _, resp := post(t, url, fmt.Sprintf(`<body xmlns="%s" rid="%d" sid="%s"/>`, nsBind, c.rid+1, c.sid)); resp.Get("type") != "terminate" || resp.Get("condition") != "item-not-found" {
		t.Fatalf("after terminate: %s", resp)
	}
}

// loggedIn starts a server and a session of alice's, bound.
func loggedIn(t *testing.T) (url string, c *session, me string) {
	t.Helper()
	s, url := server(t)
	s.AddUser(t, "alice", "secret")
	c, _ = create(t, url)
	return url, c, c.login("alice", "secret")
}

// TestOutOfOrder: a request ahead of a gap waits for it; both are
// answered, the payloads processed in rid order.
func TestOutOfOrder(t *testing.T) {
	url, c, me := loggedIn(t)
	_, first := c.body("", `<message xmlns="jabber:client" to="`+me+`" type="chat"><body>one</body></message>`)
	_, second := c.body("", `<message xmlns="jabber:client" to="`+me+`" type="chat"><body>two</body></message>`)
	var wg sync.WaitGroup
	var resp2 *stanza.Element
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, resp2 = post(t, url, second)
	}()
	time.Sleep(200 * time.Millisecond) // the second one arrives first
	_, resp1 := post(t, url, first)
	wg.Wait()
	var bodies []string
	resp := resp1
	for _, r := range []*stanza.Element{resp1, resp2} {
		for _, el := range r.Elements() {
			if el.Name.Local == "message" {
				bodies = append(bodies, el.ChildText(stanza.NSClient, "body"))
			}
		}
	}
	for i := 0; len(bodies) < 2 && i < 10; i++ {
		resp = c.send("", "")
		for _, el := range resp.Elements() {
			if el.Name.Local == "message" {
				bodies = append(bodies, el.ChildText(stanza.NSClient, "body"))
			}
		}
	}
	if strings.Join(bodies, ",") != "one,two" {
		t.Fatalf("messages %q", bodies)
	}
}

// TestRetransmission: a request repeated with the same rid gets the same
// response.
func TestRetransmission(t *testing.T) {
	url, c, me := loggedIn(t)
	_, b := c.body("", `<iq xmlns="jabber:client" type="get" id="p1" to="`+me+`"><ping xmlns="urn:xmpp:ping"/></iq>`)
	_, first := post(t, url, b)
	_, again := post(t, url, b)
	if first.String() != again.String() {
		t.Fatalf("retransmission differs:\n%s\n%s", first, again)
	}
	// The session goes on.
	c.until(c.send("", `<iq xmlns="jabber:client" type="get" id="p2"><ping xmlns="urn:xmpp:ping"/></iq>`), func(el *stanza.Element) bool { return el.Get("id") == "p2" })
}

// TestInactivity: a session without a request for its inactivity period
// ends.
func TestInactivity(t *testing.T) {
	_, url := server(t, func(c *config.Config) { c.Limits.BOSHInactivity = time.Second })
	c, resp := create(t, url)
	if resp.Get("inactivity") != "1" {
		t.Fatalf("inactivity: %s", resp)
	}
	time.Sleep(2500 * time.Millisecond)
	if resp := c.send("", ""); resp.Get("type") != "terminate" || resp.Get("condition") != "item-not-found" {
		t.Fatalf("after the inactivity period: %s", resp)
	}
}

// TestPause: a paused session outlives its inactivity period (§10).
func TestPause(t *testing.T) {
	_, url := server(t, func(c *config.Config) { c.Limits.BOSHInactivity = time.Second })
	c, resp := create(t, url)
	if resp.Get("maxpause") == "" {
		t.Fatalf("no maxpause: %s", resp)
	}
	start := time.Now()
	if resp := c.send(`pause="4"`, ""); resp.Get("type") == "terminate" {
		t.Fatalf("pause: %s", resp)
	}
	if time.Since(start) > 2*time.Second {
		t.Fatal("the pause request was held")
	}
	time.Sleep(2500 * time.Millisecond)
	if resp := c.send(`hold="1"`, ""); resp.Get("type") == "terminate" {
		t.Fatalf("after a pause longer than the inactivity period: %s", resp)
	}
}

// TestRefusals: unknown sid, rid outside the window, an oversized body,
// a DOCTYPE and a malformed body; a session of the same server keeps
// working meanwhile.
func TestRefusals(t *testing.T) {
	s, url := server(t)
	s.AddUser(t, "bob", "secret")
	good, _ := create(t, url)
	good.login("bob", "secret")
	alive := func() {
		t.Helper()
		id := "ping" + strconv.Itoa(good.rid)
		good.until(good.send("", `<iq xmlns="jabber:client" type="get" id="`+id+`"><ping xmlns="urn:xmpp:ping"/></iq>`), func(el *stanza.Element) bool { return el.Get("id") == id })
	}
	check := func(name string, resp *stanza.Element, condition string) {
		t.Helper()
		if resp.Get("type") != "terminate" || resp.Get("condition") != condition {
			t.Errorf("%s: %s", name, resp)
		}
		alive()
	}
	_, resp := post(t, url, `<body xmlns="`+nsBind+`" rid="5" sid="no-such-session"/>`)
	check("unknown sid", resp, "item-not-found")

	bad, _ := create(t, url)
	_, resp = post(t, url, fmt.Sprintf(`<body xmlns="%s" rid="%d" sid="%s"/>`, nsBind, bad.rid+10, bad.sid))
	check("rid outside the window", resp, "item-not-found")
	if _, resp := post(t, url, fmt.Sprintf(`<body xmlns="%s" rid="%d" sid="%s"/>`, nsBind, bad.rid+1, bad.sid)); resp.Get("condition") != "item-not-found" {
		t.Errorf("the session survived a rid outside the window: %s", resp)
	}

	big, _ := create(t, url)
	_, b := big.body("", `<message xmlns="jabber:client"><body>`+strings.Repeat("x", 2<<20)+`</body></message>`)
	_, resp = post(t, url, b)
	check("oversized body", resp, "bad-request")

	dt, _ := create(t, url)
	_, b = dt.body("", "")
	_, resp = post(t, url, `<!DOCTYPE body [<!ENTITY x "y">]>`+b)
	check("DOCTYPE", resp, "bad-request")

	_, resp = post(t, url, `<body xmlns="`+nsBind+`" rid="1"><unclosed></body>`)
	check("malformed body", resp, "bad-request")

	_, resp = post(t, url, `<body xmlns="`+nsBind+`" rid="1" xmpp:version="1.0" xmlns:xmpp="`+nsXBOSH+`"/>`)
	check("creation without to", resp, "improper-addressing")

	_, resp = post(t, url, `<body xmlns="`+nsBind+`" rid="1" to="elsewhere.example" ver="1.6" wait="5" hold="1" xmpp:version="1.0" xmlns:xmpp="`+nsXBOSH+`"/>`)
	if se := resp.Child(stanza.NSStream, "error"); se == nil || se.Child("urn:ietf:params:xml:ns:xmpp-streams", "host-unknown") == nil {
		t.Errorf("creation for a domain not served: %s", resp)
	}
	check("creation for a domain not served", resp, "remote-stream-error")
}

// TestCORS: the preflight of a page of another origin is answered.
func TestCORS(t *testing.T) {
	_, url := server(t)
	req, _ := http.NewRequest(http.MethodOptions, url, nil)
	req.Header.Set("Origin", "https://example.net")
	req.Header.Set("Access-Control-Request-Method", "POST")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 || resp.Header.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST") {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
}

// TestResumeAfterInactivity: a stream-managed session whose BOSH session
// ended for inactivity is a lost connection, not a closed stream: a new
// BOSH session resumes it (XEP-0198) and gets what was sent meanwhile.
func TestResumeAfterInactivity(t *testing.T) {
	s, url := server(t, func(c *config.Config) { c.Limits.BOSHInactivity = time.Second })
	s.AddUser(t, "alice", "secret")
	s.AddUser(t, "bob", "secret")
	c, _ := create(t, url)
	me := c.login("alice", "secret")
	enabled := c.until(c.send("", `<enable xmlns="urn:xmpp:sm:3" resume="true"/>`), named("enabled"))
	if enabled.Get("id") == "" {
		t.Fatalf("enable: %s", enabled)
	}
	time.Sleep(2500 * time.Millisecond) // no request: the BOSH session ends

	bob := s.Client(t, "bob", "secret", "desk")
	xmpptest.Send(t, bob, stanza.NewMessage(stanza.TypeChat, me, "while you were away"))
	xmpptest.Sync(t, bob)

	c2, _ := create(t, url)
	auth := `<auth xmlns="` + nsSASL + `" mechanism="PLAIN">` + base64.StdEncoding.EncodeToString([]byte("\x00alice\x00secret")) + `</auth>`
	c2.until(c2.send("", auth), named("success"))
	c2.until(c2.send(`xmpp:restart="true" to="localhost"`, ""), named("features"))
	resp := c2.send("", `<resume xmlns="urn:xmpp:sm:3" h="0" previd="`+enabled.Get("id")+`"/>`)
	c2.until(resp, named("resumed"))
	msg := c2.until(resp, named("message"))
	if msg.ChildText(stanza.NSClient, "body") != "while you were away" || msg.Get("to") != me {
		t.Fatalf("after resumption: %s", msg)
	}
}

// TestEndlessChunkedBody: a request whose chunked body never ends is cut
// at the body limit (the largest element plus the wrapper) with the
// terminal condition bad-request, and the server closes the connection;
// a logged-in session of the same server keeps working meanwhile.
func TestEndlessChunkedBody(t *testing.T) {
	s, url := server(t)
	s.AddUser(t, "bob", "secret")
	good, _ := create(t, url)
	good.login("bob", "secret")

	resp, b := xmpptest.EndlessBody(t, http.MethodPost, url, map[string]string{"Content-Type": "text/xml; charset=utf-8"}, "<body ")
	el, err := stream.ParseElement(b, stream.DefaultLimits())
	if err != nil || resp.StatusCode != http.StatusOK || el.Get("type") != "terminate" || el.Get("condition") != "bad-request" || !resp.Close {
		t.Fatalf("response %d %q, close %v", resp.StatusCode, b, resp.Close)
	}
	id := "after-flood"
	good.until(good.send("", `<iq xmlns="jabber:client" type="get" id="`+id+`"><ping xmlns="urn:xmpp:ping"/></iq>`), func(el *stanza.Element) bool { return el.Get("id") == id })
}

// TestPolling: the polling interval is enforced (XEP-0124 §11, §12). An
// empty request while the previous one is still held, sooner than
// 'polling' after it, ends the session with policy-violation, as does,
// in a polling session (hold 0), an empty request sooner than 'polling'
// after an empty one answered without payloads; the same requests
// 'polling' apart, or after a request with payloads, are fine.
func TestPolling(t *testing.T) {
	_, url := server(t, func(c *config.Config) { c.Limits.BOSHPolling = time.Second })
	violation := func(resp *stanza.Element) bool {
		return resp.Get("type") == "terminate" && resp.Get("condition") == "policy-violation"
	}
	gone := func(c *session) bool {
		_, resp := post(t, url, fmt.Sprintf(`<body xmlns="%s" rid="%d" sid="%s"/>`, nsBind, c.rid+1, c.sid))
		return resp.Get("condition") == "item-not-found"
	}

	// §11: hold 1, the held request and an empty one at once.
	c, resp := create(t, url)
	if resp.Get("polling") != "1" {
		t.Fatalf("polling: %s", resp)
	}
	_, held := c.body("", "")
	heldResp := make(chan *stanza.Element, 1)
	go func() {
		_, r := post(t, url, held)
		heldResp <- r
	}()
	if resp := c.send("", ""); !violation(resp) {
		t.Fatalf("an empty request while one is held: %s", resp)
	}
	if r := <-heldResp; !violation(r) || !gone(c) {
		t.Fatalf("the held request: %s", r)
	}

	// ... 'polling' apart: the held one is answered, the session lives.
	c, _ = create(t, url)
	_, held = c.body("", "")
	go func() {
		_, r := post(t, url, held)
		heldResp <- r
	}()
	time.Sleep(1200 * time.Millisecond)
	next := make(chan *stanza.Element, 1)
	go func() { next <- c.send("", "") }()
	if r := <-heldResp; r.Get("type") != "" {
		t.Fatalf("the held request after an empty one a polling interval later: %s", r)
	}
	c.send(`pause="1"`, "") // answers the one held
	if r := <-next; r.Get("type") != "" {
		t.Fatalf("an empty request a polling interval after the held one: %s", r)
	}

	// §12: a polling session.
	c, resp = createHold(t, url, "0")
	if resp.Get("hold") != "0" {
		t.Fatalf("hold: %s", resp)
	}
	if resp := c.send("", ""); resp.Get("type") != "" || len(resp.Elements()) != 0 {
		t.Fatalf("the first poll: %s", resp)
	}
	if resp := c.send("", ""); !violation(resp) || !gone(c) {
		t.Fatalf("polling too often: %s", resp)
	}

	c, _ = createHold(t, url, "0")
	c.send("", "")
	time.Sleep(1200 * time.Millisecond)
	if resp := c.send("", ""); resp.Get("type") != "" {
		t.Fatalf("polling at the interval: %s", resp)
	}
	c.send("", `<auth xmlns="`+nsSASL+`" mechanism="NO-SUCH"/>`) // a payload: answered with a SASL failure
	if resp := c.send("", ""); resp.Get("type") != "" {
		t.Fatalf("an empty request right after one with a payload: %s", resp)
	}
	// A terminate request is held, even with hold 0, and acknowledges
	// the end (§13).
	if resp := c.send(`type="terminate"`, ""); resp.Get("type") != "terminate" || resp.Get("condition") != "" {
		t.Fatalf("terminating a polling session: %s", resp)
	}
}

// TestIdleSessionParks: the reader of a bound session with nothing to
// read parks (no goroutine) after park_after, and a request wakes it:
// its payload is handled and answered as before, again after a second
// park.
func TestIdleSessionParks(t *testing.T) {
	s, url := server(t, func(c *config.Config) { c.Limits.ParkAfter = 100 * time.Millisecond })
	s.AddUser(t, "alice", "secret")
	c, _ := create(t, url)
	me := c.login("alice", "secret")
	for i := 1; i <= 2; i++ {
		before := s.App.Parks()
		xmpptest.Eventually(t, "the idle session's reader parks", func() bool { return s.App.Parks() > before })
		text := fmt.Sprintf("after park %d", i)
		msg := c.until(c.send("", `<message xmlns="jabber:client" to="`+me+`" type="chat"><body>`+text+`</body></message>`), named("message"))
		if msg.ChildText(stanza.NSClient, "body") != text {
			t.Fatalf("message: %s", msg)
		}
	}
}

// TestConnectionReuse: the requests of a session and other requests
// share one keep-alive connection: a BOSH request's connection, once
// answered, goes back to the HTTP server for whatever comes next, also
// when it was sent right behind the BOSH request (pipelined).
func TestConnectionReuse(t *testing.T) {
	_, url := server(t)
	u := strings.TrimPrefix(url, "http://")
	host, _, _ := strings.Cut(u, "/")
	conn, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(conn)
	post := func(body string) string {
		return fmt.Sprintf("POST /http-bind HTTP/1.1\r\nHost: %s\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: %d\r\n\r\n%s", host, len(body), body)
	}
	get := "GET /.well-known/host-meta.json HTTP/1.1\r\nHost: " + host + "\r\n\r\n"
	read := func(what string) (*http.Response, string) {
		t.Helper()
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	bosh := func(what string) *stanza.Element {
		t.Helper()
		resp, b := read(what)
		el, err := stream.ParseElement([]byte(b), stream.DefaultLimits())
		if err != nil || resp.StatusCode != http.StatusOK || el.Name.Local != "body" || resp.Header.Get("Access-Control-Allow-Origin") != "*" ||
			resp.Header.Get("Content-Type") != "text/xml; charset=utf-8" || resp.Close {
			t.Fatalf("%s: %s %v %q", what, resp.Status, resp.Header, b)
		}
		return el
	}
	io.WriteString(conn, post(`<body xmlns="`+nsBind+`" xmlns:xmpp="`+nsXBOSH+`" hold="1" rid="10" to="localhost" ver="1.6" wait="1" xmpp:version="1.0"/>`))
	sid := bosh("creation").Get("sid")
	if sid == "" {
		t.Fatal("no sid")
	}
	io.WriteString(conn, get)
	if resp, b := read("host-meta after a BOSH request"); resp.StatusCode != http.StatusOK || !strings.Contains(b, "http-bind") {
		t.Fatalf("host-meta after a BOSH request: %s %q", resp.Status, b)
	}
	// A held request (answered empty at 'wait', after a second) with a
	// discovery request right behind it.
	start := time.Now()
	io.WriteString(conn, post(fmt.Sprintf(`<body xmlns="%s" rid="11" sid="%s"/>`, nsBind, sid))+get)
	if el := bosh("held request"); el.Get("type") != "" || len(el.Elements()) != 0 || time.Since(start) < time.Second {
		t.Fatalf("held request: %s", el)
	}
	if resp, b := read("pipelined host-meta"); resp.StatusCode != http.StatusOK || !strings.Contains(b, "http-bind") {
		t.Fatalf("pipelined host-meta: %s %q", resp.Status, b)
	}
	io.WriteString(conn, post(fmt.Sprintf(`<body xmlns="%s" rid="12" sid="%s"/>`, nsBind, sid)))
	bosh("the next request")
	// A client that asks for the connection to close after the response
	// gets it closed.
	req := strings.Replace(post(fmt.Sprintf(`<body xmlns="%s" rid="13" sid="%s" type="terminate"/>`, nsBind, sid)), "\r\n\r\n", "\r\nConnection: close\r\n\r\n", 1)
	io.WriteString(conn, req)
	resp, b := read("terminate")
	if el, err := stream.ParseElement([]byte(b), stream.DefaultLimits()); err != nil || el.Get("type") != "terminate" || !resp.Close {
		t.Fatalf("terminate: %q, close %v", b, resp.Close)
	}
	if n, err := br.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("after Connection: close, read %d %v", n, err)
	}
}
