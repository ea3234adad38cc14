package config

import (
	"crypto/tls"
	"log/slog"
	"net/url"
	"path/filepath"
	"time"

	"github.com/parley-xmpp/parley/xmpp/jid"
)

// Config is the complete server configuration. The zero value is not
// useful; start from [Default], [Load] or [Parse].
type Config struct {
	// Domains are the virtual hosts served, normalised to lower-case
	// Unicode form (as in JIDs). Key "domains".
	Domains []string
	// DataDir holds the database, generated certificates and other state.
	// Key "data_dir".
	DataDir string
	// Listeners are the network listeners. Key "listeners".
	Listeners []Listener
	// TLS configures certificates and protocol versions. Key "tls".
	TLS TLS
	// Storage selects the storage backend. Key "storage".
	Storage Storage
	// Auth configures authentication. Key "auth".
	Auth Auth
	// Limits bounds resource use per connection, session and account.
	// Key "limits".
	Limits Limits
	// Quotas bound what each account keeps on the server. Key "quotas".
	Quotas Quotas
	// Modules configures optional protocol modules. Key "modules".
	Modules Modules
	// Log configures logging. Key "log".
	Log Log
	// Admins are the bare JIDs of the server administrators, who may run
	// the XEP-0133 commands. Key "admins".
	Admins []jid.JID
	// Registration configures in-band registration. Key "registration".
	Registration Registration
	// ContactAddresses are advertised per XEP-0157. Key
	// "contact_addresses".
	ContactAddresses ContactAddresses
	// ServerInfo are extra XEP-0128 forms of the server's disco#info. Key
	// "server_info".
	ServerInfo []InfoForm
	// StreamManagement configures XEP-0198. Key "stream_management".
	StreamManagement StreamManagement
	// CSI configures XEP-0352. Key "csi".
	CSI CSI
	// Runtime tunes the Go runtime. Key "runtime".
	Runtime Runtime
	// S2S configures federation with other servers. Key "s2s".
	S2S S2S
	// Components are the external components (XEP-0114) allowed to
	// connect. Key "components".
	Components []Component
	// HTTP configures the HTTP side (WebSocket origins, trusted
	// proxies). Key "http".
	HTTP HTTP
	// Cluster makes the server a node of a cluster. Key "cluster".
	Cluster Cluster
}

// ListenerType is the kind of a network listener.
type ListenerType string

const (
	// ListenerC2S is a client-to-server listener using STARTTLS; TLS is
	// required before authentication.
	ListenerC2S ListenerType = "c2s"
	// ListenerC2STLS is a client-to-server listener using direct TLS
	// (XEP-0368).
	ListenerC2STLS ListenerType = "c2s_tls"
	// ListenerS2S is a server-to-server listener using STARTTLS; TLS is
	// required.
	ListenerS2S ListenerType = "s2s"
	// ListenerS2STLS is a server-to-server listener using direct TLS
	// (XEP-0368).
	ListenerS2STLS ListenerType = "s2s_tls"
	// ListenerHTTP is the HTTP server, plain: XMPP over WebSocket (RFC
	// 7395) and its discovery (XEP-0156).
	ListenerHTTP ListenerType = "http"
	// ListenerHTTPS is the HTTP server over TLS with the XMPP
	// certificates.
	ListenerHTTPS ListenerType = "https"
	// ListenerProxy65 is the SOCKS5 bytestreams proxy's (XEP-0065), for
	// file transfers between clients that cannot connect directly.
	ListenerProxy65 ListenerType = "proxy65"
	// ListenerTURN is the built-in STUN/TURN server's (RFC 8489, RFC
	// 8656), for calls between clients behind NATs: it takes UDP and TCP
	// on the same address (port 3478 by convention).
	ListenerTURN ListenerType = "turn"
	// ListenerTURNS is the built-in TURN server's over TLS with the XMPP
	// certificates (port 5349 by convention).
	ListenerTURNS ListenerType = "turns"
	// ListenerACMEHTTP answers ACME HTTP-01 challenges (RFC 8555 §8.3)
	// over plain HTTP, on port 80 by convention, and redirects every
	// other request to HTTPS.
	ListenerACMEHTTP ListenerType = "acme_http"
	// ListenerAdmin is the administration HTTP server's: Prometheus
	// metrics (/metrics), health and readiness checks (/healthz,
	// /readyz) and the admin API (/api/), plain HTTP meant for the
	// loopback address (127.0.0.1:5380 by default). See
	// docs/admin-api.md.
	ListenerAdmin ListenerType = "admin"
)

