package config

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/xmpp/jid"
)

func TestDefault(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
	if !reflect.DeepEqual(c.Domains, []string{"localhost"}) {
		t.Errorf("Domains = %q", c.Domains)
	}
	if c.DataDir != "./parley-data" {
		t.Errorf("DataDir = %q", c.DataDir)
	}
	want := []Listener{{ListenerC2S, ":5222"}, {ListenerC2STLS, ":5223"}, {ListenerS2S, ":5269"}, {ListenerHTTP, ":5280"}, {ListenerHTTPS, ":5443"}, {ListenerProxy65, ":7777"}, {ListenerTURN, ":3478"}, {ListenerTURNS, ":5349"}, {ListenerAdmin, "127.0.0.1:5380"}}
	if !reflect.DeepEqual(c.Listeners, want) {
		t.Errorf("Listeners = %+v", c.Listeners)
	}
	if c.Listeners[0].DirectTLS() || !c.Listeners[1].DirectTLS() || c.Listeners[2].DirectTLS() || !c.Listeners[2].Server() || c.Listeners[0].Server() ||
		!c.Listeners[3].HTTP() || c.Listeners[3].DirectTLS() || !c.Listeners[4].DirectTLS() || !c.Listeners[5].ModuleServed() || c.Listeners[0].ModuleServed() ||
		!c.Listeners[6].Datagram() || !c.Listeners[6].ModuleServed() || c.Listeners[6].DirectTLS() || !c.Listeners[7].DirectTLS() || c.Listeners[7].Datagram() || c.Listeners[5].Datagram() {
		t.Error("DirectTLS wrong for default listeners")
	}
	if len(c.TLS.Certificates) != 0 || c.TLS.MinVersion != tls.VersionTLS12 {
		t.Errorf("TLS = %+v", c.TLS)
	}
	if c.Storage != (Storage{Kind: StorageSQLite}) {
		t.Errorf("Storage = %+v", c.Storage)
	}
	if got := c.SQLitePath(); got != filepath.Join("parley-data", "parley.db") {
		t.Errorf("SQLitePath = %q", got)
	}
	cert, key := c.SelfSignedFiles()
	if filepath.Dir(cert) != filepath.Join("parley-data", "tls") || filepath.Dir(key) != filepath.Dir(cert) || cert == key {
		t.Errorf("SelfSignedFiles = %q, %q", cert, key)
	}
	wantAuth := Auth{ScramIterations: 4096, AllowPlain: true, FreeFailuresPerAccount: 5, FreeFailuresPerAddress: 20,
		FailureDelay: time.Second, MaxFailureDelay: 15 * time.Second, FailureWindow: 10 * time.Minute, SASL2: true, FastTokenLifetime: 14 * 24 * time.Hour}
	if c.Auth != wantAuth {
		t.Errorf("Auth = %+v", c.Auth)
	}
	wantLimits := Limits{
		MaxStanzaBytes: 262144, MaxDepth: 64, PreauthStanzaBytes: 8192, PreauthElements: 32,
		PreauthTimeout: 30 * time.Second, SessionsPerAccount: 10, OutboundQueue: 1000,
		OfflineMessages: 1000, IdlePing: 5 * time.Minute, PingTimeout: time.Minute,
		ParkAfter: 5 * time.Second, ComponentGrace: 10 * time.Second,
		OutboundQueueBytes: 2 << 20, DirectedPresences: 1000, SharedPresences: 1000, PreauthConnectionsPerAddress: 100,
		Rate:        Rate{BytesPerSecond: 1 << 20, StanzasPerSecond: 100, Burst: 2 * time.Second},
		PreauthRate: Rate{BytesPerSecond: 16 << 10, StanzasPerSecond: 10, Burst: 5 * time.Second},
	}
	if c.Limits != wantLimits {
		t.Errorf("Limits = %+v", c.Limits)
	}
	if len(c.Modules.Sections) != 0 || len(c.Modules.Disabled) != 0 {
		t.Errorf("Modules = %+v", c.Modules)
	}
	if c.Log != (Log{Level: slog.LevelInfo, Format: LogText}) {
		t.Errorf("Log = %+v", c.Log)
	}
	// Each call returns an independent value.
	c.Domains[0] = "changed"
	if Default().Domains[0] != "localhost" {
		t.Error("Default shares state between calls")
	}
}

