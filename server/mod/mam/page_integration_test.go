package mam_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/mam"
)

// TestIntegrationPageFitsSessionBudget: a page of large archived messages
// (a stranger can fill an archive with the largest stanzas) is cut to
// what the session can take at once, instead of making the client a slow
// consumer at every sync; paging on from <fin/> still reaches every
// message, forwards and backwards.
func TestIntegrationPageFitsSessionBudget(t *testing.T) {
	const (
		budget  = 64 << 10
		payload = 12 << 10
		count   = 30 // 360 KB: more than four times the budget
	)
	s := newServer(t, func(c *config.Config) {
		c.Limits.MaxStanzaBytes = 32 << 10
		c.Limits.PreauthStanzaBytes = 8 << 10
		c.Limits.OutboundQueueBytes = budget
		c.Limits.Rate = config.Rate{}
		c.Modules.SetSection("mam", map[string]any{"default": "always"})
	})
	s.AddUser(t, "alice", "pw")
	s.AddUser(t, "mallory", "pw")
	a := login(t, s, "alice", "a")
	m := login(t, s, "mallory", "m")
	filler := strings.Repeat("x", payload)
	for i := range count {
		chat(t, m, a, a.JID().Bare().String(), fmt.Sprintf("%02d %s", i, filler))
	}

	cfg := s.ClientConfig(t, "alice", "pw", "sync")
	cfg.StreamManagement = true
	c := s.Dial(t, cfg)

	// Forwards, from the start.
	var got []string
	q := mam.NewQuery()
	q.RSM.Max = count
	for pages := 0; ; pages++ {
		if pages > count {
			t.Fatalf("no end after %d pages", pages)
		}
		res, fin := mustQuery(t, c, q)
		if len(res) == 0 {
			t.Fatalf("empty page after %d messages (fin %+v)", len(got), fin)
		}
		if pages == 0 && (len(res) == count || fin.Complete) {
			t.Fatalf("first page of %d large messages not cut (%d, complete %v)", count, len(res), fin.Complete)
		}
		for _, b := range bodies(res) {
			got = append(got, b[:2])
		}
		if fin.Complete {
			break
		}
		q.RSM.After, q.RSM.HasAfter = fin.Set.Last, true
	}
	want := make([]string, count)
	for i := range want {
		want[i] = fmt.Sprintf("%02d", i)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paging forwards got %v", got)
	}

	// Backwards, from the end: each page holds the latest messages before
	// the previous one.
	got = got[:0]
	q = mam.NewQuery()
	q.RSM.Max = count
	q.RSM.HasBefore = true
	for pages := 0; ; pages++ {
		if pages > count {
			t.Fatalf("no end after %d pages", pages)
		}
		res, fin := mustQuery(t, c, q)
		var page []string
		for _, b := range bodies(res) {
			page = append(page, b[:2])
		}
		got = append(page, got...)
		if fin.Complete {
			break
		}
		q.RSM.Before = fin.Set.First
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paging backwards got %v", got)
	}
}