// Listener is one network listener.
type Listener struct {
	// Type is the kind of listener. Key "type".
	Type ListenerType
	// Address is the host:port to listen on; the host may be empty to
	// listen on all addresses. Key "address".
	Address string
}

// DirectTLS reports whether the listener starts TLS immediately instead of
// negotiating it with STARTTLS.
func (l Listener) DirectTLS() bool {
	return l.Type == ListenerC2STLS || l.Type == ListenerS2STLS || l.Type == ListenerHTTPS || l.Type == ListenerTURNS
}

// HTTP reports whether the listener is the HTTP server's.
func (l Listener) HTTP() bool { return l.Type == ListenerHTTP || l.Type == ListenerHTTPS }

// ModuleServed reports whether a module serves the listener (see
// module.ListenerServer) rather than the server itself.
func (l Listener) ModuleServed() bool {
	return l.Type == ListenerProxy65 || l.Type == ListenerTURN || l.Type == ListenerTURNS
}

// Datagram reports whether the listener also takes UDP datagrams on its
// address (STUN and TURN do).
func (l Listener) Datagram() bool { return l.Type == ListenerTURN }

// Server reports whether the listener takes server-to-server streams.
func (l Listener) Server() bool { return l.Type == ListenerS2S || l.Type == ListenerS2STLS }

// TLS configures certificates and protocol versions.
type TLS struct {
	// Certificates are the certificate/key pairs to serve. When empty a
	// self-signed certificate is generated in the data directory (see
	// [Config.SelfSignedFiles]). Key "certificates".
	Certificates []Certificate
	// MinVersion is the lowest TLS version accepted: tls.VersionTLS12 or
	// tls.VersionTLS13. Key "min_version", written "1.2" or "1.3".
	MinVersion uint16
	// RecordLayer selects what carries TLS 1.3 records after the
	// handshake: RecordLayerParley (the default; idle sessions hold no
	// TLS buffers or cipher state) or RecordLayerGo (crypto/tls for the
	// whole connection, the fallback should a Go release change what
	// Parley's record layer relies on). Key "record_layer".
	RecordLayer RecordLayer
	// ACME obtains and renews certificates from an ACME certificate
	// authority (Let's Encrypt by default). Key "acme".
	ACME ACME
	// SessionTickets configures TLS session resumption across restarts.
	// Key "session_tickets".
	SessionTickets SessionTickets
}

// SessionTickets configures the keys of TLS session tickets, kept
// encrypted in the data folder so that returning clients resume their
// TLS session (no certificate signature) after a restart too.
type SessionTickets struct {
	// Enabled keeps the ticket keys across restarts and rotates them on
	// schedule; when false crypto/tls's own keys are used (in memory
	// only: lost at every restart). Key "enabled"; default true.
	Enabled bool
	// RotateEvery is how often a new key starts sealing tickets. Key
	// "rotate_every"; default 24h.
	RotateEvery time.Duration
	// Lifetime is how long a ticket is accepted; keys are kept (for
	// opening tickets only) until their last ticket has outlived it. Key
	// "lifetime"; default and maximum 168h (RFC 8446 §4.6.1).
	Lifetime time.Duration
	// KeyFile holds the key that encrypts the ticket keys at rest
	// (created, mode 0600, when missing). Key "key_file"; default
	// tls/ticket-wrap.key in the data folder.
	KeyFile string
}

