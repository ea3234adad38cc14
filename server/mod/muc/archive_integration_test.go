package muc_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/disco"
	"github.com/parley-xmpp/parley/xmpp/mam"
	"github.com/parley-xmpp/parley/xmpp/muc"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stanzaid"
	"github.com/parley-xmpp/parley/xmpptest"
)

var roomQuerySeq int

// roomArchive queries a room's archive and returns the n results it
// expects and the <fin/>, or the error reply.
func roomArchive(t *testing.T, c *client.Client, room string, q mam.Query, n int) ([]mam.Result, mam.Fin, *stanza.Element) {
	t.Helper()
	roomQuerySeq++
	q.QueryID = fmt.Sprintf("rq%d", roomQuerySeq)
	reply := iq(t, c, stanza.TypeSet, room, q.Element())
	if reply.Type() == stanza.TypeError {
		return nil, mam.Fin{}, reply
	}
	fin, err := mam.ParseFin(reply.Payload())
	if err != nil {
		t.Fatalf("query of %s: %v: %s", room, err, reply)
	}
	var out []mam.Result
	for range n {
		// The results precede the IQ result: they are queued already.
		st := xmpptest.Expect(t, c, "archive result", func(st *stanza.Element) bool { return st.Child(mam.NS, "result") != nil })
		r, _, err := mam.ParseResult(st)
		if err != nil || r.QueryID != q.QueryID || st.From() != room {
			t.Fatalf("bad result from %s (%v): %s", st.From(), err, st)
		}
		out = append(out, r)
	}
	return out, fin, nil
}

func resultBodies(rs []mam.Result) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Message.ChildText(stanza.NSClient, "body"))
	}
	return out
}

// say sends a groupchat message and returns the room's reflection of it.
func say(t *testing.T, c *client.Client, room, body string) *stanza.Element {
	t.Helper()
	xmpptest.Send(t, c, groupchat(room, body))
	return xmpptest.Expect(t, c, "reflection of "+body, func(st *stanza.Element) bool { return st.ChildText(stanza.NSClient, "body") == body })
}

