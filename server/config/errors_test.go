package config

import (
	"errors"
	"strings"
	"testing"
)

// parseErrorCase is a file with one problem (or whose first problem is
// the one described).
type parseErrorCase struct {
	name      string
	src       string
	line, col int
	key       string
	reason    string // substring
}

func TestParseErrors(t *testing.T) {
	tests := []parseErrorCase{
		{"unknown top key", "domains: [a.example]\nfoo: 1\n", 2, 1, "foo", "unknown key"},
		{"unknown nested key", "limits:\n  max_stanza: 1\n", 2, 3, "limits.max_stanza", "unknown key"},
		{"unknown listener key", "listeners:\n  - {type: c2s, address: ':1', tls: yes}\n", 2, 32, "listeners[0].tls", "unknown key"},
		{"duplicate key", "log:\n  level: info\n  level: warn\n", 3, 3, "log.level", "set twice (first at line 2)"},
		{"min stanza size", strings.Repeat("\n", 10) + "limits:\n  max_stanza_bytes: 512\n", 12, 3, "limits.max_stanza_bytes", "must be at least 1024"},
		{"bad size unit", "limits:\n  max_stanza_bytes: 10KB\n", 2, 3, "limits.max_stanza_bytes", "invalid size"},
		{"negative size", "limits:\n  preauth_stanza_bytes: -5\n", 2, 3, "limits.preauth_stanza_bytes", "invalid size"},
		{"huge size", "limits:\n  max_stanza_bytes: 2GiB\n", 2, 3, "limits.max_stanza_bytes", "too large"},
		{"preauth over max", "limits:\n  max_stanza_bytes: 4KiB\n  preauth_stanza_bytes: 8KiB\n", 3, 3, "limits.preauth_stanza_bytes", "must not exceed"},
		{"queue under a stanza", "limits:\n  outbound_queue_bytes: 64KiB\n", 2, 3, "limits.outbound_queue_bytes", "at least limits.max_stanza_bytes"},
		{"no directed presence", "limits:\n  directed_presences: 0\n", 2, 3, "limits.directed_presences", "at least 1"},
		{"negative shared presences", "limits:\n  shared_presences: -1\n", 2, 3, "limits.shared_presences", "negative"},
		{"negative connection cap", "limits:\n  preauth_connections_per_address: -1\n", 2, 3, "limits.preauth_connections_per_address", "negative"},
		{"negative stanza rate", "limits:\n  rate:\n    stanzas_per_second: -1\n", 3, 5, "limits.rate.stanzas_per_second", "negative"},
		{"unknown rate key", "limits:\n  preauth_rate:\n    bytes: 1\n", 3, 5, "limits.preauth_rate.bytes", "unknown key"},
		{"int wrong type", "limits:\n  max_depth: deep\n", 2, 3, "limits.max_depth", "must be an integer"},
		{"int as float", "limits:\n  max_depth: 1.5\n", 2, 3, "limits.max_depth", "must be an integer"},
		{"int from list", "limits:\n  max_depth: [1]\n", 2, 3, "limits.max_depth", "not a list"},
		{"empty value", "limits:\n  max_depth:\n", 2, 3, "limits.max_depth", "not empty"},
		{"bool wrong type", "auth:\n  allow_plain: maybe\n", 2, 3, "auth.allow_plain", "true or false"},
		{"string wrong type", "data_dir: 42\n", 1, 1, "data_dir", "must be a string"},
		{"section wrong type", "auth: 5\n", 1, 1, "auth", "must be a mapping"},
		{"list wrong type", "domains: example.org\n", 1, 1, "domains", "must be a list"},
		{"duration no unit", "limits:\n  preauth_timeout: 30\n", 2, 3, "limits.preauth_timeout", "needs a unit"},
		{"duration garbage", "auth:\n  failure_window: soon\n", 2, 3, "auth.failure_window", "invalid duration"},
		{"duration zero", "limits:\n  ping_timeout: 0s\n", 2, 3, "limits.ping_timeout", "positive"},
		{"duration negative", "limits:\n  idle_ping: -1m\n", 2, 3, "limits.idle_ping", "negative"},
		{"scram iterations", "auth:\n  scram_iterations: 1000\n", 2, 3, "auth.scram_iterations", "at least 4096"},
		// Keys of the old lockout, replaced by the slow-down: the error
		// names the new keys.
		{"replaced max_failures_per_account", "auth:\n  max_failures_per_account: 5\n", 2, 3, "auth.max_failures_per_account", "use auth.free_failures_per_account, auth.failure_delay and auth.max_failure_delay"},
		{"replaced max_failures_per_ip", "auth:\n  max_failures_per_ip: 20\n", 2, 3, "auth.max_failures_per_ip", "use auth.free_failures_per_address, auth.failure_delay and auth.max_failure_delay"},
		{"no free failures", "auth:\n  free_failures_per_account: 0\n", 2, 3, "auth.free_failures_per_account", "at least 1"},
		{"max delay below delay", "auth:\n  failure_delay: 5s\n  max_failure_delay: 2s\n", 3, 3, "auth.max_failure_delay", "at least auth.failure_delay"},
		{"bad domain", "domains:\n  - ok.example\n  - \"bad domain\"\n", 3, 5, "domains[1]", "not a valid domain"},
		{"empty label", "domains: [a..b]\n", 1, 11, "domains[0]", "empty label"},
		{"ip domain", "domains: [192.0.2.1]\n", 1, 11, "domains[0]", "IP address"},
		{"duplicate domain", "domains: [a.example, A.example]\n", 1, 22, "domains[1]", "listed twice"},
		{"bad domain kept out", "domains: [a.example, 'x y', a.example]\n", 1, 22, "domains[1]", "not a valid domain"},
		{"no domains", "domains: []\n", 1, 1, "domains", "at least one"},
		{"no listeners", "listeners: []\n", 1, 1, "listeners", "at least one"},
		{"listener type", "listeners:\n  - type: xmpp\n    address: ':5269'\n", 2, 5, "listeners[0].type", "must be c2s, c2s_tls, s2s, s2s_tls, http, https, component, proxy65, turn, turns, acme_http or admin"},
		{"acme challenge without its listener", "tls:\n  acme:\n    enabled: true\n    challenges: [http-01]\n", 4, 18, "tls.acme.challenges[0]", "http-01 needs a listener of type acme_http"},
		{"acme challenge unknown", "tls:\n  acme:\n    enabled: true\n    challenges: [dns-01]\n", 4, 18, "tls.acme.challenges[0]", "must be \"tls-alpn-01\" or \"http-01\", not \"dns-01\""},
		{"acme directory", "tls:\n  acme:\n    enabled: true\n    directory: ftp://x\n", 4, 5, "tls.acme.directory", "must be an http or https URL"},
		{"trusted proxy", "http:\n  trusted_proxies: [somewhere]\n", 2, 20, "http.trusted_proxies[0]", "neither an address nor a network"},
		{"s2s route", "s2s:\n  routes:\n    example.net: nowhere\n", 3, 5, "s2s.routes.example.net", "is not host:port"},
		{"s2s route to a served domain", "s2s:\n  routes:\n    localhost: '127.0.0.1:5269'\n", 3, 5, "s2s.routes.localhost", "serves"},
		{"s2s domain", "s2s:\n  deny: ['a b']\n", 2, 10, "s2s.deny[0]", ""},
		{"s2s override key", "s2s:\n  domains:\n    example.net: {dialbak: true}\n", 3, 19, "s2s.domains.example.net.dialbak", "unknown key"},
		{"s2s listener while off", "s2s:\n  enabled: false\n", 0, 0, "listeners[2].type", "needs s2s.enabled"},
		{"listener address", "listeners:\n  - type: c2s\n    address: 'localhost'\n", 3, 5, "listeners[0].address", "not host:port"},
		{"listener port", "listeners:\n  - type: c2s\n    address: ':99999'\n", 3, 5, "listeners[0].address", "port must be"},
		{"listener missing address", "listeners:\n  - type: c2s\n", 2, 5, "listeners[0].address", "is required"},
		{"duplicate listener", "listeners:\n  - {type: c2s, address: ':1'}\n  - {type: c2s_tls, address: ':1'}\n", 3, 21, "listeners[1].address", "used by another"},
		{"cert missing key", "tls:\n  certificates:\n    - cert: a.pem\n", 3, 7, "tls.certificates[0].key", "is required"},
		{"tls version", "tls:\n  min_version: 1.1\n", 2, 3, "tls.min_version", `"1.2" or "1.3"`},
		{"tls record layer", "tls:\n  record_layer: openssl\n", 2, 3, "tls.record_layer", `"parley" or "go"`},
		{"ticket lifetime", "tls:\n  session_tickets:\n    lifetime: 200h\n", 3, 5, "tls.session_tickets.lifetime", "at most 168h"},
		{"ticket rotation", "tls:\n  session_tickets:\n    rotate_every: 0s\n", 3, 5, "tls.session_tickets.rotate_every", "must be positive"},
		{"storage", "storage: mysql://x\n", 1, 1, "storage", "unknown storage"},
		{"storage sqlite no path", "storage: 'sqlite:'\n", 1, 1, "storage", "needs a file path"},
		{"storage postgres no host", "storage: postgres:///db\n", 1, 1, "storage", "needs a host"},
		{"log level", "log:\n  level: verbose\n", 2, 3, "log.level", "debug, info, warn or error"},
		{"log format", "log:\n  format: xml\n", 2, 3, "log.format", "text or json"},
		{"disabled dup", "modules:\n  disabled: [a, a]\n", 2, 17, "modules.disabled[1]", "listed twice"},
		{"privilege value", "components:\n  - domain: gw.example\n    secret: 12345678abc\n    privileges: {roster: all}\n", 4, 18, "components[0].privileges.roster", `"none", "get", "set" or "both"`},
		{"privilege key", "components:\n  - domain: gw.example\n    secret: 12345678abc\n    privileges: {rooster: get}\n", 4, 18, "components[0].privileges.rooster", "unknown key"},
		{"iq privilege value", "components:\n  - domain: gw.example\n    secret: 12345678abc\n    privileges:\n      iq: {'urn:xmpp:mam:2': read}\n", 5, 12, "components[0].privileges.iq.urn:xmpp:mam:2", `"none", "get", "set" or "both"`},
		{"roster presence without roster", "components:\n  - domain: gw.example\n    secret: 12345678abc\n    privileges: {roster: set, presence: roster}\n", 4, 31, "components[0].privileges.presence", "needs roster: get or both"},
		{"push without roster", "components:\n  - domain: gw.example\n    secret: 12345678abc\n    privileges: {roster_push: true}\n", 4, 18, "components[0].privileges.roster_push", "need roster: get or both"},
		{"delegating delegation", "components:\n  - domain: gw.example\n    secret: 12345678abc\n    delegations: ['urn:xmpp:delegation:2']\n", 4, 19, "components[0].delegations[0]", "cannot be delegated"},
		{"delegated twice", "components:\n  - domain: gw.example\n    secret: 12345678abc\n    delegations: ['urn:xmpp:mam:2']\n  - domain: gw2.example\n    secret: 12345678abc\n    delegations: ['urn:xmpp:mam:2']\n", 7, 19, "components[1].delegations[0]", "already delegated to gw.example"},
		{"top level list", "- a\n- b\n", 1, 1, "", "top level must be a mapping"},
		{"syntax", "log: {}\nlimits: a: b\n", 2, 0, "", "invalid YAML"},
		{"two documents", "log: {}\n---\nlog: {}\n", 2, 1, "", "only one YAML document"},
		{"merge key", "base: &b {level: info}\nlog:\n  <<: *b\n", 1, 1, "base", "unknown key"},
	}
	testParseErrors(t, tests, Parse)
}

