package client_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/client"
	smns "github.com/parley-xmpp/parley/xmpp/sm"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

// sasl2SMConfig is a SASL2 + Bind 2 + stream management configuration
// that asks for a FAST token at every SASL2 login.
func sasl2SMConfig(t *testing.T, s *xmpptest.Server, user string) client.Config {
	cfg := s.ClientConfig(t, user, "pw", "")
	cfg.SASL2 = true
	cfg.StreamManagement = true
	cfg.RequestFastToken = true
	cfg.UserAgent = &client.UserAgent{ID: "0b4f2d7e-3c1a-4e5b-9f60-7a8b9c0d1e2f", Software: "ParleyTest"}
	return cfg
}

// waitDetached waits until the server keeps c's session detached.
func waitDetached(t *testing.T, s *xmpptest.Server, c *client.Client) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; {
		if ss := s.App.Router().Sessions().Get(c.JID()); ss != nil && ss.Detached() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the session was not detached")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A SASL2 + Bind 2 session enables stream management inline; its TCP
// connection is cut mid-conversation, and Resume resumes it inside the
// SASL2 authentication (XEP-0198 §9.2): every message arrives exactly
// once, and the new SASL2 login issued a new FAST token.
func TestClientSASL2InlineResume(t *testing.T) {
	s := xmpptest.NewServer(t)
	s.AddUser(t, "alice", "pw")
	s.AddUser(t, "bob", "pw")
	alice := s.Dial(t, sasl2SMConfig(t, s, "alice"))
	on, id := alice.StreamManagement()
	if !on || id == "" {
		t.Fatalf("stream management not enabled with resumption: %v %q", on, id)
	}
	if alice.Features().Child(smns.NS, smns.NameFeature) != nil {
		t.Fatalf("stream management offered after Bind 2 although enabled inline: %s", alice.Features())
	}
	tok := alice.FastToken()
	if tok == nil {
		t.Fatal("no FAST token issued at the SASL2 login")
	}
	bob := s.Client(t, "bob", "pw", "desk")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := alice.Send(ctx, stanza.New(stanza.NSClient, "presence")); err != nil {
		t.Fatal(err)
	}
	var want []string
	send := func(n int) {
		for range n {
			b := fmt.Sprintf("m%d", len(want))
			want = append(want, b)
			if err := bob.Send(ctx, stanza.NewMessage(stanza.TypeChat, alice.JID().String(), b)); err != nil {
				t.Fatal(err)
			}
		}
	}
	send(7)
	got := bodies(alice, 300*time.Millisecond)
	alice.Abort()
	send(4)
	waitDetached(t, s, alice)
	alice2, err := alice.Resume(ctx)
	if err != nil {
		t.Fatalf("Resume: %v", err)
	}
	t.Cleanup(func() { alice2.Close() })
	if alice2.JID() != alice.JID() {
		t.Fatalf("resumed as %s, was %s", alice2.JID(), alice.JID())
	}
	if t2 := alice2.FastToken(); t2 == nil || t2.Token == tok.Token {
		t.Fatalf("the resumption did not go through a new SASL2 login: FAST token %v, was %v", t2, tok)
	}
	if n := len(s.App.Router().Sessions().Sessions(alice.JID().Bare())); n != 1 {
		t.Fatalf("alice has %d sessions after the resumption, want the resumed one", n)
	}
	got = append(got, bodies(alice, 50*time.Millisecond)...)
	got = append(got, bodies(alice2, 300*time.Millisecond)...)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("received %v, want each of %v exactly once", got, want)
	}
	if _, err := alice2.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", s.Domain(), stanza.New("urn:xmpp:ping", "ping"))); err != nil {
		t.Fatal(err)
	}
	if err := alice2.RequestAck(ctx); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); alice2.Unacked() != 0; {
		if time.Now().After(deadline) {
			t.Fatalf("%d stanzas never acknowledged", alice2.Unacked())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// When the session expired, the inline resumption fails: Resume returns
// the server's <failed/>, and a new SASL2 login binds a new session.
func TestClientSASL2InlineResumeFailed(t *testing.T) {
	s := xmpptest.NewServer(t, func(c *config.Config) { c.StreamManagement.ResumeTimeout = 500 * time.Millisecond })
	s.AddUser(t, "alice", "pw")
	s.AddUser(t, "bob", "pw")
	cfg := sasl2SMConfig(t, s, "alice")
	alice := s.Dial(t, cfg)
	bob := s.Client(t, "bob", "pw", "desk")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := alice.Send(ctx, stanza.New(stanza.NSClient, "presence")); err != nil {
		t.Fatal(err)
	}
	alice.Abort()
	waitDetached(t, s, alice)
	if err := bob.Send(ctx, stanza.NewMessage(stanza.TypeChat, alice.JID().String(), "while away")); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); s.App.Router().Sessions().Get(alice.JID()) != nil; {
		if time.Now().After(deadline) {
			t.Fatal("the detached session did not expire")
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, err := alice.Resume(ctx)
	var f smns.Failed
	if !errors.As(err, &f) || f.Condition != stanza.ItemNotFound {
		t.Fatalf("Resume of an expired session: %v, want an sm.Failed with <item-not-found/>", err)
	}
	again := s.Dial(t, cfg)
	if on, id := again.StreamManagement(); !on || id == "" {
		t.Fatalf("stream management not enabled on the new session: %v %q", on, id)
	}
	if err := again.Send(ctx, stanza.New(stanza.NSClient, "presence")); err != nil {
		t.Fatal(err)
	}
	bodies(again, 300*time.Millisecond) // offline delivery is the server's choice (XEP-0386 §3.3)
	if err := bob.Send(ctx, stanza.NewMessage(stanza.TypeChat, again.JID().String(), "after")); err != nil {
		t.Fatal(err)
	}
	if got := bodies(again, 500*time.Millisecond); fmt.Sprint(got) != "[after]" {
		t.Fatalf("the new session received %v, want the message sent to it", got)
	}
}