// A persistent room archives its messages (XEP-0313 on the room JID),
// each reflected with the stanza-id the room gave it; whoever may enter
// an open room pages through its archive with RSM; the archive survives
// a restart and serves the history of the room loaded again.
func TestRoomArchive(t *testing.T) {
	dir := t.TempDir()
	sameDir := func(c *config.Config) { c.DataDir = dir }
	var ids []string
	t.Run("before", func(t *testing.T) {
		s := xmpptest.NewServer(t, sameDir)
		for _, u := range []string{"alice", "bob"} {
			s.AddUser(t, u, "pw")
		}
		alice := s.Client(t, "alice", "pw", "desk")
		create(t, s, alice, "log", "al", map[string][]string{"muc#roomconfig_persistentroom": {"1"}})
		xmpptest.Expect(t, alice, "subject", isSubject)
		room := roomJID(s, "log", "")
		info, err := disco.ParseInfo(mustIQ(t, alice, stanza.TypeGet, room, stanza.New(disco.NSInfo, "query")).Payload())
		if err != nil || !info.HasFeature(mam.NS) || !info.HasFeature(mam.NSExtended) || !info.HasFeature(stanzaid.NS) {
			t.Fatalf("a persistent room does not advertise its archive: %+v (%v)", info, err)
		}
		forged := groupchat(room, "m0").Append(stanzaid.StanzaID{ID: "forged", By: room}.Element())
		xmpptest.Send(t, alice, forged)
		got := xmpptest.Expect(t, alice, "m0", func(st *stanza.Element) bool { return st.ChildText(stanza.NSClient, "body") == "m0" })
		if all := stanzaid.All(got); len(all) != 1 || all[0].ID == "forged" || all[0].By != room {
			t.Fatalf("reflected message's stanza-ids: %+v", all)
		}
		ids = append(ids, stanzaid.Find(got, room))
		for i := 1; i < 5; i++ {
			ids = append(ids, stanzaid.Find(say(t, alice, room, fmt.Sprintf("m%d", i)), room))
		}

		// bob never joined: the room is open, so he may read.
		bob := s.Client(t, "bob", "pw", "phone")
		q := mam.NewQuery()
		q.RSM.Max = 2
		res, fin, errReply := roomArchive(t, bob, room, q, 2)
		if errReply != nil {
			t.Fatalf("query by a non-occupant of an open room: %s", errReply)
		}
		if !slices.Equal(resultBodies(res), []string{"m0", "m1"}) || res[0].ID != ids[0] || fin.Complete || fin.Set.Count != 5 {
			t.Fatalf("first page %v (ids %s, %s), fin %+v", resultBodies(res), res[0].ID, ids[0], fin)
		}
		if res[0].Message.From() != roomJID(s, "log", "al") {
			t.Fatalf("archived message from %q, want the occupant JID", res[0].Message.From())
		}
		q.RSM.After, q.RSM.HasAfter = fin.Set.Last, true
		res, fin, _ = roomArchive(t, bob, room, q, 2)
		if !slices.Equal(resultBodies(res), []string{"m2", "m3"}) || fin.Complete {
			t.Fatalf("second page %v, fin %+v", resultBodies(res), fin)
		}
		last := mam.NewQuery()
		last.RSM.Max, last.RSM.HasBefore = 1, true
		res, fin, _ = roomArchive(t, bob, room, last, 1)
		if !slices.Equal(resultBodies(res), []string{"m4"}) || res[0].ID != ids[4] {
			t.Fatalf("last page %v, fin %+v", resultBodies(res), fin)
		}
		// urn:xmpp:mam:2#extended: by ids, and after an id.
		byIDs := mam.NewQuery()
		byIDs.IDs = []string{ids[1], ids[3]}
		if res, _, e := roomArchive(t, bob, room, byIDs, 2); e != nil || !slices.Equal(resultBodies(res), []string{"m1", "m3"}) {
			t.Fatalf("query by ids: %v (%v)", resultBodies(res), e)
		}
		after := mam.NewQuery()
		after.AfterID = ids[3]
		if res, _, e := roomArchive(t, bob, room, after, 1); e != nil || !slices.Equal(resultBodies(res), []string{"m4"}) {
			t.Fatalf("query after-id: %v (%v)", resultBodies(res), e)
		}
	})
	s := xmpptest.NewServer(t, sameDir)
	carol := s.Client(t, "alice", "pw", "other")
	got := joinHistory(t, s, carol, "log", "al")
	var bodies []string
	for _, st := range got {
		bodies = append(bodies, st.ChildText(stanza.NSClient, "body"))
	}
	if !slices.Equal(bodies, []string{"m0", "m1", "m2", "m3", "m4"}) {
		t.Fatalf("history after a restart: %v", bodies)
	}
	if id := stanzaid.Find(got[4], roomJID(s, "log", "")); id != ids[4] || got[4].Child(muc.NSDelay, "delay") == nil {
		t.Fatalf("history message after restart: %s", got[4])
	}
	res, _, errReply := roomArchive(t, carol, roomJID(s, "log", ""), mam.NewQuery(), 5)
	if errReply != nil || !slices.Equal(resultBodies(res), bodies) {
		t.Fatalf("archive after a restart: %v %v", resultBodies(res), errReply)
	}
}

