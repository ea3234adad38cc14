package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseCluster(t *testing.T) {
	c, err := Parse("p.yaml", []byte(`storage: "postgres://u@db/parley"
cluster:
  enabled: true
  node: node-1
  name: chat_prod
  nats: [nats://10.0.0.1:4222, "tls://10.0.0.2:4222"]
  user: parley
  password: secret
  ca_file: /etc/nats-ca.pem
  cert_file: /etc/n.pem
  key_file: /etc/n.key
  node_ttl: 20s
  queue_bytes: 1MiB
  inbound_bytes: 2MiB
  max_remote_sessions: 5000
  room_bytes: 128KiB
  advertise: [xmpp-1.example.org:5222, "[2001:db8::1]:5222"]
  resume: true
  journal: false
  journal_bytes: 64MiB
  drain_wait: 3s
  advertise_web: [wss://xmpp-1.example.org/xmpp-websocket, https://xmpp-1.example.org/http-bind]
`))
	if err != nil {
		t.Fatal(err)
	}
	want := Cluster{Enabled: true, Node: "node-1", Name: "chat_prod", NATS: []string{"nats://10.0.0.1:4222", "tls://10.0.0.2:4222"},
		User: "parley", Password: "secret", CAFile: "/etc/nats-ca.pem", CertFile: "/etc/n.pem", KeyFile: "/etc/n.key",
		NodeTTL: 20 * time.Second, QueueBytes: 1 << 20, InboundBytes: 2 << 20, MaxRemoteSessions: 5000, RoomBytes: 128 << 10,
		Advertise:    []string{"xmpp-1.example.org:5222", "[2001:db8::1]:5222"},
		AdvertiseWeb: []string{"wss://xmpp-1.example.org/xmpp-websocket", "https://xmpp-1.example.org/http-bind"},
		Resume:       true, Journal: false, JournalBytes: 64 << 20, DrainWait: 3 * time.Second}
	if !reflect.DeepEqual(c.Cluster, want) {
		t.Errorf("cluster = %+v, want %+v", c.Cluster, want)
	}
	// One URL may be written as a string.
	c, err = Parse("p.yaml", []byte("storage: \"postgres://u@db/p\"\ncluster: {enabled: true, nats: \"nats://n:4222\"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Cluster.NATS, []string{"nats://n:4222"}) {
		t.Errorf("nats = %q", c.Cluster.NATS)
	}
}

func TestClusterValidation(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		keys      []string
	}{
		{"sqlite", "cluster: {enabled: true}\n", []string{"storage"}},
		{"off needs nothing", "cluster: {enabled: false, node: 'bad name'}\n", nil},
		{"names", "storage: \"postgres://u@db/p\"\ncluster: {enabled: true, node: 'a.b', name: 'x y'}\n", []string{"cluster.node", "cluster.name"}},
		{"urls", "storage: \"postgres://u@db/p\"\ncluster: {enabled: true, nats: ['http://x', 'nats://']}\n", []string{"cluster.nats[0]", "cluster.nats[1]"}},
		{"advertise_web", "storage: \"postgres://u@db/p\"\ncluster: {enabled: true, advertise_web: ['wss://xmpp-1.example.org/xmpp-websocket', 'xmpp-1:5280', 'ftp://h/x', 'https://h/http-bind', 'https://h/<x>']}\n", []string{"cluster.advertise_web[1]", "cluster.advertise_web[2]", "cluster.advertise_web[4]"}},
		{"advertise", "storage: \"postgres://u@db/p\"\ncluster: {enabled: true, advertise: ['xmpp-1', ':5222', 'h:5222', '2001:db8::1:5222']}\n", []string{"cluster.advertise[0]", "cluster.advertise[1]", "cluster.advertise[3]"}},
		{"no url", "storage: \"postgres://u@db/p\"\ncluster: {enabled: true, nats: []}\n", []string{"cluster.nats"}},
		{"journal", "storage: \"postgres://u@db/p\"\ncluster: {enabled: true, journal_bytes: 1000}\n", []string{"cluster.journal_bytes"}},
		{"credentials", "storage: \"postgres://u@db/p\"\ncluster: {enabled: true, token: t, creds_file: f}\n", []string{"cluster.user"}},
		{"password alone", "storage: \"postgres://u@db/p\"\ncluster: {enabled: true, password: p}\n", []string{"cluster.user"}},
		{"half a key pair", "storage: \"postgres://u@db/p\"\ncluster: {enabled: true, cert_file: c}\n", []string{"cluster.cert_file"}},
		{"bounds", "storage: \"postgres://u@db/p\"\ncluster: {enabled: true, node_ttl: 1s, queue_bytes: 10, inbound_bytes: 10, max_remote_sessions: 0, room_bytes: 10}\n",
			[]string{"cluster.node_ttl", "cluster.queue_bytes", "cluster.inbound_bytes", "cluster.max_remote_sessions", "cluster.room_bytes"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte(tc.src))
			var got []string
			var es Errors
			var e *Error
			switch {
			case errors.As(err, &es):
				for _, e := range es {
					got = append(got, e.Key)
				}
			case errors.As(err, &e):
				got = []string{e.Key}
			case err != nil:
				t.Fatal(err)
			}
			if strings.Join(got, " ") != strings.Join(tc.keys, " ") {
				t.Errorf("errors at %q (%v), want %q", got, err, tc.keys)
			}
		})
	}
}

func TestClusterNodeNameDefaultsToHost(t *testing.T) {
	n, err := Cluster{}.NodeName()
	if err != nil {
		t.Fatal(err)
	}
	if !clusterToken.MatchString(n) {
		t.Errorf("NodeName() = %q, not a valid node name", n)
	}
	if n, _ := (Cluster{Node: "n1"}).NodeName(); n != "n1" {
		t.Errorf("NodeName() = %q, want n1", n)
	}
}
