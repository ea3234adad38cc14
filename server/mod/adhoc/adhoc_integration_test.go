package adhoc_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/mod/adhoc"
	xadhoc "github.com/parley-xmpp/parley/xmpp/adhoc"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/disco"
	"github.com/parley-xmpp/parley/xmpp/form"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/sasl"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
	"github.com/parley-xmpp/parley/xmpptest"
)

const pw = "correct horse"

// setup starts a server whose admin is admin@localhost, with a user bob.
func setup(t *testing.T) (*xmpptest.Server, *client.Client, context.Context) {
	t.Helper()
	s := xmpptest.NewServer(t, func(c *config.Config) {
		c.Admins = []jid.JID{jid.MustParse("admin@localhost")}
	})
	s.AddUser(t, "admin", pw)
	s.AddUser(t, "bob", pw)
	return s, s.Client(t, "admin", pw, "console"), xmpptest.Context(t, 30*time.Second)
}

// run sends one command request and returns the parsed response.
func run(ctx context.Context, t *testing.T, c *client.Client, cmd *xadhoc.Command) (*xadhoc.Command, error) {
	t.Helper()
	res, err := c.SendIQ(ctx, stanza.NewIQ(stanza.TypeSet, "", "localhost", cmd.Element()))
	if err != nil {
		return nil, err
	}
	got, perr := xadhoc.Parse(res.Child(xadhoc.NS, "command"))
	if perr != nil {
		t.Fatalf("response %s: %v", res, perr)
	}
	return got, nil
}

// start executes a command and checks it answers with a form.
func start(ctx context.Context, t *testing.T, c *client.Client, node string) *xadhoc.Command {
	t.Helper()
	got, err := run(ctx, t, c, &xadhoc.Command{Node: adhoc.NodePrefix + node, Action: xadhoc.ActionExecute})
	if err != nil {
		t.Fatalf("%s: %v", node, err)
	}
	if got.Status != xadhoc.StatusExecuting || got.SessionID == "" || got.Form == nil || got.Form.Type != form.TypeForm ||
		got.Form.FormType() != adhoc.AdminFormType || got.Actions == nil || got.Actions.Execute != xadhoc.ActionComplete {
		t.Fatalf("%s first stage: %+v", node, got)
	}
	return got
}

// submit completes a session with the given fields.
func submit(ctx context.Context, t *testing.T, c *client.Client, first *xadhoc.Command, fields map[string][]string) (*xadhoc.Command, error) {
	t.Helper()
	f := form.New(form.TypeSubmit, adhoc.AdminFormType)
	for k, v := range fields {
		fl := form.Field{Var: k, Values: v}
		if len(v) > 1 {
			fl.Type = form.FieldTextMulti // xmpp/form wants the type of multi-valued fields
			if k == "accountjids" {
				fl.Type = form.FieldJIDMulti
			}
		}
		f.Add(fl)
	}
	return run(ctx, t, c, &xadhoc.Command{Node: first.Node, SessionID: first.SessionID, Action: xadhoc.ActionComplete, Form: f})
}

// do runs a two-stage command to completion.
func do(ctx context.Context, t *testing.T, c *client.Client, node string, fields map[string][]string) *xadhoc.Command {
	t.Helper()
	got, err := submit(ctx, t, c, start(ctx, t, c, node), fields)
	if err != nil {
		t.Fatalf("%s: %v", node, err)
	}
	if got.Status != xadhoc.StatusCompleted {
		t.Fatalf("%s: status %s", node, got.Status)
	}
	return got
}

func wantErr(t *testing.T, what string, err error, cond stanza.Condition, app string) {
	t.Helper()
	var se *stanza.Error
	if !errors.As(err, &se) || se.Condition != cond {
		t.Fatalf("%s: error %v, want %s", what, err, cond)
	}
	if app != "" && (se.App == nil || se.App.Name.Local != app || se.App.Name.Space != xadhoc.NS) {
		t.Fatalf("%s: application condition %v, want %s", what, se.App, app)
	}
}