// Who may read a room's archive follows the room's configuration: not an
// outsider of a members-only room, not a non-occupant of a
// password-protected one; a room whose owner turned archiving off, and a
// temporary room, keep none.
func TestRoomArchiveAccess(t *testing.T) {
	s := xmpptest.NewServer(t)
	for _, u := range []string{"alice", "bob"} {
		s.AddUser(t, u, "pw")
	}
	alice := s.Client(t, "alice", "pw", "desk")
	bob := s.Client(t, "bob", "pw", "phone")
	persistent := []string{"1"}
	create(t, s, alice, "club", "al", map[string][]string{"muc#roomconfig_persistentroom": persistent, "muc#roomconfig_membersonly": {"1"}})
	create(t, s, alice, "vault", "al", map[string][]string{"muc#roomconfig_persistentroom": persistent,
		"muc#roomconfig_passwordprotectedroom": {"1"}, "muc#roomconfig_roomsecret": {"pass"}})
	create(t, s, alice, "quiet", "al", map[string][]string{"muc#roomconfig_persistentroom": persistent, "muc#roomconfig_enablearchiving": {"0"}})
	create(t, s, alice, "brief", "al", nil)
	for _, room := range []string{"club", "vault", "quiet", "brief"} {
		say(t, alice, roomJID(s, room, ""), "secret of "+room)
	}
	forbidden := func(room string, cond stanza.Condition) {
		t.Helper()
		if _, _, e := roomArchive(t, bob, roomJID(s, room, ""), mam.NewQuery(), 0); e == nil || errCond(e) != cond {
			t.Fatalf("bob's query of %s: %v, want %s", room, e, cond)
		}
	}
	forbidden("club", stanza.Forbidden)
	forbidden("vault", stanza.Forbidden)
	forbidden("quiet", stanza.ServiceUnavailable)
	forbidden("brief", stanza.ServiceUnavailable)

	if res := admin(t, s, alice, "club", muc.Item{JID: "bob@" + s.Domain(), Affiliation: "member"}); res.Type() != stanza.TypeResult {
		t.Fatal(res)
	}
	if res, _, e := roomArchive(t, bob, roomJID(s, "club", ""), mam.NewQuery(), 1); e != nil || resultBodies(res)[0] != "secret of club" {
		t.Fatalf("member's query: %v", e)
	}
	if self := join(t, s, bob, "vault", "bob", "pass", nil); self.Type() == stanza.TypeError {
		t.Fatal(self)
	}
	if res, _, e := roomArchive(t, bob, roomJID(s, "vault", ""), mam.NewQuery(), 1); e != nil || resultBodies(res)[0] != "secret of vault" {
		t.Fatalf("occupant's query: %v", e)
	}
	for _, room := range []string{"quiet", "brief"} {
		info, _ := disco.ParseInfo(mustIQ(t, alice, stanza.TypeGet, roomJID(s, room, ""), stanza.New(disco.NSInfo, "query")).Payload())
		if info.HasFeature(mam.NS) {
			t.Fatalf("%s advertises an archive it does not keep", room)
		}
	}
}

// A room's archive is bounded (modules.muc.archive_messages): past it
// the oldest messages go, the newest stay.
func TestRoomArchiveQuota(t *testing.T) {
	s := xmpptest.NewServer(t, func(c *config.Config) { c.Modules.SetSection("muc", map[string]any{"archive_messages": 10}) })
	s.AddUser(t, "alice", "pw")
	alice := s.Client(t, "alice", "pw", "desk")
	create(t, s, alice, "busy", "al", map[string][]string{"muc#roomconfig_persistentroom": {"1"}})
	room := roomJID(s, "busy", "")
	for i := range 25 {
		say(t, alice, room, fmt.Sprintf("m%d", i))
	}
	q := mam.NewQuery()
	q.RSM.Max = 0
	_, fin, e := roomArchive(t, alice, room, q, 0)
	if e != nil || fin.Set.Count > 10 || fin.Set.Count < 5 {
		t.Fatalf("archive of %d messages under a quota of 10 (%v)", fin.Set.Count, e)
	}
	last := mam.NewQuery()
	last.RSM.Max, last.RSM.HasBefore = 1, true
	if res, _, _ := roomArchive(t, alice, room, last, 1); resultBodies(res)[0] != "m24" {
		t.Fatalf("newest archived message %v, want m24", resultBodies(res))
	}
}

