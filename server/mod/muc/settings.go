package muc

import (
	"strings"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/storage"
)

// settings are the module's section of the configuration, modules.muc;
// zero values mean the defaults, as in [Options].
type settings struct {
	DomainPrefix    string // key domain_prefix
	History         int    // key history
	MaxHistory      int    // key max_history
	MaxUsers        int    // key max_users
	HistoryBytes    int    // key history_bytes
	QueueBytes      int    // key queue_bytes
	PacedBytes      int    // key paced_bytes
	MaxVCardBytes   int    // key max_vcard_bytes
	MaxUserRooms    int    // key max_user_rooms
	MaxAffiliations int    // key max_affiliations
	RoomCreation    string // key room_creation
	ArchiveOff      bool   // key archive, inverted: false turns the default off
	ArchiveMessages int    // key archive_messages
	ArchiveBytes    int    // key archive_bytes
	ArchiveDays     int    // key archive_retention_days
	MaxSubject      int    // key max_subject
	MessageRate     int    // key message_rate
	MessageBurst    int    // key message_burst
}

// decodeSettings decodes and checks the section s.
func decodeSettings(s config.Section) (settings, error) {
	var c settings
	err := s.Decode(config.Fields{
		"domain_prefix":    func(v config.Value) { v.String(&c.DomainPrefix) },
		"history":          func(v config.Value) { v.Int(&c.History) },
		"max_history":      func(v config.Value) { v.Int(&c.MaxHistory) },
		"max_users":        func(v config.Value) { v.Int(&c.MaxUsers) },
		"history_bytes":    func(v config.Value) { v.Int(&c.HistoryBytes) },
		"queue_bytes":      func(v config.Value) { v.Int(&c.QueueBytes) },
		"paced_bytes":      func(v config.Value) { v.Size(&c.PacedBytes) },
		"max_vcard_bytes":  func(v config.Value) { v.Size(&c.MaxVCardBytes) },
		"max_user_rooms":   func(v config.Value) { v.Int(&c.MaxUserRooms) },
		"max_affiliations": func(v config.Value) { v.Int(&c.MaxAffiliations) },
		"room_creation":    func(v config.Value) { v.String(&c.RoomCreation) },
		"archive": func(v config.Value) {
			on := true
			v.Bool(&on)
			c.ArchiveOff = !on
		},
		"archive_messages":       func(v config.Value) { v.Int(&c.ArchiveMessages) },
		"archive_bytes":          func(v config.Value) { v.Size(&c.ArchiveBytes) },
		"archive_retention_days": func(v config.Value) { v.Int(&c.ArchiveDays) },
		"max_subject":            func(v config.Value) { v.Int(&c.MaxSubject) },
		"message_rate":           func(v config.Value) { v.Int(&c.MessageRate) },
		"message_burst":          func(v config.Value) { v.Int(&c.MessageBurst) },
	}, func(report config.Report) {
		if p := c.DomainPrefix; p != "" {
			if _, err := config.NormalizeDomain(p + ".example.org"); err != nil || strings.HasPrefix(p, ".") || strings.HasSuffix(p, ".") {
				report("domain_prefix", "%q does not make a domain name", p)
			}
		}
		for _, f := range []struct {
			key string
			v   int
		}{{"history", c.History}, {"max_history", c.MaxHistory}, {"max_users", c.MaxUsers},
			{"history_bytes", c.HistoryBytes}, {"queue_bytes", c.QueueBytes}, {"paced_bytes", c.PacedBytes}, {"max_vcard_bytes", c.MaxVCardBytes},
			{"max_user_rooms", c.MaxUserRooms}, {"max_affiliations", c.MaxAffiliations},
			{"archive_messages", c.ArchiveMessages}, {"archive_bytes", c.ArchiveBytes}, {"archive_retention_days", c.ArchiveDays}, {"max_subject", c.MaxSubject},
			{"message_rate", c.MessageRate}, {"message_burst", c.MessageBurst}} {
			if f.v < 0 {
				report(f.key, "must not be negative")
			}
		}
		if c.MaxHistory > 0 && c.History > c.MaxHistory {
			report("history", "must not exceed %s.max_history (%d)", s.Key(), c.MaxHistory)
		}
		if r := c.RoomCreation; r != "" && r != CreateLocal && r != CreateAdmins {
			report("room_creation", "must be \"local\" or \"admins\", not %q", r)
		}
	})
	return c, err
}

// Configure implements module.Configurable: the section modules.muc
// replaces the settings the module was built with (keys it leaves out
// take their defaults). Call it before Register.
func (m *Module) Configure(s config.Section) error {
	c, err := decodeSettings(s)
	if err != nil {
		return err
	}
	o := m.opts
	o.Prefix, o.History, o.MaxHistory, o.MaxUsers = c.DomainPrefix, c.History, c.MaxHistory, c.MaxUsers
	o.HistoryBytes, o.QueueBytes, o.MaxUserRooms, o.MaxAffiliations = c.HistoryBytes, c.QueueBytes, c.MaxUserRooms, c.MaxAffiliations
	o.Create, o.PacedBytes, o.MaxVCardBytes = c.RoomCreation, c.PacedBytes, c.MaxVCardBytes
	o.NoArchive, o.ArchiveQuota = c.ArchiveOff, storage.Quota{Count: c.ArchiveMessages, Bytes: int64(c.ArchiveBytes)}
	o.ArchiveRetention = time.Duration(c.ArchiveDays) * 24 * time.Hour
	o.MaxSubject, o.MessageRate, o.MessageBurst = c.MaxSubject, c.MessageRate, c.MessageBurst
	m.opts = o.normalized()
	return nil
}
