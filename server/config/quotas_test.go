package config

import (
	"strings"
	"testing"
)

func TestQuotasSection(t *testing.T) {
	c, err := Parse("p.yaml", []byte(`quotas:
  archive_messages: 1000
  archive_bytes: 10MiB
  offline_bytes: 2MiB
  roster_items: 300
  pending_subscriptions: 20
  private_entries: 10
  private_bytes: 64KiB
  vcard_bytes: 32KiB
  pubsub_nodes: 30
  pubsub_items: 50
  pubsub_item_bytes: 100KiB
  pubsub_bytes: 5MiB
  block_items: 200
  push_registrations: 5
`))
	if err != nil {
		t.Fatal(err)
	}
	want := Quotas{
		ArchiveMessages: 1000, ArchiveBytes: 10 << 20, OfflineBytes: 2 << 20, RosterItems: 300,
		PendingSubscriptions: 20, PrivateEntries: 10, PrivateBytes: 64 << 10, VCardBytes: 32 << 10,
		PubSubNodes: 30, PubSubItems: 50, PubSubItemBytes: 100 << 10, PubSubBytes: 5 << 20,
		BlockItems: 200, PushRegistrations: 5,
	}
	if c.Quotas != want {
		t.Fatalf("quotas = %+v, want %+v", c.Quotas, want)
	}
	// A partial section keeps the other defaults.
	c, err = Parse("p.yaml", []byte("quotas:\n  roster_items: 42\n"))
	if err != nil {
		t.Fatal(err)
	}
	def := Default().Quotas
	def.RosterItems = 42
	if c.Quotas != def {
		t.Fatalf("quotas = %+v, want the defaults with roster_items 42", c.Quotas)
	}
	for src, key := range map[string]string{
		"quotas:\n  archive_messages: 0\n":    "quotas.archive_messages",
		"quotas:\n  archive_bytes: 100\n":     "quotas.archive_bytes",
		"quotas:\n  offline_bytes: -1\n":      "quotas.offline_bytes",
		"quotas:\n  roster_items: 0\n":        "quotas.roster_items",
		"quotas:\n  pending_subscriptions: 0": "quotas.pending_subscriptions",
		"quotas:\n  private_entries: -3\n":    "quotas.private_entries",
		"quotas:\n  vcard_bytes: 2GiB\n":      "quotas.vcard_bytes",
		"quotas:\n  pubsub_nodes: 0\n":        "quotas.pubsub_nodes",
		"quotas:\n  pubsub_items: 0\n":        "quotas.pubsub_items",
		"quotas:\n  pubsub_item_bytes: 1\n":   "quotas.pubsub_item_bytes",
		"quotas:\n  pubsub_bytes: 100\n":      "quotas.pubsub_bytes",
		"quotas:\n  block_items: 0\n":         "quotas.block_items",
		"quotas:\n  push_registrations: 0\n":  "quotas.push_registrations",
		"quotas:\n  roster_size: 3\n":         "roster_size",
	} {
		_, err := Parse("p.yaml", []byte(src))
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("Parse(%q) = %v, want an error about %s", src, err, key)
		}
	}
}
