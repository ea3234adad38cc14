package mam_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/storage/sqlite/sqlitetest"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/mam"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stanzaid"
	"github.com/parley-xmpp/parley/xmpptest"
)

// startPair starts a server with the accounts alice and bob, and logs
// them in (alice with stream management when sm).
func startPair(t *testing.T, sm bool) (s *xmpptest.Server, alice, bob *client.Client) {
	t.Helper()
	s = newServer(t)
	s.AddUser(t, "alice", "pw")
	s.AddUser(t, "bob", "pw")
	if sm {
		cfg := s.ClientConfig(t, "alice", "pw", "phone")
		cfg.StreamManagement = true
		alice = s.Dial(t, cfg)
	} else {
		alice = login(t, s, "alice", "phone")
	}
	return s, alice, login(t, s, "bob", "desk")
}

// archivedBodies returns the bodies of the messages of c's archive,
// joined by "|".
func archivedBodies(t *testing.T, c *client.Client) string {
	t.Helper()
	res, _, err := query(t, c, mam.NewQuery())
	if err != nil {
		t.Fatal(err)
	}
	bodies := make([]string, len(res))
	for i, r := range res {
		bodies[i] = r.Message.ChildText("", "body")
	}
	return strings.Join(bodies, "|")
}

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
	s, alice, bob := startPair(t, true)
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
		if got := archivedBodies(t, c); got != "held one|held two" {
			t.Errorf("%s's archive holds %q, want both messages once", c.JID(), got)
		}
	}
}

// TestResumedWaitsForArchive holds back the archive's commits, lets a
// client that sent a chat message lose its connection and resume its
// session (XEP-0198): <resumed h/>, which counts the message, does not
// come before the message is committed.
func TestResumedWaitsForArchive(t *testing.T) {
	s, alice, bob := startPair(t, true)
	if on, id := alice.StreamManagement(); !on || id == "" {
		t.Fatal("no resumable stream management session")
	}
	release := sqlitetest.HoldWriter(t, s.Config.SQLitePath())
	chat(t, alice, bob, bob.JID().Bare().String(), "before the loss")
	alice.Abort()
	type outcome struct {
		c   *client.Client
		err error
	}
	resumed := make(chan outcome, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		c, err := alice.Resume(ctx)
		resumed <- outcome{c, err}
	}()
	select {
	case o := <-resumed:
		t.Fatalf("resumed (%v) before the archive committed the message the resumption counts", o.err)
	case <-time.After(300 * time.Millisecond):
	}
	release()
	o := <-resumed
	if o.err != nil {
		t.Fatalf("resumption once the archive could commit: %v", o.err)
	}
	t.Cleanup(func() { o.c.Close() })
	if n := o.c.Unacked(); n != 0 {
		t.Errorf("%d stanzas unacknowledged after the resumption, want the message counted", n)
	}
	if got := archivedBodies(t, o.c); got != "before the loss" {
		t.Errorf("alice's archive holds %q, want the message sent before the loss", got)
	}
}

// TestCloseWaitsForArchive holds back the archive's commits: a client
// that sent a chat message, then closes its stream, gets the server's
// closing tag (which says the server processed everything before it)
// only once the message is committed.
func TestCloseWaitsForArchive(t *testing.T) {
	s, alice, bob := startPair(t, false)
	release := sqlitetest.HoldWriter(t, s.Config.SQLitePath())
	chat(t, alice, bob, bob.JID().Bare().String(), "last words")
	closed := make(chan error, 1)
	go func() { closed <- alice.Close() }()
	select {
	case err := <-closed:
		t.Fatalf("stream closed (%v) before the archive committed the message sent before", err)
	case <-time.After(300 * time.Millisecond):
	}
	release()
	if err := <-closed; err != nil {
		t.Fatalf("close once the archive could commit: %v", err)
	}
	if got := archivedBodies(t, bob); got != "last words" {
		t.Errorf("bob's archive holds %q, want the message sent before the close", got)
	}
}
