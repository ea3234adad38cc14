package mam_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/mam"
)

// TestIntegrationArchiveQuotaMessages: an archive past archive_messages
// loses its oldest messages (rolling retention, trimmed to nine tenths of
// the quota), while every message is still delivered. Both ends'
// archives obey the quota.
func TestIntegrationArchiveQuotaMessages(t *testing.T) {
	s := newServer(t, func(c *config.Config) { c.Quotas.ArchiveMessages = 10 })
	alice := s.AddUser(t, "alice", "pw")
	s.AddUser(t, "bob", "pw")
	a, b := login(t, s, "alice", "a"), login(t, s, "bob", "b")
	for i := range 15 {
		chat(t, b, a, alice.String(), fmt.Sprintf("m%02d", i)) // fails unless delivered
	}
	// At the 11th and every second one after: trimmed to 9.
	var want []string
	for i := 6; i < 15; i++ {
		want = append(want, fmt.Sprintf("m%02d", i))
	}
	res, _ := mustQuery(t, a, mam.NewQuery())
	if got := bodies(res); !slices.Equal(got, want) {
		t.Fatalf("alice's archive = %v, want the newest nine %v", got, want)
	}
	// A session that sent no presence: nothing but the results reaches it.
	res, _ = mustQuery(t, s.Client(t, "bob", "pw", "query"), mam.NewQuery())
	if got := bodies(res); !slices.Equal(got, want) {
		t.Fatalf("bob's archive = %v, want the newest nine %v", got, want)
	}
}

// TestIntegrationArchiveQuotaBytes: the byte quota works the same way.
func TestIntegrationArchiveQuotaBytes(t *testing.T) {
	s := newServer(t, func(c *config.Config) { c.Quotas.ArchiveBytes = 4096 })
	alice := s.AddUser(t, "alice", "pw")
	s.AddUser(t, "bob", "pw")
	a, b := login(t, s, "alice", "a"), login(t, s, "bob", "b")
	pad := strings.Repeat("x", 1000)
	for i := range 10 {
		chat(t, b, a, alice.String(), fmt.Sprintf("m%02d %s", i, pad))
	}
	res, _ := mustQuery(t, a, mam.NewQuery())
	got := bodies(res)
	// About 1.2 KB per message: 3 or 4 fit, and they are the newest.
	if len(got) < 3 || len(got) > 4 {
		t.Fatalf("archive holds %d messages of about 1.2 KB under a 4 KiB quota", len(got))
	}
	for i, body := range got {
		if want := fmt.Sprintf("m%02d", 10-len(got)+i); !strings.HasPrefix(body, want) {
			t.Fatalf("archive message %d = %.3q…, want %s: the newest kept", i, body, want)
		}
	}
}