// ACME configures automatic certificates (RFC 8555): one certificate
// per served domain covering it and the service domains under it (and
// one for each other service domain), kept in the acme folder of the
// data directory and renewed once two thirds of its lifetime have
// passed.
type ACME struct {
	// Enabled turns ACME on. Key "enabled".
	Enabled bool
	// Email is the account's contact address, where the certificate
	// authority sends notices; empty: none. Key "email".
	Email string
	// Directory is the ACME directory URL. Key "directory"; default
	// Let's Encrypt's production directory.
	Directory string
	// CAFile is a PEM file of the certificate authorities to trust for
	// the directory's HTTPS, instead of the system's (a test CA). Key
	// "ca_file".
	CAFile string
	// Challenges are the challenge types to answer, in order of
	// preference: ChallengeTLSALPN01 (on the direct-TLS listeners) and
	// ChallengeHTTP01 (on acme_http listeners). Key "challenges";
	// default both, TLS-ALPN-01 first, HTTP-01 only with an acme_http
	// listener.
	Challenges []string
	// RetryAfter is how long to wait after a failed attempt before the
	// next, doubled after each failure up to a day; the default (5 min)
	// keeps a misconfigured server within Let's Encrypt's limit of 5
	// failed validations per hostname and hour. Key "retry_after".
	RetryAfter time.Duration
}

// ACME challenge types (RFC 8555 §8, RFC 8737).
const (
	// ChallengeHTTP01 proves control of a domain by HTTP on port 80.
	ChallengeHTTP01 = "http-01"
	// ChallengeTLSALPN01 proves control of a domain by a TLS handshake
	// on port 443 with the ALPN protocol "acme-tls/1".
	ChallengeTLSALPN01 = "tls-alpn-01"
	// LetsEncryptDirectory is Let's Encrypt's production directory, the
	// default of tls.acme.directory.
	LetsEncryptDirectory = "https://acme-v02.api.letsencrypt.org/directory"
)

// ACMEChallenges returns the challenge types to answer: the configured
// ones, else TLS-ALPN-01 and, with an acme_http listener, HTTP-01.
func (c *Config) ACMEChallenges() []string {
	if len(c.TLS.ACME.Challenges) > 0 {
		return c.TLS.ACME.Challenges
	}
	out := []string{ChallengeTLSALPN01}
	for _, l := range c.Listeners {
		if l.Type == ListenerACMEHTTP {
			return append(out, ChallengeHTTP01)
		}
	}
	return out
}

// RecordLayer is the implementation of the TLS record layer after the
// handshake.
type RecordLayer string

const (
	// RecordLayerParley is server/tlsrec's own TLS 1.3 record layer.
	RecordLayerParley RecordLayer = "parley"
	// RecordLayerGo keeps crypto/tls for the whole connection.
	RecordLayerGo RecordLayer = "go"
)

// Certificate is a PEM certificate chain and its private key. Relative
// paths are relative to the server's working directory.
type Certificate struct {
	// Cert is the path of the PEM certificate chain (leaf first). Key
	// "cert".
	Cert string
	// Key is the path of the PEM private key. Key "key".
	Key string
}

// StorageKind is a storage backend.
type StorageKind string

const (
	// StorageSQLite is the embedded SQLite backend.
	StorageSQLite StorageKind = "sqlite"
	// StoragePostgres is the PostgreSQL backend.
	StoragePostgres StorageKind = "postgres"
)

// Storage selects the storage backend. In the file it is one string:
// "sqlite", "sqlite:/path/file.db" or "postgres://user:pass@host/db".
type Storage struct {
	// Kind is the backend.
	Kind StorageKind
	// Path is the SQLite database file; "" means the default file in
	// the data directory (see [Config.SQLitePath]).
	Path string
	// URL is the PostgreSQL connection URL (may hold a password: log
	// [Storage.String] instead).
	URL string
}

// String returns the storage setting as written in the file, with any
// password in a PostgreSQL URL redacted.
func (s Storage) String() string {
	switch s.Kind {
	case StorageSQLite:
		if s.Path == "" {
			return "sqlite"
		}
		return "sqlite:" + s.Path
	case StoragePostgres:
		if u, err := url.Parse(s.URL); err == nil {
			return u.Redacted()
		}
		return "postgres://(invalid)"
	default:
		return string(s.Kind)
	}
}

