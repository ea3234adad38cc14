package config

import (
	"time"

	"go.yaml.in/yaml/v3"
)

// StreamManagement configures XEP-0198 Stream Management. Key
// "stream_management".
type StreamManagement struct {
	// Enabled offers stream management. Key "enabled".
	Enabled bool
	// ResumeTimeout is how long a session whose connection was lost is
	// kept for resumption; 0 disables resumption. Key "resume_timeout".
	ResumeTimeout time.Duration
	// MaxUnacked is how many stanzas a session may leave unacknowledged
	// (and how many a detached session queues). Key "max_unacked".
	MaxUnacked int
	// AckEvery is after how many stanzas the server requests an ack. Key
	// "ack_every".
	AckEvery int
	// AckInterval is how long a stanza may stay unacknowledged before the
	// server requests an ack. Key "ack_interval".
	AckInterval time.Duration
}

// CSI configures XEP-0352 Client State Indication. Key "csi".
type CSI struct {
	// Enabled offers client state indication. Key "enabled".
	Enabled bool
	// MaxHeld is how many stanzas are held for an inactive client before
	// they are all delivered. Key "max_held".
	MaxHeld int
}

// Defaults of the two sections, also documented in docs/config.md.
func defaultStreamManagement() StreamManagement {
	return StreamManagement{Enabled: true, ResumeTimeout: 5 * time.Minute, MaxUnacked: 500, AckEvery: 5, AckInterval: 30 * time.Second}
}

func defaultCSI() CSI { return CSI{Enabled: true, MaxHeld: 500} }

// streamManagement decodes the stream_management section.
func (d *decoder) streamManagement(at, n *yaml.Node, key string, s *StreamManagement) {
	d.mapping(at, n, key, map[string]field{
		"enabled":        func(at, v *yaml.Node, k string) { d.boolean(at, v, k, &s.Enabled) },
		"resume_timeout": func(at, v *yaml.Node, k string) { d.duration(at, v, k, &s.ResumeTimeout) },
		"max_unacked":    func(at, v *yaml.Node, k string) { d.integer(at, v, k, &s.MaxUnacked) },
		"ack_every":      func(at, v *yaml.Node, k string) { d.integer(at, v, k, &s.AckEvery) },
		"ack_interval":   func(at, v *yaml.Node, k string) { d.duration(at, v, k, &s.AckInterval) },
	})
}

// csi decodes the csi section.
func (d *decoder) csi(at, n *yaml.Node, key string, c *CSI) {
	d.mapping(at, n, key, map[string]field{
		"enabled":  func(at, v *yaml.Node, k string) { d.boolean(at, v, k, &c.Enabled) },
		"max_held": func(at, v *yaml.Node, k string) { d.integer(at, v, k, &c.MaxHeld) },
	})
}

// smProblems validates the two sections.
func (c *Config) smProblems(add func(key, format string, args ...any)) {
	s := c.StreamManagement
	if s.ResumeTimeout < 0 {
		add("stream_management.resume_timeout", "must not be negative")
	}
	if s.MaxUnacked < 1 {
		add("stream_management.max_unacked", "must be at least 1")
	}
	if s.AckEvery < 1 {
		add("stream_management.ack_every", "must be at least 1")
	}
	if s.AckInterval <= 0 {
		add("stream_management.ack_interval", "must be positive")
	}
	if c.CSI.MaxHeld < 1 {
		add("csi.max_held", "must be at least 1")
	}
}
