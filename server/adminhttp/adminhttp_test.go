package adminhttp

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/admintoken"
)

func request(t *testing.T, h http.Handler, method, path, token string) (int, http.Header, string) {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	if token != "" {
		r.Header.Set("Authorization", token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	b, _ := io.ReadAll(w.Result().Body)
	return w.Code, w.Result().Header, string(b)
}

// /readyz answers 503 with the reason while the server is not ready, 200
// once it is; /healthz answers 200 all along.
func TestReadiness(t *testing.T) {
	var notReady error = errors.New("storage does not answer")
	s := New(Options{OpenProbes: true, Ready: func(context.Context) error { return notReady }})
	if code, _, body := request(t, s, http.MethodGet, PathReady, ""); code != http.StatusServiceUnavailable || !strings.Contains(body, "storage does not answer") {
		t.Errorf("not ready: %d %q, want 503 and the reason", code, body)
	}
	if code, _, _ := request(t, s, http.MethodGet, PathHealth, ""); code != http.StatusOK {
		t.Errorf("healthz while not ready: %d, want 200", code)
	}
	notReady = nil
	if code, _, body := request(t, s, http.MethodGet, PathReady, ""); code != http.StatusOK {
		t.Errorf("ready: %d %q, want 200", code, body)
	}
}

// Without OpenProbes every path needs the token; the Authorization
// header must use the Bearer scheme; endpoints mounted with HandleAPI sit
// behind the check.
func TestTokenCheck(t *testing.T) {
	tokens := admintoken.New(t.TempDir())
	token, err := tokens.Create("ops", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s := New(Options{Tokens: tokens, Version: "1.2.3", Metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "m 1\n") })})
	s.HandleAPI("GET /api/things", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "things") }))
	for _, path := range []string{PathMetrics, PathHealth, PathReady, "/api/version", "/api/things", "/nosuch"} {
		for _, auth := range []string{"", "Basic " + token, "Bearer", "Bearer wrong", "Bearer " + admintoken.Prefix + "x"} {
			code, h, body := request(t, s, http.MethodGet, path, auth)
			if code != http.StatusUnauthorized || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer ") || !strings.Contains(body, `"error"`) {
				t.Errorf("GET %s with %q: %d %q %q, want 401 with a challenge", path, auth, code, h.Get("WWW-Authenticate"), body)
			}
		}
	}
	want := map[string]string{PathMetrics: "m 1", PathHealth: "ok", "/api/version": `"version":"1.2.3"`, "/api/things": "things"}
	for path, body := range want {
		if code, _, got := request(t, s, http.MethodGet, path, "Bearer "+token); code != http.StatusOK || !strings.Contains(got, body) {
			t.Errorf("GET %s with the token: %d %q, want 200 and %q", path, code, got, body)
		}
	}
	if code, _, _ := request(t, s, http.MethodGet, "/nosuch", "bearer "+token); code != http.StatusNotFound {
		t.Errorf("unknown path with the token: %d, want 404", code)
	}
}