// Auth configures authentication.
type Auth struct {
	// ScramIterations is the PBKDF2 iteration count for newly stored
	// SCRAM credentials (at least 4096). Key "scram_iterations".
	ScramIterations int
	// AllowPlain offers SASL PLAIN; it is only ever offered over TLS.
	// Key "allow_plain".
	AllowPlain bool
	// FreeFailuresPerAccount is how many wrong passwords one account may
	// have from one client address (an IPv6 /64 counting as one) before
	// its logins from that address are slowed down.
	// Logins from other addresses are not affected. Key
	// "free_failures_per_account".
	FreeFailuresPerAccount int
	// FreeFailuresPerAddress is how many wrong passwords one client
	// address may have, whatever the accounts, before every password
	// login from it is slowed down. Key "free_failures_per_address".
	FreeFailuresPerAddress int
	// FailureDelay is the wait imposed once a limit above is reached; it
	// doubles with each further failure. Key "failure_delay".
	FailureDelay time.Duration
	// MaxFailureDelay caps that wait; the server also keeps it to half
	// of limits.preauth_timeout, so that a slowed login is not cut off.
	// 0 disables login throttling. Key "max_failure_delay".
	MaxFailureDelay time.Duration
	// FailureWindow is how long failures are remembered: they are
	// forgotten once it passes without a new one. Key "failure_window".
	FailureWindow time.Duration
	// SASL2 offers XEP-0388 authentication, with Bind 2 (XEP-0386) and
	// FAST (XEP-0484) inline. Key "sasl2".
	SASL2 bool
	// FastTokenLifetime is how long a FAST token (XEP-0484) is valid; 0
	// disables FAST. Key "fast_token_lifetime".
	FastTokenLifetime time.Duration
}

// Limits bounds resource use.
type Limits struct {
	// MaxStanzaBytes is the largest stanza accepted from an
	// authenticated client, in bytes. Key "max_stanza_bytes".
	MaxStanzaBytes int
	// MaxDepth is the deepest XML element nesting accepted, counting
	// the stream element. Key "max_depth".
	MaxDepth int
	// PreauthStanzaBytes is the largest top-level element accepted
	// before authentication, in bytes. Key "preauth_stanza_bytes".
	PreauthStanzaBytes int
	// PreauthElements is how many top-level elements a client may send
	// before it has authenticated. Key "preauth_elements".
	PreauthElements int
	// PreauthTimeout is how long an unauthenticated connection may stay
	// open. Key "preauth_timeout".
	PreauthTimeout time.Duration
	// SessionsPerAccount is the most concurrent sessions (resources) of
	// one account. Key "sessions_per_account".
	SessionsPerAccount int
	// OutboundQueue is how many stanzas may be queued for one session
	// before it is treated as a slow consumer. Key "outbound_queue".
	OutboundQueue int
	// OfflineMessages is how many offline messages are stored per
	// account; 0 disables offline storage. Key "offline_messages".
	OfflineMessages int
	// IdlePing is how long a client may be silent before the server
	// pings it (XEP-0199); 0 disables pings. Key "idle_ping".
	IdlePing time.Duration
	// PingTimeout is how long the server waits for the answer to such a
	// ping before closing the connection. Key "ping_timeout".
	PingTimeout time.Duration
	// ParkAfter is how long a TLS 1.3 client session may be silent before
	// its reader parks: no goroutine, buffers or cipher state are held
	// for it until input arrives; 0 disables parking. Key "park_after".
	ParkAfter time.Duration
	// BOSHInactivity is how long a BOSH session (XEP-0124) lives without
	// a request from its client; 0 means the default, 60 seconds. Key
	// "bosh_inactivity".
	BOSHInactivity time.Duration
	// BOSHPolling is the shortest interval between a BOSH client's empty
	// requests when none of its requests is held (XEP-0124 §11, §12);
	// 0 means the default, 2 seconds. Key "bosh_polling".
	BOSHPolling time.Duration
	// ComponentGrace is how long stanzas for an external component wait
	// for it after its connection went away (or after the server
	// started, before it first connected); 0: they bounce at once. Key
	// "component_grace".
	ComponentGrace time.Duration
	// OutboundQueueBytes bounds, in bytes, what one session holds for its
	// client: stanzas queued for writing, stanzas written but not
	// acknowledged (XEP-0198, also while detached) and stanzas held for
	// an inactive client (XEP-0352). Past it a client that takes nothing
	// for a second, or any client past four times it, is a slow
	// consumer: closed with <policy-violation/>, what it held goes to the
	// account's other resources or offline storage. Key
	// "outbound_queue_bytes".
	OutboundQueueBytes int
	// DirectedPresences is how many entities one session may have sent
	// directed available presence to (RFC 6121 §4.6) without an
	// unavailable since; past it directed presence is refused with
	// <policy-violation/>. Key "directed_presences".
	DirectedPresences int
	// SharedPresences is how many distinct presences the server keeps one
	// copy of for all the sessions that sent the same (each at most 1
	// KiB); the others keep their own. 0: every session keeps its own.
	// Key "shared_presences".
	SharedPresences int
	// PreauthConnectionsPerAddress is how many connections one client
	// address (an IPv6 /64 counts as one) may hold open before
	// authenticating; past it new connections are refused with
	// <policy-violation/> before any TLS handshake. 0: no cap. Key
	// "preauth_connections_per_address".
	PreauthConnectionsPerAddress int
	// Rate limits what an authenticated client session sends. Key
	// "rate".
	Rate Rate
	// PreauthRate limits what a connection sends before it has
	// authenticated. Key "preauth_rate".
	PreauthRate Rate
}