// Room archives keep messages for modules.muc.archive_retention_days:
// older ones are purged (at start, then hourly).
func TestRoomArchiveRetention(t *testing.T) {
	dir := t.TempDir()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	opts := func(c *config.Config) {
		c.DataDir = dir
		c.Modules.SetSection("muc", map[string]any{"archive_retention_days": 30})
	}
	t.Run("before", func(t *testing.T) {
		s := xmpptest.NewServerWithClock(t, xmpptest.NewClock(start), opts)
		s.AddUser(t, "alice", "pw")
		alice := s.Client(t, "alice", "pw", "desk")
		create(t, s, alice, "old", "al", map[string][]string{"muc#roomconfig_persistentroom": {"1"}})
		say(t, alice, roomJID(s, "old", ""), "long ago")
		if res, _, e := roomArchive(t, alice, roomJID(s, "old", ""), mam.NewQuery(), 1); e != nil || resultBodies(res)[0] != "long ago" {
			t.Fatalf("archived before the purge: %v", e)
		}
	})
	s := xmpptest.NewServerWithClock(t, xmpptest.NewClock(start.Add(40*24*time.Hour)), opts)
	alice := s.Client(t, "alice", "pw", "desk")
	q := mam.NewQuery()
	q.RSM.Max = 0
	xmpptest.Eventually(t, "the old message purged", func() bool {
		_, fin, e := roomArchive(t, alice, roomJID(s, "old", ""), q, 0)
		return e == nil && fin.Set.Count == 0
	})
}

// A page of a room's archive is cut to what the requesting session can
// take at once (as an account's archive is), so that large messages do
// not make the client a slow consumer; paging on from <fin/> reaches
// every message.
func TestRoomArchivePageFitsSession(t *testing.T) {
	const (
		budget  = 64 << 10
		payload = 12 << 10
		count   = 20
	)
	s := xmpptest.NewServer(t, func(c *config.Config) {
		c.Limits.MaxStanzaBytes = 32 << 10
		c.Limits.PreauthStanzaBytes = 8 << 10
		c.Limits.OutboundQueueBytes = budget
		c.Limits.Rate = config.Rate{}
	})
	s.AddUser(t, "alice", "pw")
	alice := s.Client(t, "alice", "pw", "desk")
	create(t, s, alice, "big", "al", map[string][]string{"muc#roomconfig_persistentroom": {"1"}})
	room := roomJID(s, "big", "")
	filler := strings.Repeat("x", payload)
	for i := range count {
		say(t, alice, room, fmt.Sprintf("%02d %s", i, filler))
	}
	cfg := s.ClientConfig(t, "alice", "pw", "sync")
	cfg.StreamManagement = true
	c := s.Dial(t, cfg)
	var got []string
	q := mam.NewQuery()
	q.RSM.Max = count
	for pages := 0; ; pages++ {
		if pages > count {
			t.Fatalf("no end after %d pages", pages)
		}
		roomQuerySeq++
		q.QueryID = fmt.Sprintf("rq%d", roomQuerySeq)
		reply := mustIQ(t, c, stanza.TypeSet, room, q.Element())
		fin, err := mam.ParseFin(reply.Payload())
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for {
			st := xmpptest.Expect(t, c, "archive result", func(st *stanza.Element) bool { return st.Child(mam.NS, "result") != nil })
			r, _, _ := mam.ParseResult(st)
			got = append(got, r.Message.ChildText(stanza.NSClient, "body")[:2])
			n++
			if r.ID == fin.Set.Last {
				break
			}
		}
		if pages == 0 && (n == count || fin.Complete) {
			t.Fatalf("first page of %d large messages not cut (%d, complete %v)", count, n, fin.Complete)
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
		t.Fatalf("paging got %v", got)
	}
}