func TestDiscovery(t *testing.T) {
	s, admin, ctx := setup(t)
	bob := s.Client(t, "bob", pw, "phone")
	info, err := admin.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", "localhost", stanza.New(disco.NSInfo, "query")))
	if err != nil {
		t.Fatal(err)
	}
	if i, _ := disco.ParseInfo(info.Child(disco.NSInfo, "query")); !i.HasFeature(xadhoc.NS) {
		t.Fatalf("no commands feature in %s", info)
	}
	items := func(c *client.Client) []string {
		t.Helper()
		q := stanza.New(disco.NSItems, "query", "node", xadhoc.NS)
		res, err := c.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", "localhost", q))
		if err != nil {
			t.Fatal(err)
		}
		var nodes []string
		for _, it := range res.Child(disco.NSItems, "query").ChildrenNamed(disco.NSItems, "item") {
			if it.Get("jid") != "localhost" || it.Get("name") == "" {
				t.Errorf("item %s", it)
			}
			nodes = append(nodes, it.Get("node"))
		}
		return nodes
	}
	got := items(admin)
	for _, n := range []string{"add-user", "delete-user", "disable-user", "reenable-user", "end-user-session",
		"change-user-password", "get-online-users-num", "get-online-users-list", "announce"} {
		if !slices.Contains(got, adhoc.NodePrefix+n) {
			t.Errorf("admin's command list lacks %s: %v", n, got)
		}
	}
	if !slices.Contains(got, adhoc.PingNode) {
		t.Errorf("admin's command list lacks ping: %v", got)
	}
	// A user sees only the ping command (as Prosody offers it).
	if got := items(bob); !slices.Equal(got, []string{adhoc.PingNode}) {
		t.Errorf("a non-admin sees commands %v, want only %s", got, adhoc.PingNode)
	}
	// Command node info: an identity for the admin, forbidden for others.
	nodeInfo := func(c *client.Client) (*stanza.Element, error) {
		q := stanza.New(disco.NSInfo, "query", "node", adhoc.NodePrefix+"announce")
		return c.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", "localhost", q))
	}
	res, err := nodeInfo(admin)
	if err != nil {
		t.Fatal(err)
	}
	i, _ := disco.ParseInfo(res.Child(disco.NSInfo, "query"))
	if len(i.Identities) != 1 || i.Identities[0].Category != "automation" || i.Identities[0].Type != "command-node" || !i.HasFeature(xadhoc.NS) {
		t.Errorf("command node info %+v", i)
	}
	_, err = nodeInfo(bob)
	wantErr(t, "node info as non-admin", err, stanza.Forbidden, "")
}

// Every user may run the ping command: it completes at once with a note
// (XEP-0050 §3.4), and its node describes it.
func TestPingCommand(t *testing.T) {
	s, _, ctx := setup(t)
	bob := s.Client(t, "bob", pw, "phone")
	res, err := bob.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", "localhost", stanza.New(disco.NSInfo, "query", "node", adhoc.PingNode)))
	if err != nil {
		t.Fatal(err)
	}
	if i, _ := disco.ParseInfo(res.Child(disco.NSInfo, "query")); len(i.Identities) != 1 || i.Identities[0].Type != "command-node" || !i.HasFeature(xadhoc.NS) {
		t.Fatalf("ping node info %s", res)
	}
	got, err := run(ctx, t, bob, &xadhoc.Command{Node: adhoc.PingNode, Action: xadhoc.ActionExecute})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != xadhoc.StatusCompleted || got.Node != adhoc.PingNode || got.SessionID == "" || len(got.Notes) != 1 ||
		got.Notes[0].Type != xadhoc.NoteInfo || !strings.HasPrefix(got.Notes[0].Text, "Pong") {
		t.Fatalf("ping = %+v", got)
	}
}

