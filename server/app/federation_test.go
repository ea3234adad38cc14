package app_test

import (
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/internal/testca"
	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/s2s/certid"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

// federated starts a server for domain with an s2s listener on port,
// routing peer (and its MUC service) to peerPort; with ca, its
// certificate comes from ca, which it also trusts.
func federated(t *testing.T, domain string, port int, peer string, peerPort int, ca *testca.CA) *xmpptest.Server {
	t.Helper()
	return federatedWith(t, domain, port, map[string]int{peer: peerPort}, ca)
}

// federatedWith starts a server for domain as federated does, routing
// each peer (and its MUC service) to its port; edits change the
// configuration further.
func federatedWith(t *testing.T, domain string, port int, peers map[string]int, ca *testca.CA, edits ...xmpptest.Option) *xmpptest.Server {
	t.Helper()
	return xmpptest.NewServer(t, func(c *config.Config) {
		c.Domains = []string{domain}
		c.S2S.Enabled = true
		c.S2S.ConnectTimeout = 10 * time.Second
		c.S2S.Routes = map[string]string{}
		for peer, peerPort := range peers {
			addr := "127.0.0.1:" + strconv.Itoa(peerPort)
			c.S2S.Routes[peer], c.S2S.Routes["conference."+peer] = addr, addr
		}
		c.Listeners = append(c.Listeners, config.Listener{Type: config.ListenerS2S, Address: "127.0.0.1:" + strconv.Itoa(port)})
		if ca != nil {
			dir := t.TempDir()
			names := certid.Identities{DNS: []string{domain, "conference." + domain}}
			ca.Issue(t, domain, names, nil).WritePEM(t, filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
			ca.WritePEM(t, filepath.Join(dir, "ca.pem"))
			c.TLS.Certificates = []config.Certificate{{Cert: filepath.Join(dir, "cert.pem"), Key: filepath.Join(dir, "key.pem")}}
			c.S2S.CAFile = filepath.Join(dir, "ca.pem")
		}
		for _, e := range edits {
			e(c)
		}
	})
}

// login connects a user, trusting ca when the server's certificate comes
// from it, and sends initial presence.
func login(t *testing.T, s *xmpptest.Server, user string, ca *testca.CA) *client.Client {
	t.Helper()
	return online(t, s, user, "desk", ca)
}

// online logs a user's resource in as connect does and sends initial
// presence.
func online(t *testing.T, s *xmpptest.Server, user, resource string, ca *testca.CA) *client.Client {
	t.Helper()
	c := connect(t, s, user, resource, ca)
	ctx := xmpptest.Context(t, 10*time.Second)
	if err := c.Send(ctx, stanza.New(stanza.NSClient, "presence")); err != nil {
		t.Fatal(err)
	}
	return c
}

// connect logs a user's resource in (password "pw"), trusting ca when the
// server's certificate comes from it; it sends no presence.
func connect(t *testing.T, s *xmpptest.Server, user, resource string, ca *testca.CA) *client.Client {
	t.Helper()
	cfg := s.ClientConfig(t, user, "pw", resource)
	if ca != nil {
		cfg.TLS.RootCAs = ca.Pool
	}
	return s.Dial(t, cfg)
}

func testFederation(t *testing.T, ca *testca.CA, wantAuth string) {
	pa, pb := xmpptest.FreePort(t), xmpptest.FreePort(t)
	a := federated(t, "a.example", pa, "b.example", pb, ca)
	b := federated(t, "b.example", pb, "a.example", pa, ca)
	a.AddUser(t, "alice", "pw")
	b.AddUser(t, "bob", "pw")
	alice, bob := login(t, a, "alice", ca), login(t, b, "bob", ca)
	ctx := xmpptest.Context(t, 30*time.Second)

	// Messages both ways.
	xmpptest.Send(t, alice, stanza.NewMessage(stanza.TypeChat, "bob@b.example", "hello bob"))
	got := xmpptest.NextMessage(t, bob)
	if got.Get("from") != alice.JID().String() || got.ChildText(stanza.NSClient, "body") != "hello bob" {
		t.Fatalf("bob got %s", got)
	}
	xmpptest.Send(t, bob, stanza.NewMessage(stanza.TypeChat, alice.JID().String(), "hi alice"))
	if got := xmpptest.NextMessage(t, alice); got.Get("from") != bob.JID().String() {
		t.Fatalf("alice got %s", got)
	}
	for _, s := range []*xmpptest.Server{a, b} {
		links := s.App.S2S().Links()
		if len(links) != 1 || links[0].Auth != wantAuth || links[0].State != "ready" {
			t.Fatalf("%s's links: %+v", s.Domain(), links)
		}
	}

	// A subscription handshake, then presence.
	xmpptest.Send(t, alice, stanza.New(stanza.NSClient, "presence", "to", "bob@b.example", "type", "subscribe"))
	sub := xmpptest.Expect(t, bob, "a subscription request", func(st *stanza.Element) bool {
		return stanza.KindOf(st) == stanza.KindPresence && st.Get("type") == "subscribe"
	})
	if sub.Get("from") != "alice@a.example" {
		t.Fatalf("subscribe from %s", sub.Get("from"))
	}
	xmpptest.Send(t, bob, stanza.New(stanza.NSClient, "presence", "to", "alice@a.example", "type", "subscribed"))
	xmpptest.Expect(t, alice, "bob's presence after the approval", func(st *stanza.Element) bool {
		return stanza.KindOf(st) == stanza.KindPresence && st.Get("type") == "" && st.Get("from") == bob.JID().String()
	})

	// An IQ to the remote server itself (XEP-0199), answered over the
	// other direction's link.
	if _, err := alice.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", "b.example", stanza.New("urn:xmpp:ping", "ping"))); err != nil {
		t.Fatalf("ping b.example: %v", err)
	}

	// A remote user joins a room here and talks.
	room := "den@conference.a.example"
	xmpptest.Send(t, alice, stanza.New(stanza.NSClient, "presence", "to", room+"/alice").Append(stanza.New("http://jabber.org/protocol/muc", "x")))
	xmpptest.Expect(t, alice, "alice in the room", func(st *stanza.Element) bool { return st.Get("from") == room+"/alice" })
	// An instant room (XEP-0045 §10.1.2): the new room unlocks.
	instant := stanza.New("http://jabber.org/protocol/muc#owner", "query").Append(stanza.New("jabber:x:data", "x", "type", "submit"))
	if _, err := alice.SendIQ(ctx, stanza.NewIQ(stanza.TypeSet, "", room, instant)); err != nil {
		t.Fatalf("configuring the room: %v", err)
	}
	xmpptest.Send(t, bob, stanza.New(stanza.NSClient, "presence", "to", room+"/bob").Append(stanza.New("http://jabber.org/protocol/muc", "x")))
	joined := xmpptest.Expect(t, bob, "bob in the room", func(st *stanza.Element) bool {
		return stanza.KindOf(st) == stanza.KindPresence && st.Get("from") == room+"/bob"
	})
	if joined.Get("type") == "error" {
		t.Fatalf("bob's join: %s", joined)
	}
	xmpptest.Send(t, bob, stanza.NewMessage(stanza.TypeGroupchat, room, "hello room"))
	xmpptest.Expect(t, alice, "bob's groupchat message", func(st *stanza.Element) bool {
		return st.Get("from") == room+"/bob" && st.ChildText(stanza.NSClient, "body") == "hello room"
	})
}

// TestFederationDialback: two servers with self-signed certificates (the
// zero-configuration setup) federate with Server Dialback.
func TestFederationDialback(t *testing.T) { testFederation(t, nil, "dialback") }

// TestFederationExternal: two servers with certificates from a CA they
// trust federate with SASL EXTERNAL.
func TestFederationExternal(t *testing.T) { testFederation(t, testca.New(t), "SASL EXTERNAL") }
