package config

import (
	"strings"
	"testing"
)

func TestMUCSection(t *testing.T) {
	c, err := Parse("p.yaml", []byte("modules:\n  muc:\n    domain_prefix: chat\n    history: 5\n    max_history: 10\n    max_users: 50\n    room_creation: admins\n    history_bytes: 65536\n    queue_bytes: 1048576\n    max_user_rooms: 7\n    max_affiliations: 50\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := MUCModule{DomainPrefix: "chat", History: 5, MaxHistory: 10, MaxUsers: 50, RoomCreation: "admins", HistoryBytes: 65536, QueueBytes: 1 << 20, MaxUserRooms: 7, MaxAffiliations: 50}
	if c.Modules.MUC != want {
		t.Fatalf("modules.muc = %+v, want %+v", c.Modules.MUC, want)
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
		"modules:\n  muc:\n    history_length: 3\n":                "history_length",
	} {
		_, err := Parse("p.yaml", []byte(src))
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("Parse(%q) = %v, want an error about %s", src, err, key)
		}
	}
}