// testParseErrors checks that parse reports each case's problem first, at
// its position, and returns no configuration.
func testParseErrors(t *testing.T, tests []parseErrorCase, parse func(name string, data []byte) (*Config, error)) {
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parse("parley.yaml", []byte(tt.src))
			if err == nil {
				t.Fatalf("no error; config %+v", c)
			}
			if c != nil {
				t.Error("config returned with error")
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T %v is not *Error", err, err)
			}
			if e.File != "parley.yaml" || e.Line != tt.line || e.Column != tt.col || e.Key != tt.key || !strings.Contains(e.Reason, tt.reason) {
				t.Errorf("got %q (line %d col %d key %q)\nwant line %d col %d key %q reason ~%q",
					e.Error(), e.Line, e.Column, e.Key, tt.line, tt.col, tt.key, tt.reason)
			}
		})
	}
}

// errorKeys returns the keys of the problems in err, an Errors, in order.
func errorKeys(t *testing.T, err error) string {
	t.Helper()
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("err = %T %v, want Errors", err, err)
	}
	var keys []string
	for _, e := range es {
		keys = append(keys, e.Key)
	}
	return strings.Join(keys, " ")
}

func TestParseReportsAllErrorsInOrder(t *testing.T) {
	src := "log:\n  format: xml\nlimits:\n  max_depth: 1\n  bogus: 2\nauth:\n  scram_iterations: x\n"
	_, err := Parse("p.yaml", []byte(src))
	want := "log.format limits.max_depth limits.bogus auth.scram_iterations"
	if keys := errorKeys(t, err); keys != want {
		t.Errorf("keys = %v, want %s\n%v", keys, want, err)
	}
	if !strings.Contains(err.Error(), "p.yaml:2:3: log.format: must be text or json") {
		t.Errorf("Error() = %q", err)
	}
}

