package config

import "go.yaml.in/yaml/v3"

// rate decodes a rate limit (limits.rate, limits.preauth_rate).
func (d *decoder) rate(at, n *yaml.Node, key string, r *Rate) {
	d.mapping(at, n, key, map[string]field{
		"bytes_per_second":   func(at, v *yaml.Node, k string) { d.size(at, v, k, &r.BytesPerSecond) },
		"stanzas_per_second": func(at, v *yaml.Node, k string) { d.integer(at, v, k, &r.StanzasPerSecond) },
		"burst":              func(at, v *yaml.Node, k string) { d.duration(at, v, k, &r.Burst) },
	})
}

// boundsProblems validates the per-session bounds and rates of the
// limits section.
func (c *Config) boundsProblems(add func(key, format string, args ...any)) {
	l := c.Limits
	if l.OutboundQueueBytes < l.MaxStanzaBytes {
		add("limits.outbound_queue_bytes", "must be at least limits.max_stanza_bytes (%d)", l.MaxStanzaBytes)
	}
	if l.DirectedPresences < 1 {
		add("limits.directed_presences", "must be at least 1")
	}
	if l.SharedPresences < 0 {
		add("limits.shared_presences", "must not be negative")
	}
	if l.PreauthConnectionsPerAddress < 0 {
		add("limits.preauth_connections_per_address", "must not be negative")
	}
	for _, r := range []struct {
		key  string
		rate Rate
	}{{"limits.rate", l.Rate}, {"limits.preauth_rate", l.PreauthRate}} {
		if r.rate.StanzasPerSecond < 0 {
			add(r.key+".stanzas_per_second", "must not be negative")
		}
		if (r.rate.BytesPerSecond > 0 || r.rate.StanzasPerSecond > 0) && r.rate.Burst < 0 {
			add(r.key+".burst", "must not be negative")
		}
	}
}