func TestErrors(t *testing.T) {
	s, admin, ctx := setup(t)
	bob := s.Client(t, "bob", pw, "phone")
	// A non-admin may not run admin commands.
	_, err := run(ctx, t, bob, &xadhoc.Command{Node: adhoc.NodePrefix + "get-online-users-num"})
	wantErr(t, "non-admin", err, stanza.Forbidden, "")
	_, err = run(ctx, t, admin, &xadhoc.Command{Node: "urn:nope"})
	wantErr(t, "unknown node", err, stanza.ItemNotFound, "")
	_, err = run(ctx, t, admin, &xadhoc.Command{Node: adhoc.NodePrefix + "announce", Action: "jump"})
	wantErr(t, "unknown action", err, stanza.BadRequest, xadhoc.MalformedAction)
	_, err = run(ctx, t, admin, &xadhoc.Command{Node: adhoc.NodePrefix + "announce", SessionID: "forged", Action: xadhoc.ActionComplete})
	wantErr(t, "unknown session", err, stanza.NotAllowed, xadhoc.SessionExpired)
	_, err = run(ctx, t, admin, &xadhoc.Command{Node: adhoc.NodePrefix + "announce", Action: xadhoc.ActionComplete})
	wantErr(t, "complete without session", err, stanza.BadRequest, xadhoc.BadSessionID)

	first := start(ctx, t, admin, "announce")
	_, err = run(ctx, t, admin, &xadhoc.Command{Node: first.Node, SessionID: first.SessionID, Action: xadhoc.ActionNext})
	wantErr(t, "next on the last stage", err, stanza.BadRequest, xadhoc.BadAction)
	_, err = run(ctx, t, admin, &xadhoc.Command{Node: first.Node, SessionID: first.SessionID, Action: xadhoc.ActionPrev})
	wantErr(t, "prev on the first stage", err, stanza.BadRequest, xadhoc.BadAction)
	_, err = run(ctx, t, admin, &xadhoc.Command{Node: adhoc.NodePrefix + "delete-user", SessionID: first.SessionID, Action: xadhoc.ActionCancel})
	wantErr(t, "session of another command", err, stanza.BadRequest, xadhoc.BadSessionID)
	_, err = submit(ctx, t, admin, first, map[string][]string{})
	wantErr(t, "missing required field", err, stanza.BadRequest, xadhoc.BadPayload)
	// The session survives a bad stage; cancel ends it.
	got, err := run(ctx, t, admin, &xadhoc.Command{Node: first.Node, SessionID: first.SessionID, Action: xadhoc.ActionCancel})
	if err != nil || got.Status != xadhoc.StatusCanceled || got.SessionID != first.SessionID {
		t.Fatalf("cancel: %+v %v", got, err)
	}
	_, err = submit(ctx, t, admin, first, map[string][]string{"announcement": {"hi"}})
	wantErr(t, "canceled session", err, stanza.NotAllowed, xadhoc.SessionExpired)

	// Another resource of the same admin cannot continue the session.
	other := s.Client(t, "admin", pw, "laptop")
	first = start(ctx, t, admin, "announce")
	_, err = submit(ctx, t, other, first, map[string][]string{"announcement": {"hi"}})
	wantErr(t, "session of another resource", err, stanza.BadRequest, xadhoc.BadSessionID)

	// add-user: an existing user is a conflict, a foreign domain is
	// refused, mismatching passwords are refused.
	_, err = submit(ctx, t, admin, start(ctx, t, admin, "add-user"), map[string][]string{
		"accountjid": {"bob@localhost"}, "password": {"x"}, "password-verify": {"x"}})
	wantErr(t, "add existing user", err, stanza.Conflict, "")
	_, err = submit(ctx, t, admin, start(ctx, t, admin, "add-user"), map[string][]string{
		"accountjid": {"eve@elsewhere.example"}, "password": {"x"}, "password-verify": {"x"}})
	wantErr(t, "add foreign user", err, stanza.NotAcceptable, "")
	_, err = submit(ctx, t, admin, start(ctx, t, admin, "add-user"), map[string][]string{
		"accountjid": {"carol@localhost"}, "password": {"x"}, "password-verify": {"y"}})
	wantErr(t, "mismatching passwords", err, stanza.NotAcceptable, "")
}

