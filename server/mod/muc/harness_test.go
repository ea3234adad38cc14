package muc_test

import (
	"slices"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/form"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/muc"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

const wait = 5 * time.Second

// service is the MUC service of the test server.
func service(s *xmpptest.Server) string { return "conference." + s.Domain() }

// roomJID returns room@service, or room@service/nick.
func roomJID(s *xmpptest.Server, room, nick string) string {
	j := room + "@" + service(s)
	if nick != "" {
		j += "/" + nick
	}
	return j
}

// codes returns the muc#user status codes of a stanza.
func codes(st *stanza.Element) []int { return muc.StatusCodes(st.Child(muc.NSUser, "x")) }

// hasCodes reports whether st carries every code.
func hasCodes(st *stanza.Element, want ...int) bool {
	got := codes(st)
	for _, w := range want {
		if !slices.Contains(got, w) {
			return false
		}
	}
	return true
}

// item returns the muc#user item of a presence.
func item(st *stanza.Element) muc.Item {
	x := st.Child(muc.NSUser, "x")
	if x == nil || x.Child(muc.NSUser, "item") == nil {
		return muc.Item{}
	}
	return muc.ParseItem(x.Child(muc.NSUser, "item"))
}

// presenceFrom matches presence from an occupant JID.
func presenceFrom(from, typ string) func(*stanza.Element) bool {
	return func(st *stanza.Element) bool {
		return stanza.KindOf(st) == stanza.KindPresence && st.From() == from && st.Type() == typ
	}
}

// join sends a join and returns the self-presence (or the error
// presence).
func join(t *testing.T, s *xmpptest.Server, c *client.Client, room, nick, password string, h *muc.History) *stanza.Element {
	t.Helper()
	occ := jid.MustParse(roomJID(s, room, nick))
	xmpptest.Send(t, c, muc.Join(occ, password, h))
	return xmpptest.Expect(t, c, "self-presence in "+room, func(st *stanza.Element) bool {
		return stanza.KindOf(st) == stanza.KindPresence && st.From() == occ.String() &&
			(st.Type() == stanza.TypeError || hasCodes(st, muc.StatusSelf))
	})
}

// joinSubject joins and reads up to the subject message that ends the
// join sequence.
func joinSubject(t *testing.T, s *xmpptest.Server, c *client.Client, room, nick string) *stanza.Element {
	t.Helper()
	self := join(t, s, c, room, nick, "", nil)
	if self.Type() == stanza.TypeError {
		t.Fatalf("%s could not join %s: %s", c.JID(), room, self)
	}
	xmpptest.Expect(t, c, "subject", isSubject)
	return self
}

func isSubject(st *stanza.Element) bool {
	return stanza.KindOf(st) == stanza.KindMessage && st.Child(stanza.NSClient, "subject") != nil && st.Child(stanza.NSClient, "body") == nil
}

// iq sends a request and returns the reply (result or error).
func iq(t *testing.T, c *client.Client, typ, to string, payload *stanza.Element) *stanza.Element {
	t.Helper()
	res, err := c.SendIQ(xmpptest.Context(t, wait), stanza.NewIQ(typ, "", to, payload))
	if res == nil {
		t.Fatalf("%s: IQ %s to %s: %v", c.JID(), payload.Name.Local, to, err)
	}
	return res
}

// mustIQ sends a request that must succeed.
func mustIQ(t *testing.T, c *client.Client, typ, to string, payload *stanza.Element) *stanza.Element {
	t.Helper()
	res := iq(t, c, typ, to, payload)
	if res.Type() != stanza.TypeResult {
		t.Fatalf("%s: IQ %s to %s failed: %s", c.JID(), payload.Name.Local, to, res)
	}
	return res
}

// errCond returns the error condition of an error stanza.
func errCond(st *stanza.Element) stanza.Condition {
	if e := stanza.ParseError(st); e != nil {
		return e.Condition
	}
	return ""
}

// configure submits a room configuration (an instant room when fields is
// empty).
func configure(t *testing.T, s *xmpptest.Server, c *client.Client, room string, fields map[string][]string) *stanza.Element {
	t.Helper()
	f := form.New(form.TypeSubmit, muc.NSRoomConfig)
	for k, v := range fields {
		f.Add(form.Field{Var: k, Values: v})
	}
	if len(fields) == 0 {
		f = &form.Form{Type: form.TypeSubmit}
	}
	return iq(t, c, stanza.TypeSet, roomJID(s, room, ""), stanza.New(muc.NSOwner, "query").Append(f.Element()))
}

// create makes a room owned by c's user, configured with fields.
func create(t *testing.T, s *xmpptest.Server, c *client.Client, room, nick string, fields map[string][]string) {
	t.Helper()
	self := join(t, s, c, room, nick, "", nil)
	if !hasCodes(self, muc.StatusSelf, muc.StatusCreated) {
		t.Fatalf("creating %s: self-presence %s", room, self)
	}
	if res := configure(t, s, c, room, fields); res.Type() != stanza.TypeResult {
		t.Fatalf("configuring %s: %s", room, res)
	}
}

// admin sends a muc#admin set with one item.
func admin(t *testing.T, s *xmpptest.Server, c *client.Client, room string, it muc.Item) *stanza.Element {
	t.Helper()
	return iq(t, c, stanza.TypeSet, roomJID(s, room, ""), stanza.New(muc.NSAdmin, "query").Append(it.Element(muc.NSAdmin)))
}

func groupchat(to, body string) *stanza.Element {
	return stanza.NewMessage(stanza.TypeGroupchat, to, body)
}
