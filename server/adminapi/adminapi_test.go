package adminapi_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/adminapi"
	"github.com/parley-xmpp/parley/server/admintoken"
	"github.com/parley-xmpp/parley/server/app"
	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/loglevel"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
	"github.com/parley-xmpp/parley/xmpptest"
)

// apiServer is a running server with the admin API and a token for it.
type apiServer struct {
	*xmpptest.Server
	base, token string
	log         *xmpptest.Buffer
}

// startAPI starts a server with live administration (log levels that
// change, a reload that re-reads a copy of the configuration with one
// hot limit changed) and its admin listener on a random port, and makes a
// token.
func startAPI(t *testing.T) *apiServer {
	t.Helper()
	s := &apiServer{log: &xmpptest.Buffer{}}
	load := func() (*config.Config, error) {
		c := *s.Config
		c.Limits.MaxStanzaBytes++
		return &c, nil
	}
	logger := slog.New(slog.NewTextHandler(s.log, &slog.HandlerOptions{Level: slog.LevelInfo}))
	s.Server = xmpptest.NewServerWithAdmin(t, logger, app.AdminOptions{Version: "test", Levels: loglevel.New(slog.LevelInfo), Load: load})
	s.base = "http://" + s.App.Addrs(config.ListenerAdmin)[0].String()
	token, err := admintoken.New(s.Config.DataDir).Create("test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s.token = token
	return s
}

// call sends method path with the token and body (JSON unless
// contentType says otherwise; none when body is nil) and returns the
// status and the response body.
func (s *apiServer) call(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	return s.send(t, method, path, s.token, "application/json", body)
}

func (s *apiServer) send(t *testing.T, method, path, token, contentType, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(xmpptest.Context(t, 10*time.Second), method, s.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	if resp.StatusCode != http.StatusNoContent && resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("%s %s: Content-Type %q, want application/json", method, path, resp.Header.Get("Content-Type"))
	}
	return resp.StatusCode, string(b)
}

// want checks the status and that the body holds each of parts.
func want(t *testing.T, what string, code int, body string, status int, parts ...string) {
	t.Helper()
	if code != status {
		t.Errorf("%s: %d %s, want %d", what, code, body, status)
		return
	}
	for _, p := range parts {
		if !strings.Contains(body, p) {
			t.Errorf("%s: body %s lacks %s", what, body, p)
		}
	}
}

// ended waits for c's stream to end and returns its stream error.
func ended(t *testing.T, c *client.Client) *stream.Error {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(xmpptest.Wait):
		t.Fatalf("%s: the session did not end", c.JID())
	}
	var se *stream.Error
	if !errors.As(c.Err(), &se) {
		t.Fatalf("%s ended with %v, not a stream error", c.JID(), c.Err())
	}
	return se
}

// login tries a login and reports whether it succeeded.
func login(t *testing.T, s *apiServer, local, password, resource string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, s.ClientConfig(t, local, password, resource))
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// path turns a route into a request path (its {jid} a user's JID).
func path(route string) (method, p string) {
	method, p, _ = strings.Cut(route, " ")
	return method, strings.ReplaceAll(p, "{jid}", "alice@localhost")
}

// TestWithoutToken: every endpoint answers 401 with a Bearer challenge to
// a request without a token or with a wrong one, and does nothing.
func TestWithoutToken(t *testing.T) {
	s := startAPI(t)
	s.AddUser(t, "alice", "pw")
	for _, route := range adminapi.Routes {
		method, p := path(route)
		for _, token := range []string{"", admintoken.Prefix + "wrong"} {
			code, body := s.send(t, method, p, token, "application/json", `{"jid":"alice@localhost","password":"x","text":"x"}`)
			want(t, route+" without a valid token", code, body, http.StatusUnauthorized, `"error"`)
		}
	}
	if !login(t, s, "alice", "pw", "r") {
		t.Error("alice cannot log in after the refused requests")
	}
}