func TestUserManagement(t *testing.T) {
	s, admin, ctx := setup(t)
	dial := func(user, password string) error {
		cfg := s.ClientConfig(t, user, password, "r")
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		c, err := client.Dial(dctx, cfg)
		if err == nil {
			c.Close()
		}
		return err
	}
	authCond := func(err error) string {
		var ae *client.AuthError
		if errors.As(err, &ae) {
			return ae.Condition
		}
		return ""
	}

	// add-user, then log in as the new user.
	res := do(ctx, t, admin, "add-user", map[string][]string{
		"accountjid": {"carol@localhost"}, "password": {"s3cret"}, "password-verify": {"s3cret"}})
	if len(res.Notes) == 0 || res.Notes[0].Type != xadhoc.NoteInfo {
		t.Errorf("add-user notes %+v", res.Notes)
	}
	if err := dial("carol", "s3cret"); err != nil {
		t.Fatalf("new user cannot log in: %v", err)
	}

	// change-user-password: the old password stops working, and the
	// sessions that logged in with it end with <reset/>.
	carol := s.Client(t, "carol", "s3cret", "laptop")
	do(ctx, t, admin, "change-user-password", map[string][]string{"accountjid": {"carol@localhost"}, "password": {"n3w"}})
	waitStreamError(t, carol, stream.Reset)
	if err := dial("carol", "s3cret"); authCond(err) != sasl.NotAuthorized {
		t.Fatalf("old password: %v", err)
	}
	if err := dial("carol", "n3w"); err != nil {
		t.Fatalf("new password: %v", err)
	}
	_, err := submit(ctx, t, admin, start(ctx, t, admin, "change-user-password"), map[string][]string{
		"accountjid": {"nobody@localhost"}, "password": {"x"}})
	wantErr(t, "password of a missing user", err, stanza.ItemNotFound, "")

	// disable-user ends the sessions and blocks logins with
	// <account-disabled/>, for SCRAM and PLAIN; reenable-user undoes it.
	bob := s.Client(t, "bob", pw, "phone")
	do(ctx, t, admin, "disable-user", map[string][]string{"accountjids": {"bob@localhost"}})
	waitStreamError(t, bob, stream.NotAuthorized)
	if err := dial("bob", pw); authCond(err) != sasl.AccountDisabled {
		t.Fatalf("disabled login (SCRAM): %v, want account-disabled", err)
	}
	plain := s.ClientConfig(t, "bob", pw, "r")
	plain.Mechanism = sasl.Plain
	if _, err := client.Dial(ctx, plain); authCond(err) != sasl.AccountDisabled {
		t.Fatalf("disabled login (PLAIN): %v, want account-disabled", err)
	}
	if err := dial("bob", "wrong password"); authCond(err) != sasl.NotAuthorized {
		t.Fatalf("disabled account with a wrong password: %v, want not-authorized", err)
	}
	do(ctx, t, admin, "reenable-user", map[string][]string{"accountjids": {"bob@localhost"}})
	if err := dial("bob", pw); err != nil {
		t.Fatalf("re-enabled login: %v", err)
	}

	// end-user-session with a full JID ends that session only.
	b1 := s.Client(t, "bob", pw, "one")
	b2 := s.Client(t, "bob", pw, "two")
	do(ctx, t, admin, "end-user-session", map[string][]string{"accountjids": {"bob@localhost/one"}})
	waitStreamError(t, b1, stream.PolicyViolation)
	if _, err := b2.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", "localhost", stanza.New("urn:xmpp:ping", "ping"))); err != nil {
		t.Fatalf("the other session was ended too: %v", err)
	}
	// A bare JID ends them all; the account stays usable.
	do(ctx, t, admin, "end-user-session", map[string][]string{"accountjids": {"bob@localhost"}})
	waitStreamError(t, b2, stream.PolicyViolation)
	if err := dial("bob", pw); err != nil {
		t.Fatalf("login after being kicked: %v", err)
	}

	// delete-user removes the account and its data, ends its sessions,
	// and reports unknown accounts in an error note.
	d := s.Client(t, "carol", "n3w", "x")
	if err := s.App.Stores().VCards.SetVCard(ctx, jid.MustParse("carol@localhost"), []byte("<vCard xmlns='vcard-temp'/>")); err != nil {
		t.Fatal(err)
	}
	res = do(ctx, t, admin, "delete-user", map[string][]string{"accountjids": {"carol@localhost", "ghost@localhost"}})
	waitStreamError(t, d, stream.NotAuthorized)
	var info, errs int
	for _, n := range res.Notes {
		switch n.Type {
		case xadhoc.NoteInfo:
			info++
		case xadhoc.NoteError:
			errs++
		}
	}
	if info != 1 || errs != 1 {
		t.Errorf("delete-user notes %+v", res.Notes)
	}
	if ok, _ := s.App.Stores().Accounts.AccountExists(ctx, jid.MustParse("carol@localhost")); ok {
		t.Error("deleted account still exists")
	}
	if _, err := s.App.Stores().VCards.VCard(ctx, jid.MustParse("carol@localhost")); err == nil {
		t.Error("deleted account's vCard is still stored")
	}
	if err := dial("carol", "n3w"); authCond(err) != sasl.NotAuthorized {
		t.Fatalf("deleted account login: %v", err)
	}
}

