package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/parley-xmpp/parley/server/admintoken"
	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/modules"
	"github.com/parley-xmpp/parley/server/storage/postgres/pgtest"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

// withAdmin adds an admin listener on address.
func withAdmin(address string) xmpptest.Option {
	return func(c *config.Config) {
		c.Listeners = append(c.Listeners, config.Listener{Type: config.ListenerAdmin, Address: address})
	}
}

// adminURL is the base URL of the server's admin listener, reached over
// the loopback address.
func adminURL(t *testing.T, s *xmpptest.Server) string {
	t.Helper()
	addrs := s.App.Addrs(config.ListenerAdmin)
	if len(addrs) != 1 {
		t.Fatalf("admin listener addresses: %v", addrs)
	}
	_, port, _ := strings.Cut(addrs[0].String(), "]:")
	if port == "" {
		_, port, _ = strings.Cut(addrs[0].String(), ":")
	}
	return "http://127.0.0.1:" + port
}

// get requests url with token (none if empty) and returns the response
// and its body.
func get(t *testing.T, url, token string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(xmpptest.Context(t, 10*time.Second), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", url, err)
	}
	return resp, string(b)
}

// scrape reads /metrics with the Prometheus text parser.
func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, body := get(t, base+"/metrics", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s: %s", resp.Status, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parsing /metrics: %v\n%s", err, body)
	}
	return families
}

// value sums the values of family's series whose labels include want;
// it reports false when there is none.
func value(families map[string]*dto.MetricFamily, family string, want map[string]string) (float64, bool) {
	f := families[family]
	if f == nil {
		return 0, false
	}
	sum, found := 0.0, false
series:
	for _, m := range f.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue series
			}
		}
		found = true
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum, found
}

// Three sessions log in (two over TCP, one over WebSocket), one login
// fails, a message goes from one to another: /metrics, scraped without a token on the loopback listener,
// shows them, with the storage, runtime and process series; the probes
// answer; the admin API takes only a stored token.
func TestAdminListener(t *testing.T) {
	s := xmpptest.NewServer(t, withAdmin("127.0.0.1:0"), func(c *config.Config) {
		c.Listeners = append(c.Listeners, config.Listener{Type: config.ListenerHTTP, Address: "127.0.0.1:0"})
	})
	base := adminURL(t, s)
	s.AddUser(t, "alice", "secret")
	s.AddUser(t, "bob", "secret")
	alice := s.Client(t, "alice", "secret", "phone")
	bob := s.Client(t, "bob", "secret", "laptop")
	web := s.ClientConfig(t, "bob", "secret", "browser")
	web.WebSocket = "ws://" + s.App.Addrs(config.ListenerHTTP)[0].String() + "/xmpp-websocket"
	s.Dial(t, web)

	bad := s.ClientConfig(t, "alice", "wrong", "x")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if c, err := client.Dial(ctx, bad); err == nil {
		c.Close()
		t.Fatal("a login with a wrong password succeeded")
	}

	msg := stanza.NewMessage(stanza.TypeChat, bob.JID().String(), "hello")
	xmpptest.Send(t, alice, msg)
	if got := xmpptest.NextMessage(t, bob); got.ChildText(stanza.NSClient, "body") != "hello" {
		t.Fatalf("bob got %s", got)
	}
	xmpptest.Sync(t, alice) // the message was routed and counted

	m := scrape(t, base)
	checks := []struct {
		family string
		labels map[string]string
		min    float64
	}{
		{"parley_logins_total", nil, 3},
		{"parley_login_failures_total", map[string]string{"reason": "not-authorized"}, 1},
		{"parley_stanzas_in_total", map[string]string{"kind": "message"}, 1},
		{"parley_stanzas_in_total", map[string]string{"kind": "iq"}, 1},
		{"parley_stanzas_out_total", map[string]string{"kind": "message"}, 1},
		{"parley_route_duration_seconds", map[string]string{"kind": "message"}, 1},
		{"parley_sessions", map[string]string{"transport": "tcp", "domain": "localhost"}, 2},
		{"parley_sessions", map[string]string{"transport": "websocket", "domain": "localhost"}, 1},
		{"parley_storage_operation_duration_seconds", map[string]string{"op": "query"}, 1},
		{"parley_storage_operation_duration_seconds", map[string]string{"op": "exec"}, 0},
		{"parley_outbound_queue_stanzas", nil, 0},
		{"parley_outbound_queue_bytes", nil, 0},
		{"parley_s2s_links", map[string]string{"direction": "in"}, 0},
		{"parley_s2s_links", map[string]string{"direction": "out"}, 0},
		{"parley_components_connected", nil, 0},
		{"parley_limited_total", map[string]string{"limit": "slow_consumer"}, 0},
		{"go_goroutines", nil, 1},
		{"process_resident_memory_bytes", nil, 1},
	}
	for _, c := range checks {
		v, ok := value(m, c.family, c.labels)
		if !ok {
			t.Errorf("%s%v: no such series", c.family, c.labels)
			continue
		}
		if v < c.min {
			t.Errorf("%s%v = %v, want at least %v", c.family, c.labels, v, c.min)
		}
	}
	checkStorageTimed(t, m)

	// The dashboard and the documentation name only series that exist.
	for _, doc := range []string{"grafana-dashboard.json", "admin-api.md"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "docs", doc))
		if err != nil {
			t.Fatal(err)
		}
		names := regexp.MustCompile(`\bparley_[a-z0-9_]+`).FindAllString(string(b), -1)
		if len(names) < 5 {
			t.Errorf("docs/%s names %d series", doc, len(names))
		}
		for _, name := range names {
			base := name
			for _, suffix := range []string{"_bucket", "_count", "_sum"} {
				if m[strings.TrimSuffix(name, suffix)] != nil && m[strings.TrimSuffix(name, suffix)].GetType() == dto.MetricType_HISTOGRAM {
					base = strings.TrimSuffix(name, suffix)
				}
			}
			if m[base] == nil {
				t.Errorf("docs/%s uses %s, which /metrics does not have", doc, name)
			}
		}
	}
	if v, _ := value(m, "parley_sessions", nil); v != 3 {
		t.Errorf("parley_sessions = %v in all, want 3", v)
	}
	if v, _ := value(m, "parley_login_failures_total", nil); v != 1 {
		t.Errorf("parley_login_failures_total = %v in all, want 1", v)
	}
	if v, _ := value(m, "parley_logins_total", nil); v != 3 {
		t.Errorf("parley_logins_total = %v in all, want 3", v)
	}

	for _, path := range []string{"/healthz", "/readyz"} {
		if resp, body := get(t, base+path, ""); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %s: %s", path, resp.Status, body)
		}
	}

	// The admin API: no token, a wrong one, one that is not stored, the
	// right one, then revoked.
	tokens := admintoken.New(s.Config.DataDir)
	token, err := tokens.Create("test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	resp, body := get(t, base+"/api/version", "")
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("without a token: %s %q: %s", resp.Status, resp.Header.Get("WWW-Authenticate"), body)
	}
	for _, wrong := range []string{"nonsense", token[:len(token)-1] + "x", admintoken.Prefix + strings.Repeat("A", 43)} {
		resp, body = get(t, base+"/api/version", wrong)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Errorf("with the wrong token %q: %s %q: %s", wrong, resp.Status, resp.Header.Get("WWW-Authenticate"), body)
		}
	}
	resp, body = get(t, base+"/api/version", token)
	var v struct{ Version string }
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &v) != nil || v.Version != modules.Version {
		t.Errorf("with the token: %s: %s, want version %s", resp.Status, body, modules.Version)
	}
	if resp, body = get(t, base+"/api/nosuch", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("an unknown path without a token: %s: %s, want 401", resp.Status, body)
	}
	if resp, body = get(t, base+"/api/nosuch", token); resp.StatusCode != http.StatusNotFound {
		t.Errorf("an unknown path with the token: %s: %s, want 404", resp.Status, body)
	}
	if err := tokens.Revoke("test"); err != nil {
		t.Fatal(err)
	}
	if resp, body = get(t, base+"/api/version", token); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("with the revoked token: %s: %s, want 401", resp.Status, body)
	}
}

