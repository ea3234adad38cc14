package stream_test

import (
	"testing"
	"time"

	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/sasl"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
	"github.com/parley-xmpp/parley/xmpptest"
)

// A login that authenticated before its account was disabled, and binds
// after, is refused: the administrator's action ended the sessions it
// found, and this one was not bound yet. The same for a deletion. A login
// that begins after the account is enabled again stands, and nobody
// else's session is touched.
func TestLoginRevokedBeforeBind(t *testing.T) {
	s, alice, bob := newServer(t)
	ctx := xmpptest.Context(t, 10*time.Second)
	accounts := s.App.Accounts()
	carol := jid.MustParse("carol@localhost")
	bindIQ := stanza.NewIQ(stanza.TypeSet, "bind-1", "", stanza.New(nsBind, "bind"))

	r := authedRaw(t, s, "carol", "pw")
	if err := accounts.SetDisabled(ctx, carol, true); err != nil {
		t.Fatal(err)
	}
	r.send(bindIQ)
	r.expectStreamError(stream.NotAuthorized)
	if n := len(s.App.Router().Sessions().Sessions(carol)); n != 0 {
		t.Fatal("a session of the disabled account stayed bound")
	}

	if err := accounts.SetDisabled(ctx, carol, false); err != nil {
		t.Fatal(err)
	}
	r = dialRaw(t, s)
	r.open()
	r.startTLS(nil)
	r.login(sasl.Plain, "carol", "pw")
	r.bind("again")

	dave := s.AddUser(t, "dave", "pw")
	r = authedRaw(t, s, "dave", "pw")
	if err := accounts.Delete(ctx, dave); err != nil {
		t.Fatal(err)
	}
	r.send(bindIQ)
	r.expectStreamError(stream.NotAuthorized)

	alive(t, alice, bob)
}