func TestOnlineUsersAndAnnounce(t *testing.T) {
	s, admin, ctx := setup(t)
	s.AddUser(t, "carol", pw)
	b1 := s.Client(t, "bob", pw, "one")
	b2 := s.Client(t, "bob", pw, "two")
	c := s.Client(t, "carol", pw, "x")

	got, err := run(ctx, t, admin, &xadhoc.Command{Node: adhoc.NodePrefix + "get-online-users-num"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != xadhoc.StatusCompleted || got.Form == nil || got.Form.Type != form.TypeResult ||
		got.Form.FormType() != adhoc.AdminFormType || got.Form.Field("onlineusersnum").Value() != "3" {
		t.Fatalf("online users num: %+v", got)
	}
	res := do(ctx, t, admin, "get-online-users-list", map[string][]string{"max_items": {"none"}})
	want := []string{"admin@localhost", "bob@localhost", "carol@localhost"}
	if f := res.Form.Field("onlineuserjids"); f == nil || !slices.Equal(f.Values, want) {
		t.Fatalf("online users list: %+v", res.Form)
	}
	res = do(ctx, t, admin, "get-online-users-list", map[string][]string{"max_items": {"2"}})
	if f := res.Form.Field("onlineuserjids"); f == nil || len(f.Values) != 2 {
		t.Fatalf("online users list limited to 2: %+v", res.Form)
	}
	_, err = submit(ctx, t, admin, start(ctx, t, admin, "get-online-users-list"), map[string][]string{"max_items": {"-4"}})
	wantErr(t, "bad max_items", err, stanza.NotAcceptable, "")

	do(ctx, t, admin, "announce", map[string][]string{"announcement": {"Going down", "in 5 minutes"}})
	for _, cl := range []*client.Client{b1, b2, c, admin} {
		for {
			m, err := cl.Recv(ctx)
			if err != nil {
				t.Fatalf("%s: no announcement: %v", cl.JID(), err)
			}
			if stanza.KindOf(m) != stanza.KindMessage {
				continue
			}
			if m.From() != "localhost" || m.Type() != stanza.TypeHeadline || m.ChildText(stanza.NSClient, "body") != "Going down\nin 5 minutes" {
				t.Fatalf("%s: announcement %s", cl.JID(), m)
			}
			break
		}
	}
}

// waitStreamError waits until the server ends c's stream with cond.
func waitStreamError(t *testing.T, c *client.Client, cond stream.Condition) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: the session was not ended", c.JID())
	}
	var se *stream.Error
	if err := c.Err(); !errors.As(err, &se) || se.Condition != cond {
		t.Fatalf("%s: stream ended with %v, want %s", c.JID(), err, cond)
	}
}

// TestAddUserUsernamePolicy: add-user (XEP-0133 §4.1) refuses the
// usernames in-band registration refuses (auth.CheckUsername), with
// <not-acceptable/>, and creates none of them.
func TestAddUserUsernamePolicy(t *testing.T) {
	s, admin, ctx := setup(t)
	for _, u := range []string{"", "bad user", "a<b", "a:b", "a@b", "a/b", "x\u0007", "\u2163", strings.Repeat("a", 1024)} {
		_, err := submit(ctx, t, admin, start(ctx, t, admin, "add-user"), map[string][]string{
			"accountjid": {u + "@localhost"}, "password": {"s3cret"}, "password-verify": {"s3cret"}})
		wantErr(t, "add-user "+u[:min(len(u), 20)], err, stanza.NotAcceptable, "")
	}
	users, err := s.App.Stores().Accounts.ListAccounts(ctx, "localhost")
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		if u.Local() != "admin" && u.Local() != "bob" {
			t.Errorf("account %s was created", u)
		}
	}
}