// TestEndpoints runs every endpoint against a live server: accounts are
// made, listed, changed, disabled, enabled and deleted, with the effect
// on logins and live sessions checked over XMPP; sessions, status,
// announcements, kicks, rooms, links, log levels and reload answer what
// the server holds. Bad requests get the documented codes. Every request
// is logged, and no password is.
func TestEndpoints(t *testing.T) {
	s := startAPI(t)
	ctx := context.Background()

	code, body := s.call(t, "POST", "/api/users", `{"jid":"alice@localhost","password":"first-secret"}`)
	want(t, "add alice", code, body, http.StatusCreated, `"jid":"alice@localhost"`)
	code, body = s.call(t, "POST", "/api/users", `{"jid":"Carol@LocalHost","password":"x"}`)
	want(t, "add carol, normalised", code, body, http.StatusCreated, `"jid":"carol@localhost"`)
	code, body = s.call(t, "DELETE", "/api/users/carol@localhost", "")
	want(t, "delete carol", code, body, http.StatusOK, `{"ended":[]}`)
	code, body = s.call(t, "POST", "/api/users", `{"jid":"alice@localhost","password":"first-secret"}`)
	want(t, "add alice again", code, body, http.StatusConflict, `"error":"exists"`)
	code, body = s.call(t, "POST", "/api/users", `{"jid":"bob@elsewhere.example","password":"x"}`)
	want(t, "add on another domain", code, body, http.StatusBadRequest, `"error":"invalid"`)
	code, body = s.call(t, "POST", "/api/users", `{"jid":"bob@localhost","password":"x","admin":true}`)
	want(t, "an unknown field", code, body, http.StatusBadRequest, `"error":"invalid"`)
	code, body = s.call(t, "POST", "/api/users", `{"jid":"bob@localhost"`)
	want(t, "truncated JSON", code, body, http.StatusBadRequest, `"error":"invalid"`)
	code, body = s.call(t, "POST", "/api/users", `{"jid":"bob@localhost","password":"x"} {}`)
	want(t, "two JSON values", code, body, http.StatusBadRequest, `"error":"invalid"`)
	code, body = s.send(t, "POST", "/api/users", s.token, "text/plain", `{"jid":"bob@localhost","password":"x"}`)
	want(t, "text/plain", code, body, http.StatusUnsupportedMediaType, `"error":"unsupported_media_type"`)
	code, body = s.call(t, "POST", "/api/announce", `{"text":"`+strings.Repeat("x", adminapi.DefaultMaxBody)+`"}`)
	want(t, "a body over the limit", code, body, http.StatusRequestEntityTooLarge, `"error":"too_large"`)
	if login(t, s, "bob", "x", "r") {
		t.Error("bob exists after refused requests")
	}

	code, body = s.call(t, "GET", "/api/users", "")
	want(t, "users", code, body, http.StatusOK, `[{"jid":"alice@localhost","sessions":0}]`)
	code, body = s.call(t, "GET", "/api/users?domain=elsewhere.example", "")
	want(t, "users of another domain", code, body, http.StatusBadRequest, `"error":"invalid"`)

	alice := s.Client(t, "alice", "first-secret", "phone")
	xmpptest.Send(t, alice, stanza.New(stanza.NSClient, "presence"))
	xmpptest.Sync(t, alice)
	code, body = s.call(t, "GET", "/api/sessions?domain=localhost", "")
	want(t, "sessions", code, body, http.StatusOK, `"jid":"alice@localhost/phone"`, `"transport":"tcp"`, `"available":true`)
	code, body = s.call(t, "GET", "/api/status", "")
	want(t, "status", code, body, http.StatusOK, `"version":"test"`, `"sessions_total":1`)
	code, body = s.call(t, "POST", "/api/announce", `{"text":"maintenance at noon"}`)
	want(t, "announce", code, body, http.StatusOK, `{"sessions":1}`)
	if m := xmpptest.NextMessage(t, alice); m.ChildText(stanza.NSClient, "body") != "maintenance at noon" {
		t.Errorf("announcement: %s", m)
	}
	code, body = s.call(t, "POST", "/api/announce", `{"text":" "}`)
	want(t, "an empty announcement", code, body, http.StatusBadRequest, `"error":"invalid"`)

	code, body = s.call(t, "PUT", "/api/users/alice@localhost/password", `{"password":"second-secret"}`)
	want(t, "set the password", code, body, http.StatusNoContent)
	if login(t, s, "alice", "first-secret", "old") || !login(t, s, "alice", "second-secret", "new") {
		t.Error("after the password change the old password logs in or the new one does not")
	}
	code, body = s.call(t, "PUT", "/api/users/nobody@localhost/password", `{"password":"x"}`)
	want(t, "the password of a missing account", code, body, http.StatusNotFound, `"error":"no_account"`)

	code, body = s.call(t, "POST", "/api/sessions/kick", `{"jid":"alice@localhost/phone","reason":"bye"}`)
	want(t, "kick", code, body, http.StatusOK, `{"ended":["alice@localhost/phone"]}`)
	if se := ended(t, alice); se.Condition != stream.PolicyViolation || se.Text != "bye" {
		t.Errorf("kicked with %v", se)
	}
	code, body = s.call(t, "POST", "/api/sessions/kick", `{"jid":"localhost"}`)
	want(t, "kick a domain", code, body, http.StatusBadRequest, `"error":"invalid"`)

	tablet := s.Client(t, "alice", "second-secret", "tablet")
	code, body = s.call(t, "POST", "/api/users/alice@localhost/disable", "")
	want(t, "disable", code, body, http.StatusOK, `{"ended":["alice@localhost/tablet"]}`)
	if se := ended(t, tablet); se.Condition != stream.NotAuthorized {
		t.Errorf("disabled with %v", se)
	}
	code, body = s.call(t, "GET", "/api/users", "")
	want(t, "users after disable", code, body, http.StatusOK, `"disabled":true`)
	if login(t, s, "alice", "second-secret", "r") {
		t.Error("a disabled account logs in")
	}
	code, body = s.call(t, "POST", "/api/users/alice@localhost/enable", "")
	want(t, "enable", code, body, http.StatusNoContent)

	laptop := s.Client(t, "alice", "second-secret", "laptop")
	code, body = s.call(t, "DELETE", "/api/users/alice@localhost", "")
	want(t, "delete", code, body, http.StatusOK, `{"ended":["alice@localhost/laptop"]}`)
	if se := ended(t, laptop); se.Condition != stream.NotAuthorized {
		t.Errorf("deleted with %v", se)
	}
	if ok, err := s.App.Stores().Accounts.AccountExists(ctx, s.JID(t, "alice")); ok || err != nil {
		t.Errorf("alice exists after the delete: %v %v", ok, err)
	}
	code, body = s.call(t, "DELETE", "/api/users/alice@localhost", "")
	want(t, "delete again", code, body, http.StatusNotFound, `"error":"no_account"`)
	code, body = s.call(t, "POST", "/api/users/alice@localhost/enable", "")
	want(t, "enable a missing account", code, body, http.StatusNotFound, `"error":"no_account"`)
	code, body = s.call(t, "DELETE", "/api/users/alice@localhost%2Fr", "")
	want(t, "delete a full JID", code, body, http.StatusBadRequest, `"error":"invalid"`)

	code, body = s.call(t, "GET", "/api/rooms", "")
	want(t, "rooms", code, body, http.StatusOK, `[]`)
	code, body = s.call(t, "GET", "/api/links", "")
	want(t, "links", code, body, http.StatusOK, `[]`)

	code, body = s.call(t, "GET", "/api/log-level", "")
	want(t, "log levels", code, body, http.StatusOK, `{"default":"info"}`)
	code, body = s.call(t, "PUT", "/api/log-level", `{"module":"muc","level":"debug"}`)
	want(t, "set a module's level", code, body, http.StatusOK, `{"default":"info","modules":{"muc":"debug"}}`)
	code, body = s.call(t, "PUT", "/api/log-level", `{"level":"loud"}`)
	want(t, "an unknown level", code, body, http.StatusBadRequest, `"error":"invalid"`)
	code, body = s.call(t, "GET", "/api/log-level", "")
	want(t, "log levels after", code, body, http.StatusOK, `"muc":"debug"`)

	code, body = s.call(t, "POST", "/api/reload", "")
	want(t, "reload", code, body, http.StatusOK, `"applied":["limits.max_stanza_bytes"]`, `"need_restart":[]`)

	code, body = s.call(t, "GET", "/api/reload", "")
	want(t, "GET on a POST path", code, body, http.StatusMethodNotAllowed, `"error":"method_not_allowed"`, `takes POST`)
	code, body = s.call(t, "PATCH", "/api/users/alice@localhost", "")
	want(t, "PATCH on a user", code, body, http.StatusMethodNotAllowed, `takes DELETE`)
	code, body = s.call(t, "GET", "/api/nosuch", "")
	want(t, "an unknown endpoint", code, body, http.StatusNotFound, `"error":"not_found"`)

	log := s.log.String()
	for _, p := range []string{"first-secret", "second-secret", "maintenance at noon"} {
		if strings.Contains(log, p) {
			t.Errorf("the log holds %q", p)
		}
	}
	for _, line := range []string{
		`msg="admin api: request" component=admin method=POST path=/api/users status=201 token=test`,
		`method=PUT path=/api/users/alice@localhost/password status=204 token=test`,
		`method=POST path=/api/users status=415 token=test`,
		`method=DELETE path=/api/users/alice@localhost status=404 token=test`,
		`method=GET path=/api/reload status=405 token=test`,
		`msg="admin: no such endpoint" component=admin method=GET path=/api/nosuch token=test`,
	} {
		if !strings.Contains(log, line) {
			t.Errorf("the log lacks %q", line)
		}
	}
}

