package config

import (
	"go.yaml.in/yaml/v3"
)

// Quotas bound what one account may keep on the server, per kind of data.
// The defaults are far above what a person's use reaches and low enough
// that no account can fill the disk. Key "quotas". (The number of offline
// messages is limits.offline_messages.)
type Quotas struct {
	// ArchiveMessages is the most messages one account's archive
	// (XEP-0313) keeps; past it the oldest are deleted. Key
	// "archive_messages".
	ArchiveMessages int
	// ArchiveBytes is the most bytes of stored stanzas one account's
	// archive keeps; past it the oldest messages are deleted. Key
	// "archive_bytes".
	ArchiveBytes int
	// OfflineBytes is the most bytes of offline messages stored for one
	// account; a message that does not fit is bounced. Key
	// "offline_bytes".
	OfflineBytes int
	// RosterItems is the most contacts one roster holds. Key
	// "roster_items".
	RosterItems int
	// PendingSubscriptions is the most unanswered inbound subscription
	// requests kept for one account. Key "pending_subscriptions".
	PendingSubscriptions int
	// PrivateEntries is the most elements one account keeps in private
	// XML storage (XEP-0049). Key "private_entries".
	PrivateEntries int
	// PrivateBytes is the most bytes one account keeps in private XML
	// storage. Key "private_bytes".
	PrivateBytes int
	// VCardBytes is the largest vCard (XEP-0054) accepted. Key
	// "vcard_bytes".
	VCardBytes int
	// PubSubNodes is the most nodes one account may own: on its PEP
	// service, and those it created on a pubsub service. Key
	// "pubsub_nodes".
	PubSubNodes int
	// PubSubItems is the most items one node keeps (what max_items "max"
	// means; larger max_items values are capped to it). Key
	// "pubsub_items".
	PubSubItems int
	// PubSubItemBytes is the largest item payload accepted. Key
	// "pubsub_item_bytes".
	PubSubItemBytes int
	// PubSubBytes is the most bytes of item payloads in the nodes one
	// account owns (its PEP service, and its nodes on a pubsub service).
	// Key "pubsub_bytes".
	PubSubBytes int
	// BlockItems is the most entries one account's block list (XEP-0191)
	// holds. Key "block_items".
	BlockItems int
	// PushRegistrations is the most push services and nodes (XEP-0357)
	// one account may enable notifications to. Key "push_registrations".
	PushRegistrations int
}

// defaultQuotas are the defaults, also documented in docs/config.md.
func defaultQuotas() Quotas {
	return Quotas{
		ArchiveMessages:      500_000,
		ArchiveBytes:         256 << 20,
		OfflineBytes:         16 << 20,
		RosterItems:          5000,
		PendingSubscriptions: 500,
		PrivateEntries:       100,
		PrivateBytes:         1 << 20,
		VCardBytes:           64 << 10,
		PubSubNodes:          256,
		PubSubItems:          1000,
		PubSubItemBytes:      256 << 10,
		PubSubBytes:          64 << 20,
		BlockItems:           1000,
		PushRegistrations:    20,
	}
}

// quotas decodes the quotas section.
func (d *decoder) quotas(at, n *yaml.Node, key string, q *Quotas) {
	d.mapping(at, n, key, map[string]field{
		"archive_messages":      func(at, v *yaml.Node, k string) { d.integer(at, v, k, &q.ArchiveMessages) },
		"archive_bytes":         func(at, v *yaml.Node, k string) { d.size(at, v, k, &q.ArchiveBytes) },
		"offline_bytes":         func(at, v *yaml.Node, k string) { d.size(at, v, k, &q.OfflineBytes) },
		"roster_items":          func(at, v *yaml.Node, k string) { d.integer(at, v, k, &q.RosterItems) },
		"pending_subscriptions": func(at, v *yaml.Node, k string) { d.integer(at, v, k, &q.PendingSubscriptions) },
		"private_entries":       func(at, v *yaml.Node, k string) { d.integer(at, v, k, &q.PrivateEntries) },
		"private_bytes":         func(at, v *yaml.Node, k string) { d.size(at, v, k, &q.PrivateBytes) },
		"vcard_bytes":           func(at, v *yaml.Node, k string) { d.size(at, v, k, &q.VCardBytes) },
		"pubsub_nodes":          func(at, v *yaml.Node, k string) { d.integer(at, v, k, &q.PubSubNodes) },
		"pubsub_items":          func(at, v *yaml.Node, k string) { d.integer(at, v, k, &q.PubSubItems) },
		"pubsub_item_bytes":     func(at, v *yaml.Node, k string) { d.size(at, v, k, &q.PubSubItemBytes) },
		"pubsub_bytes":          func(at, v *yaml.Node, k string) { d.size(at, v, k, &q.PubSubBytes) },
		"block_items":           func(at, v *yaml.Node, k string) { d.integer(at, v, k, &q.BlockItems) },
		"push_registrations":    func(at, v *yaml.Node, k string) { d.integer(at, v, k, &q.PushRegistrations) },
	})
}

// quotaProblems validates the quotas section: every quota is at least 1
// (there is no "unlimited": a large value is the way to allow much), and
// a size at least the smallest useful one.
func (c *Config) quotaProblems(add func(key, format string, args ...any)) {
	q := c.Quotas
	for _, f := range []struct {
		key      string
		v, least int
	}{
		{"archive_messages", q.ArchiveMessages, 1},
		{"archive_bytes", q.ArchiveBytes, 1024},
		{"offline_bytes", q.OfflineBytes, 1024},
		{"roster_items", q.RosterItems, 1},
		{"pending_subscriptions", q.PendingSubscriptions, 1},
		{"private_entries", q.PrivateEntries, 1},
		{"private_bytes", q.PrivateBytes, 1024},
		{"vcard_bytes", q.VCardBytes, 1024},
		{"pubsub_nodes", q.PubSubNodes, 1},
		{"pubsub_items", q.PubSubItems, 1},
		{"pubsub_item_bytes", q.PubSubItemBytes, 1024},
		{"pubsub_bytes", q.PubSubBytes, 1024},
		{"block_items", q.BlockItems, 1},
		{"push_registrations", q.PushRegistrations, 1},
	} {
		if f.v < f.least {
			add("quotas."+f.key, "must be at least %d", f.least)
		}
	}
}