func TestParseSize(t *testing.T) {
	good := map[string]int{
		"0": 0, "1024": 1024, "512B": 512, "256KiB": 262144, "1MiB": 1 << 20,
		"1 GiB": 1 << 30, " 8KiB ": 8192,
	}
	for in, want := range good {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "KiB", "-1", "1.5MiB", "10KB", "1kib", "1TiB", "2048MiB", "99999999999999999999", "0x10", "1 000"} {
		if got, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = %d, want error", in, got)
		}
	}
}

func TestParseDuration(t *testing.T) {
	good := map[string]string{"30s": "30s", "5m": "5m0s", "1h30m": "1h30m0s", "0": "0s", "250ms": "250ms"}
	for in, want := range good {
		got, err := ParseDuration(in)
		if err != nil || got.String() != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"", "30", "1.5", "-5s", "5 minutes", "1d"} {
		if got, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want error", in, got)
		}
	}
}

func TestNormalizeDomain(t *testing.T) {
	good := map[string]string{
		"localhost": "localhost", "Example.COM": "example.com", "example.com.": "example.com",
		"xn--bcher-kva.example": "bücher.example", "BÜCHER.example": "bücher.example",
	}
	for in, want := range good {
		got, err := NormalizeDomain(in)
		if err != nil || got != want {
			t.Errorf("NormalizeDomain(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	bad := []string{"", ".", "a b", "a_b.example", "-a.example", "a..b", "::1", "[::1]", "10.0.0.1",
		strings.Repeat("a", 64) + ".example", strings.Repeat("abcdefghi.", 26) + "com", "user@example.com"}
	for _, in := range bad {
		if got, err := NormalizeDomain(in); err == nil {
			t.Errorf("NormalizeDomain(%q) = %q, want error", in, got)
		}
	}
}