// Rate is a token-bucket limit on what one client connection sends. It
// is enforced by reading more slowly (TCP back-pressure), never by
// dropping input.
type Rate struct {
	// BytesPerSecond is the sustained rate of the XML stream in bytes
	// per second; 0: no byte limit. Key "bytes_per_second".
	BytesPerSecond int
	// StanzasPerSecond is the sustained rate of top-level elements per
	// second; 0: no stanza limit. Key "stanzas_per_second".
	StanzasPerSecond int
	// Burst is how many seconds' worth of either rate a connection may
	// send at once after being quiet. Key "burst".
	Burst time.Duration
}

// LogFormat is the log output format.
type LogFormat string

const (
	// LogText is human-readable key=value output.
	LogText LogFormat = "text"
	// LogJSON is one JSON object per line.
	LogJSON LogFormat = "json"
)

// Log configures logging.
type Log struct {
	// Level is the lowest level logged: one of slog.LevelDebug,
	// LevelInfo, LevelWarn or LevelError. Key "level", written debug,
	// info, warn or error.
	Level slog.Level
	// Format is the output format. Key "format".
	Format LogFormat
}

// Default values, also documented in docs/config.md.
const (
	defaultDomain    = "localhost"
	defaultDataDir   = "./parley-data"
	sqliteFile       = "parley.db"
	selfSignedCert   = "selfsigned-cert.pem"
	selfSignedKey    = "selfsigned-key.pem"
	selfSignedSubdir = "tls"
	acmeSubdir       = "acme"
	importedSubdir   = "imported"
)

