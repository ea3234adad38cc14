package webadmin_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/admin"
	"github.com/parley-xmpp/parley/server/admintoken"
	"github.com/parley-xmpp/parley/server/logring"
	"github.com/parley-xmpp/parley/server/webadmin"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

// env is an in-process XMPP server, its live operations, and the pages
// over them on an httptest server.
type env struct {
	xmpp   *xmpptest.Server
	ops    *admin.Ops
	tokens *admintoken.Store
	token  string
	ring   *logring.Ring
	log    *xmpptest.Buffer
	web    *httptest.Server
}

func newEnv(t *testing.T, o webadmin.Options) *env {
	t.Helper()
	s := xmpptest.NewServer(t)
	a := s.App
	e := &env{xmpp: s, tokens: admintoken.New(t.TempDir()), ring: logring.New(10), log: &xmpptest.Buffer{}}
	e.ops = admin.New(admin.Options{
		Version: "test", Started: time.Now(), Domains: a.Config().Domains,
		Sessions: a.Router().Sessions(), Route: a.Router().Route, Accounts: a.Accounts(),
		ListAccounts: a.Stores().Accounts.ListAccounts,
	})
	var err error
	if e.token, err = e.tokens.Create("ops", time.Now()); err != nil {
		t.Fatal(err)
	}
	o.Ops = func() *admin.Ops { return e.ops }
	o.Tokens, o.Recent = e.tokens, e.ring
	o.Log = slog.New(e.ring.Handler(slog.NewTextHandler(e.log, nil)))
	e.web = httptest.NewServer(webadmin.New(o))
	t.Cleanup(e.web.Close)
	return e
}

// browser is an HTTP client with a cookie jar that follows redirects.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
	csrf string // of the last page
}

func (e *env) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: e.web.URL, c: &http.Client{Jar: jar}}
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) do(req *http.Request) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if m := csrfRe.FindSubmatch(body); m != nil {
		b.csrf = string(m[1])
	}
	return resp, string(body)
}

func (b *browser) get(path string) (*http.Response, string) {
	b.t.Helper()
	req, _ := http.NewRequestWithContext(xmpptest.Context(b.t, 10*time.Second), http.MethodGet, b.base+path, nil)
	return b.do(req)
}

