package stream_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/fast"
)

// The client library logs in with SASL2 and Bind 2, obtains a FAST token,
// logs in with it (no password needed), and falls back to the password
// when the token is refused.
func TestClientSASL2AndFAST(t *testing.T) {
	s, alice, _ := newServer(t)
	ua := &client.UserAgent{ID: testUAID, Software: "ParleyClient", Device: "CI"}
	cfg := s.ClientConfig(t, "carol", "pw", "")
	cfg.SASL2, cfg.UserAgent, cfg.RequestFastToken = true, ua, true
	c := s.Dial(t, cfg)
	if !strings.HasPrefix(c.JID().Resource(), "ParleyClient/") {
		t.Fatalf("bound %s, want a Bind 2 resource", c.JID())
	}
	tok := c.FastToken()
	if tok == nil || tok.Token == "" {
		t.Fatal("no FAST token")
	}
	if _, ok := fast.ChannelBinding(tok.Mechanism); !ok {
		t.Fatalf("token mechanism %q", tok.Mechanism)
	}
	alive(t, alice, c)
	c.Close()

	// The token alone logs in.
	cfg2 := s.ClientConfig(t, "carol", "", "")
	cfg2.SASL2, cfg2.UserAgent, cfg2.FastToken = true, ua, tok
	c2 := s.Dial(t, cfg2)
	if c2.Mechanism() != tok.Mechanism {
		t.Fatalf("logged in with %s, want %s", c2.Mechanism(), tok.Mechanism)
	}
	alive(t, alice, c2)

	// A refused token falls back to the password...
	forged, _ := fast.NewToken()
	cfg3 := s.ClientConfig(t, "carol", "pw", "desk3")
	cfg3.SASL2, cfg3.UserAgent = true, ua
	cfg3.FastToken = &client.FastToken{Mechanism: tok.Mechanism, Token: forged}
	c3 := s.Dial(t, cfg3)
	if c3.JID().Resource() != "desk3" || strings.HasPrefix(c3.Mechanism(), "HT-") {
		t.Fatalf("fallback login: %s with %s", c3.JID(), c3.Mechanism())
	}
	// ...and without a password the login fails with the SASL condition.
	cfg3.Password = ""
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	_, err := client.Dial(ctx, cfg3)
	var ae *client.AuthError
	if !errors.As(err, &ae) || ae.Condition != "not-authorized" {
		t.Fatalf("forged token without password: %v", err)
	}
}
