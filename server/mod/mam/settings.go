package mam

import (
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/xmpp/mam"
)

var _ module.Configurable = (*Module)(nil)

// settings are the module's section of the configuration, modules.mam;
// zero values mean the defaults.
type settings struct {
	// Default is the archiving default: "always" (also when empty),
	// "roster" or "never". Key default.
	Default string
	// RetentionDays deletes archived messages older than this many days;
	// 0 keeps them forever. Key retention_days.
	RetentionDays int
	// QueueBytes bounds the stanza bytes waiting to be archived; 0 means
	// archive.DefaultQueueBytes. Key queue_bytes.
	QueueBytes int
}

// decodeSettings decodes and checks the section s.
func decodeSettings(s config.Section) (settings, error) {
	var c settings
	err := s.Decode(config.Fields{
		"default":        func(v config.Value) { v.String(&c.Default) },
		"retention_days": func(v config.Value) { v.Int(&c.RetentionDays) },
		"queue_bytes":    func(v config.Value) { v.Int(&c.QueueBytes) },
	}, func(report config.Report) {
		if d := c.Default; d != "" && d != mam.DefaultAlways && d != mam.DefaultRoster && d != mam.DefaultNever {
			report("default", "must be \"always\", \"roster\" or \"never\", not %q", d)
		}
		if c.RetentionDays < 0 {
			report("retention_days", "must not be negative")
		}
		if c.QueueBytes < 0 {
			report("queue_bytes", "must not be negative")
		}
	})
	return c, err
}

// Configure implements module.Configurable: the section modules.mam
// replaces the archiving default, retention and queue bound the module was built with
// (keys it leaves out take their defaults). Call it before Register.
func (m *Module) Configure(s config.Section) error {
	c, err := decodeSettings(s)
	if err != nil {
		return err
	}
	m.opts.Default = c.Default
	if m.opts.Default == "" {
		m.opts.Default = mam.DefaultAlways
	}
	m.opts.Retention = time.Duration(c.RetentionDays) * 24 * time.Hour
	m.opts.QueueBytes = c.QueueBytes
	return nil
}