// post submits a form with the last page's CSRF token (unless form sets
// its own).
func (b *browser) post(path string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	if _, set := form["csrf"]; !set {
		form.Set("csrf", b.csrf)
	}
	req, _ := http.NewRequestWithContext(xmpptest.Context(b.t, 10*time.Second), http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

func (b *browser) login(token string) (*http.Response, string) {
	b.t.Helper()
	if resp, body := b.get("/admin/login"); resp.StatusCode != http.StatusOK || !strings.Contains(body, `name="token"`) {
		b.t.Fatalf("login form: %s\n%s", resp.Status, body)
	}
	return b.post("/admin/login", url.Values{"token": {token}})
}

func mustLogin(t *testing.T, e *env) *browser {
	t.Helper()
	b := e.browser(t)
	if resp, body := b.login(e.token); resp.StatusCode != http.StatusOK || !strings.Contains(body, "Overview") {
		t.Fatalf("login: %s\n%s", resp.Status, body)
	}
	return b
}

// TestLogin: a page needs a login; a wrong token is refused and logged
// (the token is not); the right one gives an HttpOnly, SameSite=Strict
// cookie and the overview; every page carries the strict CSP; logout
// ends the session; a revoked token's session ends at once.
func TestLogin(t *testing.T) {
	e := newEnv(t, webadmin.Options{})
	b := e.browser(t)
	resp, body := b.get("/admin/")
	if resp.Request.URL.Path != "/admin/login" || !strings.Contains(body, "Admin token") {
		t.Fatalf("GET /admin/ without a login: %s at %s", resp.Status, resp.Request.URL)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe") {
		t.Errorf("CSP: %q", csp)
	}
	// no-referrer would make browsers send "Origin: null" with the forms.
	if rp, xfo := resp.Header.Get("Referrer-Policy"), resp.Header.Get("X-Frame-Options"); rp != "same-origin" || xfo != "DENY" {
		t.Errorf("Referrer-Policy %q, X-Frame-Options %q", rp, xfo)
	}
	wrong := "parley_" + strings.Repeat("A", 43)
	if resp, body := b.login(wrong); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "not a valid admin token") {
		t.Errorf("a wrong token: %s\n%s", resp.Status, body)
	}
	if log := e.log.String(); !strings.Contains(log, "login with an invalid token") || strings.Contains(log, wrong) {
		t.Errorf("log of a wrong token:\n%s", log)
	}
	// The login form's own CSRF token is needed.
	if resp, _ := b.post("/admin/login", url.Values{"token": {e.token}, "csrf": {"forged"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a login without the form's token: %s", resp.Status)
	}

	b = e.browser(t)
	b.get("/admin/login")
	form := url.Values{"token": {e.token}, "csrf": {b.csrf}}
	req, _ := http.NewRequest(http.MethodPost, e.web.URL+"/admin/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	noRedirect := &http.Client{Jar: b.c.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "parley_admin" {
			cookie = c
		}
	}
	if resp.StatusCode != http.StatusSeeOther || cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Secure || len(cookie.Value) != 64 || cookie.Path != "/admin/" {
		t.Fatalf("login: %s, cookie %+v", resp.Status, cookie)
	}
	for _, p := range []string{"/admin/", "/admin/sessions", "/admin/users", "/admin/rooms", "/admin/links", "/admin/log", "/admin/announce"} {
		resp, body := b.get(p)
		if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != p || !strings.Contains(body, "Log out") || resp.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("GET %s: %s at %s", p, resp.Status, resp.Request.URL)
		}
	}
	if resp, body := b.get("/admin/static/style.css"); resp.StatusCode != http.StatusOK || !strings.Contains(body, "body {") {
		t.Errorf("style: %s", resp.Status)
	}
	if resp, _ := b.post("/admin/logout", url.Values{}); resp.Request.URL.Path != "/admin/login" {
		t.Errorf("logout: %s at %s", resp.Status, resp.Request.URL)
	}
	if resp, _ := b.get("/admin/users"); resp.Request.URL.Path != "/admin/login" {
		t.Errorf("after logout: %s at %s", resp.Status, resp.Request.URL)
	}

	// Revoking the token ends its sessions.
	b = mustLogin(t, e)
	if err := e.tokens.Revoke("ops"); err != nil {
		t.Fatal(err)
	}
	if resp, _ := b.get("/admin/users"); resp.Request.URL.Path != "/admin/login" {
		t.Errorf("after revocation: %s at %s", resp.Status, resp.Request.URL)
	}
}

// TestLoginRateLimit: after LoginFailures wrong tokens an address is
// refused, even with the right token, while another address logs in.
func TestLoginRateLimit(t *testing.T) {
	e := newEnv(t, webadmin.Options{LoginFailures: 2})
	h := e.web.Config.Handler
	try := func(addr, token string) int {
		get := httptest.NewRequest(http.MethodGet, "/admin/login", nil)
		get.RemoteAddr = addr
		w := httptest.NewRecorder()
		h.ServeHTTP(w, get)
		m := csrfRe.FindStringSubmatch(w.Body.String())
		if m == nil {
			t.Fatalf("login form: %s", w.Body)
		}
		post := httptest.NewRequest(http.MethodPost, "/admin/login", strings.NewReader(url.Values{"token": {token}, "csrf": {m[1]}}.Encode()))
		post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		post.RemoteAddr = addr
		for _, c := range w.Result().Cookies() {
			post.AddCookie(c)
		}
		w = httptest.NewRecorder()
		h.ServeHTTP(w, post)
		return w.Code
	}
	bad := "parley_wrong"
	for i, want := range []int{http.StatusUnauthorized, http.StatusUnauthorized, http.StatusTooManyRequests} {
		if got := try("192.0.2.1:1000", bad); got != want {
			t.Errorf("wrong token %d: %d, want %d", i+1, got, want)
		}
	}
	if got := try("192.0.2.1:1001", e.token); got != http.StatusTooManyRequests {
		t.Errorf("the right token from the refused address: %d", got)
	}
	if got := try("192.0.2.2:1000", e.token); got != http.StatusSeeOther {
		t.Errorf("the right token from another address: %d", got)
	}
	if !strings.Contains(e.log.String(), "too many failed logins") {
		t.Errorf("log:\n%s", e.log.String())
	}
}

// dialAvailable logs in a client and sends its initial presence.
func dialAvailable(t *testing.T, s *xmpptest.Server, user, resource string) *client.Client {
	c := s.Client(t, user, "pw", resource)
	xmpptest.Send(t, c, stanza.New(stanza.NSClient, "presence"))
	xmpptest.Sync(t, c)
	return c
}

// waitEnded waits until c's stream ends, and returns its error.
func waitEnded(t *testing.T, c *client.Client) error {
	t.Helper()
	select {
	case <-c.Done():
		return c.Err()
	case <-time.After(xmpptest.Wait):
		t.Fatalf("%s: the session did not end", c.JID())
		return nil
	}
}

// TestCSRF: a POST without the session's CSRF token, with another
// session's, or from another origin changes nothing.
func TestCSRF(t *testing.T) {
	e := newEnv(t, webadmin.Options{})
	e.xmpp.AddUser(t, "alice", "pw")
	alice := dialAvailable(t, e.xmpp, "alice", "phone")
	b := mustLogin(t, e)
	other := mustLogin(t, e)
	b.get("/admin/sessions")
	for name, csrf := range map[string]string{"none": "", "forged": strings.Repeat("0", 64), "another session's": other.csrf} {
		resp, body := b.post("/admin/sessions/kick", url.Values{"jid": {alice.JID().String()}, "csrf": {csrf}})
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "security token") {
			t.Errorf("kick with %s CSRF token: %s", name, resp.Status)
		}
	}
	kickFrom := func(origin string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, e.web.URL+"/admin/sessions/kick", strings.NewReader(url.Values{"jid": {alice.JID().String()}, "csrf": {b.csrf}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", origin)
		resp, _ := b.do(req)
		return resp
	}
	for _, origin := range []string{"https://evil.example", "null", strings.Replace(e.web.URL, "http:", "https:", 1)} {
		if resp := kickFrom(origin); resp.StatusCode != http.StatusForbidden {
			t.Errorf("kick from origin %s: %s", origin, resp.Status)
		}
	}
	// The session is still there: a stanza round trip answers.
	xmpptest.Sync(t, alice)
	// The page's own origin, with the session's token, kicks.
	if resp := kickFrom(e.web.URL); resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/admin/sessions" {
		t.Errorf("kick from the page's origin: %s at %s", resp.Status, resp.Request.URL)
	}
	waitEnded(t, alice)
	if log := e.log.String(); !strings.Contains(log, "without the session's CSRF token") || !strings.Contains(log, "from another origin") {
		t.Errorf("log:\n%s", log)
	}
}

// TestKick: the sessions page lists a real session; its kick button ends
// it with a <policy-violation/> stream error.
func TestKick(t *testing.T) {
	e := newEnv(t, webadmin.Options{})
	e.xmpp.AddUser(t, "alice", "pw")
	phone := dialAvailable(t, e.xmpp, "alice", "phone")
	pc := dialAvailable(t, e.xmpp, "alice", "pc")
	b := mustLogin(t, e)
	_, body := b.get("/admin/sessions")
	for _, j := range []string{"alice@localhost/phone", "alice@localhost/pc"} {
		if !strings.Contains(body, `<td class="jid">`+j+`</td>`) {
			t.Fatalf("sessions page without %s:\n%s", j, body)
		}
	}
	resp, body := b.post("/admin/sessions/kick", url.Values{"jid": {"alice@localhost/phone"}, "reason": {"maintenance"}})
	if resp.Request.URL.Path != "/admin/sessions" || !strings.Contains(body, "Ended 1 session(s): alice@localhost/phone") {
		t.Fatalf("kick: %s at %s\n%s", resp.Status, resp.Request.URL, body)
	}
	if err := waitEnded(t, phone); err == nil || !strings.Contains(err.Error(), "policy-violation") {
		t.Errorf("the kicked session ended with %v", err)
	}
	xmpptest.Sync(t, pc)
	if _, body := b.get("/admin/sessions"); strings.Contains(body, "alice@localhost/phone") || !strings.Contains(body, "alice@localhost/pc") {
		t.Errorf("sessions after the kick:\n%s", body)
	}
	// A bad JID is reported on the page, not a failure of the page.
	if _, body := b.post("/admin/sessions/kick", url.Values{"jid": {"localhost"}}); !strings.Contains(body, `class="flash error"`) {
		t.Errorf("kick of a domain:\n%s", body)
	}
}

// TestUsers: add, disable (ends the sessions), enable, reset the
// password (the new one logs in), delete only when confirmed.
func TestUsers(t *testing.T) {
	e := newEnv(t, webadmin.Options{})
	ctx := context.Background()
	e.xmpp.AddUser(t, "alice", "pw")
	alice := dialAvailable(t, e.xmpp, "alice", "phone")
	b := mustLogin(t, e)
	step := func(action string, form url.Values, want string) string {
		t.Helper()
		b.get("/admin/users")
		resp, body := b.post("/admin/users/"+action, form)
		if resp.Request.URL.Path != "/admin/users" || !strings.Contains(body, want) {
			t.Fatalf("%s: %s at %s, no %q\n%s", action, resp.Status, resp.Request.URL, want, body)
		}
		return body
	}
	body := step("add", url.Values{"jid": {"bob@localhost"}, "password": {"first"}}, "Added bob@localhost.")
	if !strings.Contains(body, "<h2>localhost</h2>") || !strings.Contains(body, `<td class="jid">bob@localhost</td>`) {
		t.Errorf("users page:\n%s", body)
	}
	step("disable", url.Values{"jid": {"alice@localhost"}}, "Disabled alice@localhost; ended alice@localhost/phone.")
	waitEnded(t, alice)
	cfg := e.xmpp.ClientConfig(t, "alice", "pw", "again")
	if c, err := client.Dial(xmpptest.Context(t, 10*time.Second), cfg); err == nil {
		c.Close()
		t.Error("a disabled account logged in")
	}
	step("enable", url.Values{"jid": {"alice@localhost"}}, "Enabled alice@localhost.")
	step("password", url.Values{"jid": {"alice@localhost"}, "password": {"new secret"}}, "Set a new password for alice@localhost.")
	if c, err := client.Dial(xmpptest.Context(t, 10*time.Second), cfg); err == nil {
		c.Close()
		t.Error("the old password still logs in")
	}
	e.xmpp.Client(t, "alice", "new secret", "again")
	step("delete", url.Values{"jid": {"bob@localhost"}}, "tick the confirmation box")
	if ok, err := e.xmpp.App.Stores().Accounts.AccountExists(ctx, e.xmpp.JID(t, "bob")); err != nil || !ok {
		t.Fatalf("bob after an unconfirmed delete: %v, %v", ok, err)
	}
	step("delete", url.Values{"jid": {"bob@localhost"}, "confirm": {"yes"}}, "Deleted bob@localhost.")
	if ok, err := e.xmpp.App.Stores().Accounts.AccountExists(ctx, e.xmpp.JID(t, "bob")); err != nil || ok {
		t.Fatalf("bob after delete: %v, %v", ok, err)
	}
	step("password", url.Values{"jid": {"nobody@localhost"}, "password": {"x"}}, `class="flash error"`)
}

// TestAnnounceAndLog: an announcement reaches an available session;
// the log page shows recent warnings with secrets redacted.
func TestAnnounceAndLog(t *testing.T) {
	e := newEnv(t, webadmin.Options{})
	e.xmpp.AddUser(t, "alice", "pw")
	alice := dialAvailable(t, e.xmpp, "alice", "phone")
	b := mustLogin(t, e)
	b.get("/admin/announce")
	if _, body := b.post("/admin/announce", url.Values{"text": {"restart at 18:00 <b>"}}); !strings.Contains(body, "Sent to 1 session(s).") {
		t.Fatalf("announce:\n%s", body)
	}
	m := xmpptest.NextMessage(t, alice)
	if body := m.Child(stanza.NSClient, "body"); body == nil || body.Text() != "restart at 18:00 <b>" || m.Get("type") != "headline" {
		t.Errorf("announcement: %s", m)
	}
	slog.New(e.ring.Handler(slog.DiscardHandler)).Error("storage <failed>", "password", "hunter2", "user", "alice@localhost")
	_, body := b.get("/admin/log")
	if !strings.Contains(body, "storage &lt;failed&gt;") || !strings.Contains(body, "password=[redacted]") || strings.Contains(body, "hunter2") {
		t.Errorf("log page:\n%s", body)
	}
}

// TestUnavailable: without the live operations the pages answer 503.
func TestUnavailable(t *testing.T) {
	tokens := admintoken.New(t.TempDir())
	token, err := tokens.Create("ops", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	web := httptest.NewServer(webadmin.New(webadmin.Options{Ops: func() *admin.Ops { return nil }, Tokens: tokens}))
	defer web.Close()
	e := &env{web: web, token: token}
	b := e.browser(t)
	resp, body := b.login(token)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "not running") {
		t.Errorf("overview without operations: %s\n%s", resp.Status, body)
	}
}

// TestSessionBounds: a session ends at its TTL; beyond MaxSessions a
// new login ends the oldest session.
func TestSessionBounds(t *testing.T) {
	clock := xmpptest.NewClock(time.Now())
	e := newEnv(t, webadmin.Options{SessionTTL: time.Hour, MaxSessions: 2, Now: clock.Now})
	first := mustLogin(t, e)
	clock.Step(time.Minute)
	second := mustLogin(t, e)
	clock.Step(time.Minute)
	third := mustLogin(t, e)
	for name, c := range map[string]struct {
		b    *browser
		want string
	}{"first": {first, "/admin/login"}, "second": {second, "/admin/users"}, "third": {third, "/admin/users"}} {
		if resp, _ := c.b.get("/admin/users"); resp.Request.URL.Path != c.want {
			t.Errorf("%s session: at %s, want %s", name, resp.Request.URL.Path, c.want)
		}
	}
	clock.Step(time.Hour)
	if resp, _ := third.get("/admin/users"); resp.Request.URL.Path != "/admin/login" {
		t.Errorf("a session past its TTL: at %s", resp.Request.URL.Path)
	}
}