// Default returns the zero-configuration setup: domain localhost, data in
// ./parley-data, STARTTLS on :5222 and direct TLS on :5223 for clients,
// server-to-server on :5269, HTTP on :5280 and HTTPS on :5443 (XMPP over
// WebSocket), the file transfer proxy on :7777, STUN/TURN on :3478 (UDP
// and TCP) and :5349 (TLS), the admin HTTP server (metrics, health) on
// 127.0.0.1:5380, SQLite storage
// and a self-signed certificate in the data directory.
func Default() *Config {
	return &Config{
		Domains: []string{defaultDomain},
		DataDir: defaultDataDir,
		Listeners: []Listener{
			{Type: ListenerC2S, Address: ":5222"},
			{Type: ListenerC2STLS, Address: ":5223"},
			{Type: ListenerS2S, Address: ":5269"},
			{Type: ListenerHTTP, Address: ":5280"},
			{Type: ListenerHTTPS, Address: ":5443"},
			{Type: ListenerProxy65, Address: ":7777"},
			{Type: ListenerTURN, Address: ":3478"},
			{Type: ListenerTURNS, Address: ":5349"},
			{Type: ListenerAdmin, Address: "127.0.0.1:5380"},
		},
		S2S:     defaultS2S(),
		Cluster: defaultCluster(),
		TLS: TLS{MinVersion: tls.VersionTLS12, RecordLayer: RecordLayerParley, ACME: ACME{Directory: LetsEncryptDirectory, RetryAfter: 5 * time.Minute},
			SessionTickets: SessionTickets{Enabled: true, RotateEvery: 24 * time.Hour, Lifetime: 7 * 24 * time.Hour}},
		Storage: Storage{Kind: StorageSQLite},
		Auth: Auth{
			ScramIterations:        4096,
			AllowPlain:             true,
			FreeFailuresPerAccount: 5,
			FreeFailuresPerAddress: 20,
			FailureDelay:           time.Second,
			MaxFailureDelay:        15 * time.Second,
			FailureWindow:          10 * time.Minute,
			SASL2:                  true,
			FastTokenLifetime:      14 * 24 * time.Hour,
		},
		Limits: Limits{
			MaxStanzaBytes:     256 << 10,
			MaxDepth:           64,
			PreauthStanzaBytes: 8 << 10,
			PreauthElements:    32,
			PreauthTimeout:     30 * time.Second,
			SessionsPerAccount: 10,
			OutboundQueue:      1000,
			OfflineMessages:    1000,
			IdlePing:           5 * time.Minute,
			PingTimeout:        time.Minute,
			ParkAfter:          5 * time.Second,
			ComponentGrace:     10 * time.Second,

			OutboundQueueBytes:           2 << 20,
			DirectedPresences:            1000,
			SharedPresences:              1000,
			PreauthConnectionsPerAddress: 100,
			Rate:                         Rate{BytesPerSecond: 1 << 20, StanzasPerSecond: 100, Burst: 2 * time.Second},
			PreauthRate:                  Rate{BytesPerSecond: 16 << 10, StanzasPerSecond: 10, Burst: 5 * time.Second},
		},
		Quotas:           defaultQuotas(),
		Log:              Log{Level: slog.LevelInfo, Format: LogText},
		Registration:     Registration{MinPasswordLength: defaultMinPasswordLength, MaxPerIPPerHour: defaultRegistrationsPerIP},
		StreamManagement: defaultStreamManagement(),
		CSI:              defaultCSI(),
	}
}

// SQLitePath returns the SQLite database file: the configured path, or
// parley.db in the data directory.
func (c *Config) SQLitePath() string {
	if c.Storage.Path != "" {
		return c.Storage.Path
	}
	return filepath.Join(c.DataDir, sqliteFile)
}

// SelfSignedFiles returns where the self-signed certificate and key are
// kept when no certificate is configured: the tls directory of the data
// directory.
func (c *Config) SelfSignedFiles() (cert, key string) {
	dir := filepath.Join(c.DataDir, selfSignedSubdir)
	return filepath.Join(dir, selfSignedCert), filepath.Join(dir, selfSignedKey)
}

// TicketKeyFiles returns the encrypted TLS session ticket keys (in the
// data folder) and the key that encrypts them (tls.session_tickets.key_file
// if set).
func (c *Config) TicketKeyFiles() (keys, wrapKey string) {
	dir := filepath.Join(c.DataDir, selfSignedSubdir)
	keys, wrapKey = filepath.Join(dir, "session-ticket-keys"), filepath.Join(dir, "ticket-wrap.key")
	if c.TLS.SessionTickets.KeyFile != "" {
		wrapKey = c.TLS.SessionTickets.KeyFile
	}
	return keys, wrapKey
}

// ACMEDir returns the folder of the ACME account key and certificates:
// acme in the data directory.
func (c *Config) ACMEDir() string { return filepath.Join(c.DataDir, acmeSubdir) }

// ImportedDir returns the folder of the certificates `parley cert
// import` copied or linked: tls/imported in the data directory, one
// folder per certificate holding fullchain.pem and privkey.pem.
func (c *Config) ImportedDir() string {
	return filepath.Join(c.DataDir, selfSignedSubdir, importedSubdir)
}
