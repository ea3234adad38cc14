package muc

import (
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// parseSettings reads a configuration file whose modules.muc section the
// module decodes, as the server does at start-up.
func parseSettings(src string) (settings, error) {
	var got settings
	_, err := config.ParseModules("p.yaml", []byte(src), func(*config.Config) map[string]config.SectionDecoder {
		return map[string]config.SectionDecoder{"muc": func(s config.Section) error {
			c, err := decodeSettings(s)
			got = c
			return err
		}}
	})
	return got, err
}

func TestMUCSection(t *testing.T) {
	c, err := parseSettings("modules:\n  muc:\n    domain_prefix: chat\n    history: 5\n    max_history: 10\n    max_users: 50\n    room_creation: admins\n    history_bytes: 65536\n    queue_bytes: 1048576\n    max_user_rooms: 7\n    max_affiliations: 50\n    paced_bytes: 1MiB\n    max_vcard_bytes: 32KiB\n")
	if err != nil {
		t.Fatal(err)
	}
	want := settings{DomainPrefix: "chat", History: 5, MaxHistory: 10, MaxUsers: 50, RoomCreation: "admins", HistoryBytes: 65536, QueueBytes: 1 << 20, MaxUserRooms: 7, MaxAffiliations: 50, PacedBytes: 1 << 20, MaxVCardBytes: 32 << 10}
	if c != want {
		t.Fatalf("modules.muc = %+v, want %+v", c, want)
	}
	for src, key := range map[string]string{
		"modules:\n  muc:\n    domain_prefix: 'bad prefix'\n":      "modules.muc.domain_prefix",
		"modules:\n  muc:\n    history: -1\n":                      "modules.muc.history",
		"modules:\n  muc:\n    history: 50\n    max_history: 10\n": "modules.muc.history",
		"modules:\n  muc:\n    max_users: -2\n":                    "modules.muc.max_users",
		"modules:\n  muc:\n    room_creation: everyone\n":          "modules.muc.room_creation",
		"modules:\n  muc:\n    history_bytes: -1\n":                "modules.muc.history_bytes",
		"modules:\n  muc:\n    queue_bytes: -1\n":                  "modules.muc.queue_bytes",
		"modules:\n  muc:\n    max_user_rooms: -1\n":               "modules.muc.max_user_rooms",
		"modules:\n  muc:\n    max_affiliations: -1\n":             "modules.muc.max_affiliations",
		"modules:\n  muc:\n    paced_bytes: -1\n":                  "modules.muc.paced_bytes",
		"modules:\n  muc:\n    max_vcard_bytes: -1\n":              "modules.muc.max_vcard_bytes",
		"modules:\n  muc:\n    history_length: 3\n":                "history_length",
	} {
		_, err := parseSettings(src)
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("Parse(%q) = %v, want an error about %s", src, err, key)
		}
	}
}

// TestConfigureReplacesSettings: the section replaces the settings the
// module was built with, keys it leaves out taking their defaults, and
// keeps the options that are not settings (the admins).
func TestConfigureReplacesSettings(t *testing.T) {
	cfg, err := config.Parse("p.yaml", []byte("modules:\n  muc:\n    max_history: 10\n    room_creation: admins\n"))
	if err != nil {
		t.Fatal(err)
	}
	s, _ := cfg.Modules.Section("muc")
	admins := []jid.JID{jid.MustParse("root@example.org")}
	m := New(Options{History: 3, MaxUsers: 9, Admins: admins})
	if err := m.Configure(s); err != nil {
		t.Fatal(err)
	}
	// history 0 means 20, capped by max_history.
	want := Options{Prefix: DefaultPrefix, History: 10, MaxHistory: 10, Create: CreateAdmins,
		HistoryBytes: DefaultHistoryBytes, QueueBytes: DefaultQueueBytes, MaxUserRooms: DefaultMaxUserRooms, MaxAffiliations: DefaultMaxAffiliations}
	if got := m.opts; got.Prefix != want.Prefix || got.History != want.History || got.MaxHistory != want.MaxHistory ||
		got.MaxUsers != 0 || got.Create != want.Create || got.HistoryBytes != want.HistoryBytes || got.QueueBytes != want.QueueBytes ||
		got.MaxUserRooms != want.MaxUserRooms || got.MaxAffiliations != want.MaxAffiliations || len(got.Admins) != 1 || got.Admins[0] != admins[0] {
		t.Errorf("options = %+v, want %+v", got, want)
	}
}

// The archive and limit keys of modules.muc: archive false turns the
// archiving default off, the bounds reach the options, negative bounds
// are refused.
func TestMUCArchiveAndLimitKeys(t *testing.T) {
	c, err := parseSettings("modules:\n  muc:\n    archive: false\n    archive_messages: 500\n    archive_bytes: 1MiB\n    archive_retention_days: 7\n    max_subject: 200\n    message_rate: 3\n    message_burst: 9\n")
	if err != nil {
		t.Fatal(err)
	}
	want := settings{ArchiveOff: true, ArchiveMessages: 500, ArchiveBytes: 1 << 20, ArchiveDays: 7, MaxSubject: 200, MessageRate: 3, MessageBurst: 9}
	if c != want {
		t.Fatalf("modules.muc = %+v, want %+v", c, want)
	}
	if c, _ := parseSettings("modules:\n  muc:\n    archive: true\n"); c.ArchiveOff {
		t.Fatal("archive: true turned archiving off")
	}
	for _, key := range []string{"archive_messages", "archive_bytes", "archive_retention_days", "max_subject", "message_rate", "message_burst"} {
		src := "modules:\n  muc:\n    " + key + ": -1\n"
		if _, err := parseSettings(src); err == nil || !strings.Contains(err.Error(), "modules.muc."+key) {
			t.Errorf("Parse(%q) = %v, want an error about %s", src, err, key)
		}
	}
	cfg, err := config.Parse("p.yaml", []byte("modules:\n  muc:\n    archive: false\n    message_rate: 2\n"))
	if err != nil {
		t.Fatal(err)
	}
	s, _ := cfg.Modules.Section("muc")
	m := New(Options{})
	if err := m.Configure(s); err != nil {
		t.Fatal(err)
	}
	if o := m.opts; !o.NoArchive || o.MessageRate != 2 || o.MessageBurst != 4 || o.MaxSubject != DefaultMaxSubject ||
		o.ArchiveQuota.Count != DefaultArchiveMessages || o.ArchiveQuota.Bytes != DefaultArchiveBytes {
		t.Fatalf("options = %+v", o)
	}
}