func TestParseEmpty(t *testing.T) {
	for _, src := range []string{"", "# only a comment\n", "~\n", "{}\n"} {
		c, err := Parse("p.yaml", []byte(src))
		if err != nil {
			t.Fatalf("Parse(%q) = %v", src, err)
		}
		if !reflect.DeepEqual(c, Default()) {
			t.Errorf("Parse(%q) = %+v, want defaults", src, c)
		}
	}
}

const fullFile = `domains: [Example.ORG, "bücher.example."]
data_dir: /srv/parley
listeners:
  - {type: c2s_tls, address: "127.0.0.1:5223"}
tls:
  certificates:
    - cert: /etc/a.pem
      key: /etc/a.key
    - {cert: b.pem, key: b.key}
  min_version: 1.3
  record_layer: go
  session_tickets:
    rotate_every: 12h
    lifetime: 48h
    key_file: /etc/parley/ticket-wrap.key
  acme:
    enabled: true
    email: admin@example.org
    directory: https://acme.example/dir
    ca_file: /etc/ca.pem
    challenges: [tls-alpn-01]
    retry_after: 5m
storage: "sqlite:/db/parley.db"
auth:
  scram_iterations: 10000
  allow_plain: false
  free_failures_per_account: 3
  free_failures_per_address: 50
  failure_delay: 2s
  max_failure_delay: 8s
  failure_window: 90s
  sasl2: false
  fast_token_lifetime: 72h
limits:
  max_stanza_bytes: 1MiB
  max_depth: 32
  preauth_stanza_bytes: 4096
  preauth_elements: 16
  preauth_timeout: 10s
  sessions_per_account: 3
  outbound_queue: 500
  offline_messages: 0
  idle_ping: 0
  ping_timeout: 20s
  park_after: 2s
  outbound_queue_bytes: 2MiB
  directed_presences: 50
  shared_presences: 20
  preauth_connections_per_address: 0
  rate:
    bytes_per_second: 64KiB
    stanzas_per_second: 0
    burst: 3s
  preauth_rate: {bytes_per_second: 0, stanzas_per_second: 5, burst: 1s}
modules:
  version: {hide: true}
  disabled: [version, ping]
log:
  level: debug
  format: json
admins: [root@example.org]
registration:
  enabled: true
  min_password_length: 10
  require_invite: true
  max_per_ip_per_hour: 2
contact_addresses:
  admin: ["xmpp:root@example.org"]
server_info:
  - form_type: urn:example
    fields:
      - {var: a, values: [b]}
runtime:
  gc_min_heap: 32MiB
s2s:
  dialback: false
  require_verified: true
  allow: [Friends.Example, partner.example]
  deny: [spam.example]
  routes:
    partner.example: "10.0.0.5:5269"
  domains:
    friends.example: {dialback: true}
  queue_bytes: 2MiB
  max_links: 100
  max_incoming: 200
  connect_timeout: 10s
  idle_timeout: 1m
http:
  websocket_origins: ["*.example.org"]
  trusted_proxies: [10.0.0.0/8, "::1"]
`

