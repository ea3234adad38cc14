package muc_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

// A room's history is bounded in bytes as well as in messages
// (modules.muc.history_bytes): with a 4 KiB bound, ten 1 KiB messages
// leave the latest few, in order; a message larger than the bound leaves
// none.
func TestHistoryBoundedInBytes(t *testing.T) {
	const bound = 4096
	s := xmpptest.NewServer(t, func(c *config.Config) { c.Modules.SetSection("muc", map[string]any{"history_bytes": bound}) })
	s.AddUser(t, "alice", "pw")
	alice := s.Client(t, "alice", "pw", "desk")
	create(t, s, alice, "den", "al", nil)
	xmpptest.Expect(t, alice, "subject", isSubject)
	say := func(body string) {
		t.Helper()
		xmpptest.Send(t, alice, groupchat(roomJID(s, "den", ""), body))
		xmpptest.Expect(t, alice, "own message", func(st *stanza.Element) bool { return st.ChildText(stanza.NSClient, "body") == body })
	}
	for i := range 10 {
		say(strconv.Itoa(i) + " " + strings.Repeat("x", 1000))
	}
	got := history(t, s, "den", "bob")
	if len(got) == 0 || len(got) >= 10 {
		t.Fatalf("history of %d messages, want the latest few under %d bytes", len(got), bound)
	}
	size := 0
	for i, st := range got {
		size += len(st.Bytes())
		want := strconv.Itoa(10-len(got)+i) + " "
		if body := st.ChildText(stanza.NSClient, "body"); !strings.HasPrefix(body, want) {
			t.Fatalf("history message %d starts %.10q, want %q: not the latest stretch in order", i, body, want)
		}
	}
	if size > bound+len(got)*200 { // 'to' and namespace added on delivery
		t.Fatalf("history of %d bytes delivered, bound %d", size, bound)
	}

	say("big " + strings.Repeat("y", bound))
	if got := history(t, s, "den", "carol"); len(got) != 0 {
		t.Fatalf("history after a message larger than the bound: %d messages, want none", len(got))
	}
}

// history joins room as a new user and returns the history it is sent.
func history(t *testing.T, s *xmpptest.Server, room, user string) []*stanza.Element {
	t.Helper()
	s.AddUser(t, user, "pw")
	c := s.Client(t, user, "pw", "res")
	return joinHistory(t, s, c, room, user)
}

func joinHistory(t *testing.T, s *xmpptest.Server, c *client.Client, room, nick string) []*stanza.Element {
	t.Helper()
	if self := join(t, s, c, room, nick, "", nil); self.Type() == stanza.TypeError {
		t.Fatalf("joining %s: %s", room, self)
	}
	var out []*stanza.Element
	for {
		st := xmpptest.Expect(t, c, "history or subject", func(st *stanza.Element) bool { return stanza.KindOf(st) == stanza.KindMessage })
		if isSubject(st) {
			return out
		}
		out = append(out, st)
	}
}