// An admin listener bound to every address (not only loopback) takes no
// request without a token, the probes included, even from this machine.
func TestAdminListenerNotLoopback(t *testing.T) {
	s := xmpptest.NewServer(t, withAdmin("0.0.0.0:0"))
	base := adminURL(t, s)
	token, err := admintoken.New(s.Config.DataDir).Create("ops", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/metrics", "/healthz", "/readyz", "/api/version"} {
		if resp, body := get(t, base+path, ""); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s without a token: %s: %s, want 401", path, resp.Status, body)
		}
		if resp, body := get(t, base+path, token); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s with the token: %s: %s, want 200", path, resp.Status, body)
		}
	}
}

// With PostgreSQL storage too, the statements of a login are timed and
// the server is ready.
func TestAdminMetricsPostgres(t *testing.T) {
	dbURL := pgtest.Database(t)
	s := xmpptest.NewServer(t, withAdmin("127.0.0.1:0"), func(c *config.Config) {
		c.Storage = config.Storage{Kind: config.StoragePostgres, URL: dbURL}
	})
	base := adminURL(t, s)
	s.AddUser(t, "alice", "secret")
	s.Client(t, "alice", "secret", "phone")
	m := scrape(t, base)
	checkStorageTimed(t, m)
	if resp, body := get(t, base+"/readyz", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /readyz: %s: %s", resp.Status, body)
	}
}

// checkStorageTimed checks that reads and writes were timed: reading the
// keys at login is a query; creating the account a write, of one
// statement or in a transaction.
func checkStorageTimed(t *testing.T, m map[string]*dto.MetricFamily) {
	t.Helper()
	reads, _ := value(m, "parley_storage_operation_duration_seconds", map[string]string{"op": "query"})
	execs, _ := value(m, "parley_storage_operation_duration_seconds", map[string]string{"op": "exec"})
	txs, _ := value(m, "parley_storage_operation_duration_seconds", map[string]string{"op": "tx"})
	if reads < 1 || execs+txs < 1 {
		t.Errorf("storage operations timed: %v queries, %v writes, %v transactions; want reads and writes", reads, execs, txs)
	}
}

// TestAdminListenerPages: the web admin pages are on the admin listener,
// reached without a bearer header (they log in with a form); the rest
// of the listener still wants the bearer token.
func TestAdminListenerPages(t *testing.T) {
	s := xmpptest.NewServer(t, withAdmin("127.0.0.1:0"))
	base := adminURL(t, s)
	resp, body := get(t, base+"/admin/", "")
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/admin/login" || !strings.Contains(body, `name="token"`) ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("GET /admin/: %s at %s\n%s", resp.Status, resp.Request.URL, body)
	}
	if resp, _ := get(t, base+"/api/version", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /api/version without a token: %s", resp.Status)
	}
}