func TestParseFull(t *testing.T) {
	c, err := Parse("full.yaml", []byte(fullFile))
	if err != nil {
		t.Fatal(err)
	}
	yes := true
	want := &Config{
		Domains:   []string{"example.org", "bücher.example"},
		DataDir:   "/srv/parley",
		Listeners: []Listener{{ListenerC2STLS, "127.0.0.1:5223"}},
		TLS: TLS{
			Certificates: []Certificate{{"/etc/a.pem", "/etc/a.key"}, {"b.pem", "b.key"}},
			MinVersion:   tls.VersionTLS13,
			RecordLayer:  RecordLayerGo,
			ACME: ACME{Enabled: true, Email: "admin@example.org", Directory: "https://acme.example/dir", CAFile: "/etc/ca.pem",
				Challenges: []string{ChallengeTLSALPN01}, RetryAfter: 5 * time.Minute},
			SessionTickets: SessionTickets{Enabled: true, RotateEvery: 12 * time.Hour, Lifetime: 48 * time.Hour, KeyFile: "/etc/parley/ticket-wrap.key"},
		},
		Storage: Storage{Kind: StorageSQLite, Path: "/db/parley.db"},
		Auth: Auth{ScramIterations: 10000, FreeFailuresPerAccount: 3, FreeFailuresPerAddress: 50, FailureDelay: 2 * time.Second,
			MaxFailureDelay: 8 * time.Second, FailureWindow: 90 * time.Second, FastTokenLifetime: 72 * time.Hour},
		Limits: Limits{
			MaxStanzaBytes: 1 << 20, MaxDepth: 32, PreauthStanzaBytes: 4096, PreauthElements: 16,
			PreauthTimeout: 10 * time.Second, SessionsPerAccount: 3, OutboundQueue: 500,
			ParkAfter: 2 * time.Second, ComponentGrace: 10 * time.Second,
			PingTimeout: 20 * time.Second,

			OutboundQueueBytes: 2 << 20, DirectedPresences: 50, SharedPresences: 20,
			Rate:        Rate{BytesPerSecond: 64 << 10, Burst: 3 * time.Second},
			PreauthRate: Rate{StanzasPerSecond: 5, Burst: time.Second},
		},
		Modules:          Modules{Disabled: []string{"version", "ping"}},
		Log:              Log{Level: slog.LevelDebug, Format: LogJSON},
		Admins:           []jid.JID{jid.MustParse("root@example.org")},
		Registration:     Registration{Enabled: true, MinPasswordLength: 10, RequireInvite: true, MaxPerIPPerHour: 2},
		ContactAddresses: ContactAddresses{Admin: []string{"xmpp:root@example.org"}},
		ServerInfo:       []InfoForm{{FormType: "urn:example", Fields: []InfoField{{Var: "a", Values: []string{"b"}}}}},
		StreamManagement: defaultStreamManagement(),
		CSI:              defaultCSI(),
		Quotas:           defaultQuotas(),
		Runtime:          Runtime{GCMinHeap: 32 << 20},
		S2S: S2S{Enabled: true, RequireVerified: true, Allow: []string{"friends.example", "partner.example"}, Deny: []string{"spam.example"},
			Routes: map[string]string{"partner.example": "10.0.0.5:5269"}, Domains: map[string]S2SDomain{"friends.example": {Dialback: &yes}},
			QueueBytes: 2 << 20, MaxLinks: 100, MaxIncoming: 200, ConnectTimeout: 10 * time.Second, IdleTimeout: time.Minute},
		HTTP:    HTTP{WebSocketOrigins: []string{"*.example.org"}, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}},
		Cluster: defaultCluster(),
	}
	// The version module's section is kept for the module to decode
	// (its keys are tested in server/mod/version).
	if v, ok := c.Modules.Section("version"); !ok || v.Name() != "version" || v.Key() != "modules.version" || len(c.Modules.Sections) != 1 {
		t.Errorf("modules sections = %+v", c.Modules.Sections)
	}
	c.Modules.Sections = nil
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
	if c.SQLitePath() != "/db/parley.db" {
		t.Errorf("SQLitePath = %q", c.SQLitePath())
	}
	if !c.Modules.IsDisabled("ping") || c.Modules.IsDisabled("disco") {
		t.Error("IsDisabled wrong")
	}
}