// TestUnavailable: without live administration (EnableAdmin) the API
// answers 503; a reload without a configuration file to re-read, too.
func TestUnavailable(t *testing.T) {
	s := xmpptest.NewServer(t, func(c *config.Config) {
		c.Listeners = append(c.Listeners, config.Listener{Type: config.ListenerAdmin, Address: "127.0.0.1:0"})
	})
	token, err := admintoken.New(s.Config.DataDir).Create("test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	a := &apiServer{Server: s, base: "http://" + s.App.Addrs(config.ListenerAdmin)[0].String(), token: token}
	code, body := a.call(t, "GET", "/api/status", "")
	want(t, "status without live administration", code, body, http.StatusServiceUnavailable, `"error":"unavailable"`)

	b := xmpptest.NewServerWithAdmin(t, nil, app.AdminOptions{})
	token, err = admintoken.New(b.Config.DataDir).Create("test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	a = &apiServer{Server: b, base: "http://" + b.App.Addrs(config.ListenerAdmin)[0].String(), token: token}
	code, body = a.call(t, "POST", "/api/reload", "")
	want(t, "reload without a configuration file", code, body, http.StatusServiceUnavailable, `"error":"unavailable"`)
	code, body = a.call(t, "PUT", "/api/log-level", `{"level":"debug"}`)
	want(t, "log level without levels", code, body, http.StatusServiceUnavailable, `"error":"unavailable"`)
}
