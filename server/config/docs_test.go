package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDocsCoverEveryKey(t *testing.T) {
	// Every key the decoder accepts, and every key of the modules'
	// sections (decoded by the modules), must be documented and shown in
	// the example file.
	allKeys := []string{
		"domains", "data_dir", "listeners", "type", "address", "tls", "certificates", "cert", "key",
		"min_version", "record_layer", "session_tickets", "rotate_every", "lifetime", "key_file", "acme", "email", "directory", "challenges", "retry_after", "storage", "auth", "scram_iterations", "allow_plain", "free_failures_per_account",
		"free_failures_per_address", "failure_delay", "max_failure_delay", "failure_window", "limits", "max_stanza_bytes", "max_depth",
		"preauth_stanza_bytes", "preauth_elements", "preauth_timeout", "sessions_per_account",
		"outbound_queue", "offline_messages", "idle_ping", "ping_timeout", "park_after", "bosh_inactivity", "bosh_polling", "runtime", "gc_min_heap", "modules", "version", "hide",
		"disabled", "mam", "default", "retention_days", "log", "level", "format",
		"admins", "registration", "enabled", "min_password_length", "require_invite", "max_per_ip_per_hour",
		"sasl2", "fast_token_lifetime", "contact_addresses", "abuse", "admin",
		"feedback", "sales", "security", "status", "support", "server_info", "form_type", "fields", "var", "values",
		"stream_management", "resume_timeout", "max_unacked", "ack_every", "ack_interval", "csi", "max_held",
		"muc", "domain_prefix", "history", "max_history", "max_users", "room_creation", "history_bytes", "queue_bytes", "max_user_rooms", "max_affiliations",
		"archive", "archive_retention_days", "max_subject", "message_rate", "message_burst",
		"quotas", "archive_messages", "archive_bytes", "offline_bytes", "roster_items", "pending_subscriptions",
		"private_entries", "private_bytes", "vcard_bytes", "pubsub_nodes", "pubsub_items", "pubsub_item_bytes", "pubsub_bytes", "block_items", "push_registrations",
		"outbound_queue_bytes", "directed_presences", "shared_presences", "preauth_connections_per_address", "rate", "preauth_rate",
		"bytes_per_second", "stanzas_per_second", "burst",
		"s2s", "dialback", "require_verified", "allow", "deny", "routes", "domains", "ca_file", "max_links", "max_incoming",
		"connect_timeout", "idle_timeout",
		"upload", "max_file_size", "quota", "retention", "base_url", "dir", "http", "websocket_origins", "trusted_proxies",
		"components", "domain", "secret", "privileges", "roster", "roster_push", "message", "presence", "iq", "delegations", "privilege", "timeout",
		"extdisco", "ttl", "host", "relay_address", "relay_bind", "min_port", "max_port", "max_allocations", "max_allocations_per_user", "max_connections",
		"allocation_rate", "total_rate", "allow_peers", "deny_peers", "external_host", "external_port", "external_tls_port",
		"external_transports", "external_secret",
		"cluster", "node", "name", "nats", "user", "password", "token", "creds_file", "cert_file", "key_file", "node_ttl", "inbound_bytes", "max_remote_sessions",
	}
	docs, err := os.ReadFile(filepath.Join("..", "..", "docs", "config.md"))
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile(filepath.Join("..", "..", "docs", "parley.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range allKeys {
		if !strings.Contains(string(docs), "`"+k+"`") && !strings.Contains(string(docs), "."+k+"`") {
			t.Errorf("docs/config.md does not document %q", k)
		}
		if !strings.Contains(string(example), k+":") {
			t.Errorf("docs/parley.example.yaml does not show %q", k)
		}
	}
}