func TestParseMergesOverDefaults(t *testing.T) {
	c, err := Parse("p.yaml", []byte("limits:\n  max_depth: 10\nauth:\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Limits.MaxDepth = 10
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got %+v", c)
	}
}

func TestLoadExampleFile(t *testing.T) {
	c, err := Load(filepath.Join("..", "..", "docs", "parley.example.yaml"))
	if err != nil {
		t.Fatalf("example file: %v", err)
	}
	if len(c.Domains) == 0 || len(c.TLS.Certificates) == 0 || len(c.Listeners) != 8 || len(c.S2S.Routes) != 1 {
		t.Errorf("example file not fully read: %+v", c)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "nope.yaml") {
		t.Errorf("err = %v", err)
	}
}

func TestLoadUsesPathInErrors(t *testing.T) {
	p := filepath.Join(t.TempDir(), "parley.yaml")
	if err := os.WriteFile(p, []byte("log:\n  level: loud\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(p)
	var e *Error
	if !errors.As(err, &e) || e.File != p || e.Line != 2 || e.Key != "log.level" {
		t.Fatalf("err = %#v", err)
	}
}

func TestErrorFormat(t *testing.T) {
	e := &Error{File: "parley.yaml", Line: 12, Column: 3, Key: "limits.max_stanza_bytes", Reason: "must be at least 1024"}
	if got := e.Error(); got != "parley.yaml:12:3: limits.max_stanza_bytes: must be at least 1024" {
		t.Errorf("Error() = %q", got)
	}
	if got := (&Error{Key: "data_dir", Reason: "must not be empty"}).Error(); got != "data_dir: must not be empty" {
		t.Errorf("Error() = %q", got)
	}
	if got := (&Error{File: "f", Line: 2, Reason: "bad"}).Error(); got != "f:2: bad" {
		t.Errorf("Error() = %q", got)
	}
}

func TestValidateAfterOverride(t *testing.T) {
	c := Default()
	c.DataDir = ""
	c.Domains = []string{"Upper.Example"}
	err := c.Validate()
	var es Errors
	if !errors.As(err, &es) || len(es) != 2 {
		t.Fatalf("err = %v", err)
	}
	if es[0].Key != "domains[0]" || es[1].Key != "data_dir" || es[0].Line != 0 {
		t.Errorf("errs = %v", err)
	}
}

func TestStorageString(t *testing.T) {
	for in, want := range map[string]string{
		"sqlite":                             "sqlite",
		"sqlite:/x.db":                       "sqlite:/x.db",
		"postgres://bob:secret@db:5432/chat": "postgres://bob:xxxxx@db:5432/chat",
	} {
		s, err := parseStorage(in)
		if err != nil {
			t.Fatalf("parseStorage(%q) = %v", in, err)
		}
		if got := s.String(); got != want {
			t.Errorf("String(%q) = %q, want %q", in, got, want)
		}
	}
	s, _ := parseStorage("postgres://bob:secret@db/chat")
	if s.Kind != StoragePostgres || s.URL != "postgres://bob:secret@db/chat" {
		t.Errorf("postgres storage = %+v", s)
	}
}

func TestParseComponentGrants(t *testing.T) {
	c, err := Parse("parley.yaml", []byte(`components:
  - domain: gw.example
    secret: 12345678abc
    privileges:
      roster: both
      message: outgoing
      presence: roster
      iq: {'http://jabber.org/protocol/pubsub': set}
    delegations: ['urn:xmpp:mam:2']
  - domain: plain.example
    secret: 12345678abc
  - domain: quiet.example
    secret: 12345678abc
    privileges: {roster: get, roster_push: false}
`))
	if err != nil {
		t.Fatal(err)
	}
	gw, plain, quiet := c.Components[0], c.Components[1], c.Components[2]
	want := Privileges{Roster: "both", RosterPush: true, Message: "outgoing", Presence: "roster", IQ: map[string]string{"http://jabber.org/protocol/pubsub": "set"}}
	if !reflect.DeepEqual(gw.Privileges, want) || !slices.Equal(gw.Delegations, []string{"urn:xmpp:mam:2"}) {
		t.Errorf("gw.example: %+v %v", gw.Privileges, gw.Delegations)
	}
	if want := (Privileges{Roster: "none", Message: "none", Presence: "none"}); !reflect.DeepEqual(plain.Privileges, want) || len(plain.Delegations) != 0 {
		t.Errorf("plain.example grants %+v", plain.Privileges)
	}
	if quiet.Privileges.RosterPush || quiet.Privileges.Roster != "get" {
		t.Errorf("quiet.example: %+v", quiet.Privileges)
	}
}
