package config

import (
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Cluster makes this server one node of a cluster: nodes share the
// PostgreSQL storage and find each other's sessions, and route stanzas
// between them, through NATS with JetStream. Key "cluster".
type Cluster struct {
	// Enabled makes the server a cluster node. Key "enabled".
	Enabled bool
	// Node is this node's name, unique in the cluster: letters, digits,
	// '-' and '_'. Empty: the host name, with other characters replaced
	// by '-'. Key "node".
	Node string
	// Name names the cluster: its NATS subjects and JetStream buckets
	// start with it, so that several clusters can share a NATS server.
	// Key "name".
	Name string
	// NATS lists the URLs of the NATS servers (nats://host:4222,
	// tls://host:4222). Key "nats".
	NATS []string
	// User and Password authenticate to NATS with a user name; Token with
	// a token; CredsFile with a JWT and NKey credentials file. At most one
	// kind. Keys "user", "password", "token", "creds_file".
	User, Password, Token, CredsFile string
	// CAFile is a PEM file of authorities trusted for the NATS servers'
	// certificates; CertFile and KeyFile a client certificate for mutual
	// TLS. Setting any of them requires TLS. Keys "ca_file", "cert_file",
	// "key_file".
	CAFile, CertFile, KeyFile string
	// NodeTTL is how long a node that stopped renewing its lease (it died
	// or lost NATS) keeps its sessions in the directory. Key "node_ttl".
	NodeTTL time.Duration
	// QueueBytes bounds what is queued for one other node (size). Key
	// "queue_bytes".
	QueueBytes int
	// InboundBytes bounds what a node received from the others and has not
	// delivered yet (size). Key "inbound_bytes".
	InboundBytes int
	// MaxRemoteSessions bounds the sessions of other nodes this node
	// keeps in its directory. Key "max_remote_sessions".
	MaxRemoteSessions int
	// RoomBytes bounds what the node serving a chat room saves of it for
	// the node that serves it next (its occupants, and a temporary
	// room's configuration and affiliations): past it occupants are left
	// out. Key "room_bytes".
	RoomBytes int
	// Advertise lists the addresses (host:port, IPv6 hosts in brackets)
	// clients reach this node at, first preferred: a node that drains
	// sends its clients to another node's first address with
	// <see-other-host/>. Empty: the c2s listeners' addresses, the host
	// name standing for an unspecified IP (0.0.0.0, [::]). Key
	// "advertise".
	Advertise []string
	// Resume lets a stream management session resume on another node
	// (its node died, drains, or the client reconnected elsewhere);
	// default on. Journal keeps the messages a session has not had
	// acknowledged in JetStream, so that they survive their node's death
	// (default on); JournalBytes bounds that journal and the resumption
	// states (size, default 256MiB). Keys "resume", "journal",
	// "journal_bytes".
	Resume, Journal bool
	JournalBytes    int
	// DrainWait is how long a draining node keeps the resumable sessions
	// of the clients it sent elsewhere for them to resume on another node
	// (default 10s; 0: they end at once, as without resumption). Key
	// "drain_wait".
	DrainWait time.Duration
	// AdvertiseWeb lists the URIs of this node's web endpoints: XMPP over
	// WebSocket (ws:// or wss://) and BOSH (http:// or https://). A node
	// that drains sends its WebSocket clients to another node's
	// WebSocket URI (RFC 7395 §3.6.1, see-other-uri) and its BOSH
	// clients to another node's BOSH URI (XEP-0124 §17.2, see-other-uri),
	// never from a secure endpoint to a plain one. Empty: those of the
	// http and https listeners, the host name standing for an
	// unspecified IP. Key "advertise_web".
	AdvertiseWeb []string
}

// defaultCluster is off; its values apply when it is turned on.
func defaultCluster() Cluster {
	return Cluster{
		Name:              "parley",
		NATS:              []string{"nats://127.0.0.1:4222"},
		NodeTTL:           15 * time.Second,
		QueueBytes:        8 << 20,
		InboundBytes:      64 << 20,
		MaxRemoteSessions: 1_000_000,
		RoomBytes:         256 << 10,
		Resume:            true,
		Journal:           true,
		JournalBytes:      256 << 20,
		DrainWait:         10 * time.Second,
	}
}

// clusterToken is what node and cluster names may hold: one NATS subject
// token, also valid in a JetStream bucket name and key.
var clusterToken = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// NodeName returns the node's name: Node, or the host name made a valid
// name.
func (c Cluster) NodeName() (string, error) {
	if c.Node != "" {
		return c.Node, nil
	}
	h, err := os.Hostname()
	if err != nil {
		return "", err
	}
	h = strings.Map(func(r rune) rune {
		if r < 128 && (r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return r
		}
		return '-'
	}, h)
	if len(h) > 64 {
		h = h[:64]
	}
	return h, nil
}

// cluster decodes the cluster section.
func (d *decoder) cluster(at, n *yaml.Node, key string, c *Cluster) {
	d.mapping(at, n, key, map[string]field{
		"enabled":             func(at, v *yaml.Node, k string) { d.boolean(at, v, k, &c.Enabled) },
		"node":                func(at, v *yaml.Node, k string) { d.str(at, v, k, &c.Node) },
		"name":                func(at, v *yaml.Node, k string) { d.str(at, v, k, &c.Name) },
		"nats":                func(at, v *yaml.Node, k string) { d.stringOrList(at, v, k, &c.NATS) },
		"user":                func(at, v *yaml.Node, k string) { d.str(at, v, k, &c.User) },
		"password":            func(at, v *yaml.Node, k string) { d.str(at, v, k, &c.Password) },
		"token":               func(at, v *yaml.Node, k string) { d.str(at, v, k, &c.Token) },
		"creds_file":          func(at, v *yaml.Node, k string) { d.str(at, v, k, &c.CredsFile) },
		"ca_file":             func(at, v *yaml.Node, k string) { d.str(at, v, k, &c.CAFile) },
		"cert_file":           func(at, v *yaml.Node, k string) { d.str(at, v, k, &c.CertFile) },
		"key_file":            func(at, v *yaml.Node, k string) { d.str(at, v, k, &c.KeyFile) },
		"node_ttl":            func(at, v *yaml.Node, k string) { d.duration(at, v, k, &c.NodeTTL) },
		"queue_bytes":         func(at, v *yaml.Node, k string) { d.size(at, v, k, &c.QueueBytes) },
		"inbound_bytes":       func(at, v *yaml.Node, k string) { d.size(at, v, k, &c.InboundBytes) },
		"max_remote_sessions": func(at, v *yaml.Node, k string) { d.integer(at, v, k, &c.MaxRemoteSessions) },
		"room_bytes":          func(at, v *yaml.Node, k string) { d.size(at, v, k, &c.RoomBytes) },
		"advertise":           func(at, v *yaml.Node, k string) { d.stringOrList(at, v, k, &c.Advertise) },
		"resume":              func(at, v *yaml.Node, k string) { d.boolean(at, v, k, &c.Resume) },
		"journal":             func(at, v *yaml.Node, k string) { d.boolean(at, v, k, &c.Journal) },
		"journal_bytes":       func(at, v *yaml.Node, k string) { d.size(at, v, k, &c.JournalBytes) },
		"drain_wait":          func(at, v *yaml.Node, k string) { d.duration(at, v, k, &c.DrainWait) },
		"advertise_web":       func(at, v *yaml.Node, k string) { d.stringOrList(at, v, k, &c.AdvertiseWeb) },
	})
}

// stringOrList decodes a list of strings, or one string as a list of one.
func (d *decoder) stringOrList(at, v *yaml.Node, k string, out *[]string) {
	if v.Kind == yaml.ScalarNode {
		var s string
		if d.str(at, v, k, &s) {
			*out = []string{s}
		}
		return
	}
	d.stringList(at, v, k, out)
}

// clusterProblems validates the cluster section when it is enabled.
func (c *Config) clusterProblems(add func(key, format string, args ...any)) {
	cl := c.Cluster
	if !cl.Enabled {
		return
	}
	if c.Storage.Kind != StoragePostgres {
		add("storage", "a cluster needs PostgreSQL storage shared by its nodes (cluster.enabled is true)")
	}
	if cl.Node != "" && !clusterToken.MatchString(cl.Node) {
		add("cluster.node", "must be 1 to 64 letters, digits, '-' or '_', not %q", cl.Node)
	}
	if !clusterToken.MatchString(cl.Name) {
		add("cluster.name", "must be 1 to 64 letters, digits, '-' or '_', not %q", cl.Name)
	}
	if len(cl.NATS) == 0 {
		add("cluster.nats", "at least one NATS server URL is required")
	}
	for i, s := range cl.NATS {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "nats" && u.Scheme != "tls") || u.Host == "" {
			add("cluster.nats["+strconv.Itoa(i)+"]", "must be a nats:// or tls:// URL, not %q", s)
		}
	}
	kinds := 0
	for _, set := range []bool{cl.User != "" || cl.Password != "", cl.Token != "", cl.CredsFile != ""} {
		if set {
			kinds++
		}
	}
	if kinds > 1 {
		add("cluster.user", "set one of user and password, token or creds_file")
	}
	if cl.Password != "" && cl.User == "" {
		add("cluster.user", "a password needs a user")
	}
	if (cl.CertFile == "") != (cl.KeyFile == "") {
		add("cluster.cert_file", "cert_file and key_file go together")
	}
	if cl.NodeTTL < 3*time.Second {
		add("cluster.node_ttl", "must be at least 3s")
	}
	if cl.QueueBytes < 64<<10 {
		add("cluster.queue_bytes", "must be at least 64KiB")
	}
	if cl.InboundBytes < 64<<10 {
		add("cluster.inbound_bytes", "must be at least 64KiB")
	}
	for i, a := range cl.Advertise {
		if h, p, err := net.SplitHostPort(a); err != nil || h == "" || p == "" || strings.ContainsAny(a, " \t<>&") {
			add("cluster.advertise["+strconv.Itoa(i)+"]", "must be host:port (an IPv6 host in brackets), not %q", a)
		}
	}
	if cl.JournalBytes < 1<<20 {
		add("cluster.journal_bytes", "must be at least 1MiB")
	}
	for i, a := range cl.AdvertiseWeb {
		u, err := url.Parse(a)
		if err != nil || u.Host == "" || strings.ContainsAny(a, " \t<>&\"'") || (u.Scheme != "ws" && u.Scheme != "wss" && u.Scheme != "http" && u.Scheme != "https") {
			add("cluster.advertise_web["+strconv.Itoa(i)+"]", "must be a ws://, wss://, http:// or https:// URI, not %q", a)
		}
	}
	if cl.MaxRemoteSessions < 1 {
		add("cluster.max_remote_sessions", "must be at least 1")
	}
	if cl.RoomBytes < 4<<10 || cl.RoomBytes > 64<<20 {
		add("cluster.room_bytes", "must be between 4KiB and 64MiB")
	}
}
