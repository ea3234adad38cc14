package mam_test

import (
	"context"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/storage/sqlite/sqlitetest"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/mam"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stanzaid"
	"github.com/parley-xmpp/parley/xmpptest"
)

// ping sends an IQ ping to the server and returns a channel that gets the
// outcome once its reply comes.
func ping(c *client.Client) <-chan error {
	out := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_, err := c.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", "", stanza.New("urn:xmpp:ping", "ping")))
		out <- err
	}()
	return out
}

// TestDeliveredBeforeArchivedAckedAfter holds back the archive's commits
// (SQLite's write lock taken by another connection): a chat message is
// still delivered at once, with its stanza-id, but neither an ack
// request's <a/> nor an IQ reply comes before the message is committed;
// once the lock goes, they come and the archive holds the message. With
// nothing queued in the archive, an IQ is answered although the store
// cannot write.
func TestDeliveredBeforeArchivedAckedAfter(t *testing.T) {
	s := newServer(t)
	s.AddUser(t, "alice", "pw")
	s.AddUser(t, "bob", "pw")
	cfg := s.ClientConfig(t, "alice", "pw", "phone")
	cfg.StreamManagement = true
	alice := s.Dial(t, cfg)
	bob := login(t, s, "bob", "desk")
	bobJID := bob.JID().Bare().String()
	const quiet = 300 * time.Millisecond

	release := sqlitetest.HoldWriter(t, s.Config.SQLitePath())
	if err := <-ping(alice); err != nil {
		t.Fatalf("ping with nothing to archive, store locked: %v", err)
	}

	// The ack request waits for the commit.
	got := chat(t, alice, bob, bobJID, "held one")
	if stanzaid.Find(got, bobJID) == "" {
		t.Fatalf("delivered %s: want a stanza-id by %s", got, bobJID)
	}
	if err := alice.RequestAck(xmpptest.Context(t, wait)); err != nil {
		t.Fatal(err)
	}
	// An <a/> sent at once would have reached the client by now.
	<-time.After(quiet)
	if n := alice.Unacked(); n == 0 {
		t.Fatal("the server acknowledged a message its archive has not committed")
	}
	release()
	xmpptest.Eventually(t, "the message acknowledged once the archive could commit", func() bool { return alice.Unacked() == 0 })

	// An IQ reply waits for the commit.
	release = sqlitetest.HoldWriter(t, s.Config.SQLitePath())
	chat(t, alice, bob, bobJID, "held two")
	replied := ping(alice)
	select {
	case err := <-replied:
		t.Fatalf("IQ answered (%v) before the archive committed the message sent before it", err)
	case <-time.After(quiet):
	}
	release()
	if err := <-replied; err != nil {
		t.Fatalf("ping once the archive could commit: %v", err)
	}
	for _, c := range []*client.Client{alice, bob} {
		res, _, err := query(t, c, mam.NewQuery())
		if err != nil {
			t.Fatal(err)
		}
		var bodies []string
		for _, r := range res {
			bodies = append(bodies, r.Message.ChildText("", "body"))
		}
		if len(bodies) != 2 || bodies[0] != "held one" || bodies[1] != "held two" {
			t.Errorf("%s's archive holds %q, want both messages once", c.JID(), bodies)
		}
	}
}
