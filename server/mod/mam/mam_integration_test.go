package mam_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/disco"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/mam"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stanzaid"
	"github.com/parley-xmpp/parley/xmpp/stream"
	"github.com/parley-xmpp/parley/xmpptest"
)

const wait = 5 * time.Second

func newServer(t testing.TB, opts ...xmpptest.Option) *xmpptest.Server {
	t.Helper()
	return newServerWithClock(t, nil, opts...)
}

// newServerWithClock starts a server whose modules read the time from
// clock (nil: the wall clock).
func newServerWithClock(t testing.TB, clock *xmpptest.Clock, opts ...xmpptest.Option) *xmpptest.Server {
	t.Helper()
	return xmpptest.NewServerWithClock(t, clock, append([]xmpptest.Option{func(c *config.Config) {
		var keep []config.Listener
		for _, l := range c.Listeners {
			if l.Type == config.ListenerC2S {
				keep = append(keep, l)
			}
		}
		c.Listeners = keep
	}}, opts...)...)
}

func login(t *testing.T, s *xmpptest.Server, user, res string) *client.Client {
	t.Helper()
	c := s.Client(t, user, "pw", res)
	xmpptest.Send(t, c, stanza.New(stanza.NSClient, "presence"))
	// The echo of its own presence comes back at once; a query run later
	// must not find it among the results.
	self := c.JID().String()
	xmpptest.Expect(t, c, "its own presence", func(st *stanza.Element) bool {
		return st.Name.Local == "presence" && st.Get("from") == self
	})
	return c
}

// chat sends a chat message and waits until the recipient client has it.
func chat(t *testing.T, from, to *client.Client, toJID, body string, extra ...*stanza.Element) *stanza.Element {
	t.Helper()
	m := stanza.NewMessage(stanza.TypeChat, toJID, body)
	m.Append(extra...)
	xmpptest.Send(t, from, m)
	got := xmpptest.NextMessage(t, to)
	if got.ChildText("", "body") != body {
		t.Fatalf("%s got %s, want body %q", to.JID(), got, body)
	}
	return got
}

var querySeq int

// query runs q and returns the results and the <fin/>.
func query(t *testing.T, c *client.Client, q mam.Query) ([]mam.Result, mam.Fin, error) {
	t.Helper()
	querySeq++
	q.QueryID = fmt.Sprintf("q%d", querySeq)
	reply, err := c.SendIQ(xmpptest.Context(t, wait), stanza.NewIQ(stanza.TypeSet, "", "", q.Element()))
	if err != nil {
		return nil, mam.Fin{}, err
	}
	fin, err := mam.ParseFin(reply.Payload())
	if err != nil {
		t.Fatalf("query result: %v: %s", err, reply)
	}
	var out []mam.Result
	for {
		// The results precede the IQ result; they are queued already or
		// about to be.
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		st, err := c.Recv(ctx)
		cancel()
		if err != nil {
			break
		}
		r, ok, err := mam.ParseResult(st)
		if !ok {
			t.Fatalf("unexpected stanza during a query: %s", st)
		}
		if err != nil || r.QueryID != q.QueryID {
			t.Fatalf("bad result %v: %s", err, st)
		}
		if st.From() != c.JID().Bare().String() {
			t.Fatalf("result from %q, not from the archive", st.From())
		}
		out = append(out, r)
	}
	return out, fin, nil
}

func mustQuery(t *testing.T, c *client.Client, q mam.Query) ([]mam.Result, mam.Fin) {
	t.Helper()
	res, fin, err := query(t, c, q)
	if err != nil {
		t.Fatalf("query: %v", err)
	}
	return res, fin
}

func bodies(rs []mam.Result) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Message.ChildText("", "body"))
	}
	return out
}

func mustParse(t *testing.T, x string) *stanza.Element {
	t.Helper()
	el, err := stream.ParseElement([]byte(x), stream.DefaultLimits())
	if err != nil {
		t.Fatalf("parse %s: %v", x, err)
	}
	return el
}

func wantErr(t *testing.T, what string, err error, cond stanza.Condition) {
	t.Helper()
	var se *stanza.Error
	if !errors.As(err, &se) || se.Condition != cond {
		t.Fatalf("%s: error %v, want %s", what, err, cond)
	}
}

func TestIntegrationArchiveOnceAndStanzaID(t *testing.T) {
	s := newServer(t)
	s.AddUser(t, "alice", "pw")
	s.AddUser(t, "bob", "pw")
	a1 := login(t, s, "alice", "one")
	a2 := login(t, s, "alice", "two")
	bob := login(t, s, "bob", "phone")

	info, err := a1.SendIQ(xmpptest.Context(t, wait), stanza.NewIQ(stanza.TypeGet, "", "alice@localhost", stanza.New(disco.NSInfo, "query")))
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := disco.ParseInfo(info.Payload()); !d.HasFeature(mam.NS) || !d.HasFeature(mam.NSExtended) || !d.HasFeature(stanzaid.NS) {
		t.Fatalf("account features: %s", info)
	}

	// alice → bob, bob → alice's bare JID (both resources get it), a chat
	// state alone, a <no-store/> message, then alice → bob again.
	atBob := chat(t, a1, bob, "bob@localhost", "hello bob")
	in := chat(t, bob, a1, "alice@localhost", "hello alice")
	in2 := xmpptest.NextMessage(t, a2)
	xmpptest.Send(t, bob, stanza.NewMessage(stanza.TypeChat, "alice@localhost", "").Append(stanza.New("http://jabber.org/protocol/chatstates", "composing")))
	xmpptest.NextMessage(t, a1)
	xmpptest.NextMessage(t, a2)
	chat(t, bob, a1, "alice@localhost", "do not keep", stanza.New("urn:xmpp:hints", "no-store"))
	xmpptest.NextMessage(t, a2)
	chat(t, a2, bob, "bob@localhost", "bye bob")

	res, fin := mustQuery(t, a1, mam.NewQuery())
	if got := bodies(res); !slices.Equal(got, []string{"hello bob", "hello alice", "bye bob"}) {
		t.Fatalf("alice's archive: %q", got)
	}
	if !fin.Complete || fin.Set.Count != 3 || fin.Set.First != res[0].ID || fin.Set.Last != res[2].ID || fin.Set.FirstIndex != 0 {
		t.Fatalf("fin = %+v", fin)
	}
	for _, r := range res {
		if r.Stamp.IsZero() || time.Since(r.Stamp) > time.Minute {
			t.Fatalf("result stamp %v", r.Stamp)
		}
	}
	if res[0].Message.From() != a1.JID().String() || res[0].Message.To() != "bob@localhost" {
		t.Fatalf("archived outgoing message: %s", res[0].Message)
	}

	// The incoming message reached both resources with the archive's id.
	id := stanzaid.Find(in, "alice@localhost")
	if id == "" || id != res[1].ID || stanzaid.Find(in2, "alice@localhost") != id {
		t.Fatalf("stanza-id %q (second resource %q), archive id %q", id, stanzaid.Find(in2, "alice@localhost"), res[1].ID)
	}
	if n := len(stanzaid.All(in)); n != 1 {
		t.Fatalf("%d stanza-ids on the delivered message", n)
	}
	// bob's copy has bob's archive id, and never alice's.
	bres, _ := mustQuery(t, bob, mam.NewQuery())
	if got := bodies(bres); !slices.Equal(got, []string{"hello bob", "hello alice", "bye bob"}) {
		t.Fatalf("bob's archive: %q", got)
	}
	if stanzaid.Find(atBob, "bob@localhost") != bres[0].ID || stanzaid.Find(atBob, "alice@localhost") != "" {
		t.Fatalf("bob received %s; archive id %s", atBob, bres[0].ID)
	}

	// A stanza-id claiming alice's archive is stripped; one by a foreign
	// entity is kept.
	forged := stanza.New(stanzaid.NS, "stanza-id", "by", "alice@localhost", "id", "forged")
	foreign := stanza.New(stanzaid.NS, "stanza-id", "by", "room@conference.example", "id", "x")
	got := chat(t, bob, a1, a1.JID().String(), "spoof", forged, foreign)
	if sid := stanzaid.Find(got, "alice@localhost"); sid == "" || sid == "forged" || len(stanzaid.All(got)) != 2 {
		t.Fatalf("spoofed message delivered as %s", got)
	}
	res, _ = mustQuery(t, a1, mam.NewQuery())
	if last := res[len(res)-1]; last.ID != stanzaid.Find(got, "alice@localhost") || stanzaid.Find(last.Message, "alice@localhost") != "" {
		t.Fatalf("archived spoof: id %s, message %s", last.ID, last.Message)
	}
	// Even a forged id on a message that is not archived goes.
	got = chat(t, bob, a1, a1.JID().String(), "spoof unarchived", forged, stanza.New("urn:xmpp:hints", "no-store"))
	if len(stanzaid.All(got)) != 0 {
		t.Fatalf("forged id survived: %s", got)
	}

	// Metadata.
	md, err := a1.SendIQ(xmpptest.Context(t, wait), stanza.NewIQ(stanza.TypeGet, "", "", stanza.New(mam.NS, "metadata")))
	if err != nil {
		t.Fatal(err)
	}
	meta, err := mam.ParseMetadata(md.Payload())
	if err != nil || meta.Start.ID != res[0].ID || meta.End.ID != res[len(res)-1].ID {
		t.Fatalf("metadata %+v, %v", meta, err)
	}

	// Only the owner may query.
	_, err = bob.SendIQ(xmpptest.Context(t, wait), stanza.NewIQ(stanza.TypeSet, "", "alice@localhost", mam.NewQuery().Element()))
	wantErr(t, "bob querying alice's archive", err, stanza.Forbidden)
}

func TestIntegrationQueryFiltersAndPaging(t *testing.T) {
	clock := xmpptest.NewClock(time.Now())
	s := newServerWithClock(t, clock)
	s.AddUser(t, "alice", "pw")
	s.AddUser(t, "bob", "pw")
	s.AddUser(t, "carol", "pw")
	a := login(t, s, "alice", "a")
	bob := login(t, s, "bob", "b")
	carol := login(t, s, "carol", "c")
	var all []string
	for i := range 7 {
		body := fmt.Sprintf("m%d", i)
		if i%3 == 2 {
			chat(t, carol, a, "alice@localhost", body)
		} else {
			chat(t, bob, a, "alice@localhost", body)
		}
		all = append(all, body)
		clock.Step(time.Millisecond) // distinct timestamps
	}
	full, _ := mustQuery(t, a, mam.NewQuery())
	if !slices.Equal(bodies(full), all) {
		t.Fatalf("archive %q", bodies(full))
	}

	// with: bare and full.
	q := mam.NewQuery()
	q.With = jid.MustParse("carol@localhost")
	res, _ := mustQuery(t, a, q)
	if !slices.Equal(bodies(res), []string{"m2", "m5"}) {
		t.Fatalf("with carol: %q", bodies(res))
	}
	q.With = carol.JID()
	if res, _ := mustQuery(t, a, q); len(res) != 2 {
		t.Fatalf("with carol's full JID: %d", len(res))
	}
	q.With = jid.MustParse("carol@localhost/elsewhere")
	if res, _ := mustQuery(t, a, q); len(res) != 0 {
		t.Fatalf("with another resource: %d", len(res))
	}

	// start and end are inclusive.
	q = mam.NewQuery()
	q.Start, q.End = full[2].Stamp, full[4].Stamp
	res, _ = mustQuery(t, a, q)
	if !slices.Equal(bodies(res), []string{"m2", "m3", "m4"}) {
		t.Fatalf("start/end: %q", bodies(res))
	}

	// #extended: after-id, before-id, ids.
	q = mam.NewQuery()
	q.AfterID, q.BeforeID = full[1].ID, full[5].ID
	if res, _ := mustQuery(t, a, q); !slices.Equal(bodies(res), []string{"m2", "m3", "m4"}) {
		t.Fatalf("after-id/before-id: %q", bodies(res))
	}
	q = mam.NewQuery()
	q.IDs = []string{full[6].ID, full[0].ID}
	if res, _ := mustQuery(t, a, q); !slices.Equal(bodies(res), []string{"m0", "m6"}) {
		t.Fatalf("ids: %q", bodies(res))
	}

	// Paging forward until complete.
	var got []string
	after := ""
	for page := 0; ; page++ {
		if page > 5 {
			t.Fatal("forward paging never completes")
		}
		q := mam.NewQuery()
		q.RSM.Max = 3
		if after != "" {
			q.RSM.After, q.RSM.HasAfter = after, true
		}
		res, fin := mustQuery(t, a, q)
		if fin.Set.Count != 7 || (len(res) > 0 && fin.Set.FirstIndex != len(got)) {
			t.Fatalf("forward page %d: fin %+v", page, fin)
		}
		got = append(got, bodies(res)...)
		if fin.Complete {
			break
		}
		after = fin.Set.Last
	}
	if !slices.Equal(got, all) {
		t.Fatalf("forward paging: %q", got)
	}

	// Paging backward from the end until complete, flipped.
	got = nil
	before := ""
	for page := 0; ; page++ {
		if page > 5 {
			t.Fatal("backward paging never completes")
		}
		q := mam.NewQuery()
		q.RSM.Max, q.RSM.Before, q.RSM.HasBefore = 3, before, true
		q.FlipPage = true
		res, fin := mustQuery(t, a, q)
		b := bodies(res)
		slices.Reverse(b) // flipped: newest first
		got = append(b, got...)
		if fin.Complete {
			break
		}
		before = fin.Set.First
	}
	if !slices.Equal(got, all) {
		t.Fatalf("backward paging: %q", got)
	}

	// max 0: the count alone.
	q = mam.NewQuery()
	q.RSM.Max = 0
	if res, fin := mustQuery(t, a, q); len(res) != 0 || fin.Set.Count != 7 {
		t.Fatalf("max 0: %d results, fin %+v", len(res), fin)
	}

	// Errors.
	q = mam.NewQuery()
	q.RSM.After, q.RSM.HasAfter = "unknown", true
	_, _, err := query(t, a, q)
	wantErr(t, "after an unknown id", err, stanza.ItemNotFound)
	q = mam.NewQuery()
	q.BeforeID = "unknown"
	_, _, err = query(t, a, q)
	wantErr(t, "before-id unknown", err, stanza.ItemNotFound)
	q = mam.NewQuery()
	q.IDs = []string{full[0].ID, "unknown"}
	_, _, err = query(t, a, q)
	wantErr(t, "ids with an unknown id", err, stanza.ItemNotFound)
	for _, c := range []struct {
		fields string
		want   stanza.Condition
	}{
		{`<field var='start'><value>not a date</value></field>`, stanza.NotAcceptable},
		{`<field var='{urn:example}fulltext'><value>x</value></field>`, stanza.FeatureNotImplemented},
	} {
		el := mustParse(t, `<query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data' type='submit'>`+
			`<field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field>`+c.fields+`</x></query>`)
		_, err := a.SendIQ(xmpptest.Context(t, wait), stanza.NewIQ(stanza.TypeSet, "", "", el))
		wantErr(t, c.fields, err, c.want)
	}
	el := mustParse(t, `<query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>urn:other</value></field></x></query>`)
	_, err = a.SendIQ(xmpptest.Context(t, wait), stanza.NewIQ(stanza.TypeSet, "", "", el))
	wantErr(t, "wrong FORM_TYPE", err, stanza.BadRequest)

	// The query form lists the fields.
	reply, err := a.SendIQ(xmpptest.Context(t, wait), stanza.NewIQ(stanza.TypeGet, "", "", stanza.New(mam.NS, "query")))
	if err != nil || reply.Payload().Child("jabber:x:data", "x") == nil {
		t.Fatalf("query form: %v %s", err, reply)
	}
}

func TestIntegrationPrefs(t *testing.T) {
	s := newServer(t)
	s.AddUser(t, "alice", "pw")
	s.AddUser(t, "bob", "pw")
	s.AddUser(t, "carol", "pw")
	a := login(t, s, "alice", "a")
	bob := login(t, s, "bob", "b")
	carol := login(t, s, "carol", "c")
	setPrefs := func(p mam.Prefs) mam.Prefs {
		t.Helper()
		reply, err := a.SendIQ(xmpptest.Context(t, wait), stanza.NewIQ(stanza.TypeSet, "", "", p.Element()))
		if err != nil {
			t.Fatalf("set prefs: %v", err)
		}
		got, err := mam.ParsePrefs(reply.Payload())
		if err != nil {
			t.Fatalf("set prefs reply: %v", err)
		}
		return got
	}
	getPrefs := func() mam.Prefs {
		t.Helper()
		reply, err := a.SendIQ(xmpptest.Context(t, wait), stanza.NewIQ(stanza.TypeGet, "", "", stanza.New(mam.NS, "prefs")))
		if err != nil {
			t.Fatalf("get prefs: %v", err)
		}
		got, err := mam.ParsePrefs(reply.Payload())
		if err != nil {
			t.Fatalf("get prefs reply: %v", err)
		}
		return got
	}
	if p := getPrefs(); p.Default != mam.DefaultAlways || len(p.Always)+len(p.Never) != 0 {
		t.Fatalf("initial prefs %+v", p)
	}

	// never: nothing is archived, except what 'always' lists.
	setPrefs(mam.Prefs{Default: mam.DefaultNever, Always: []jid.JID{jid.MustParse("carol@localhost")}})
	chat(t, bob, a, "alice@localhost", "from bob 1")
	chat(t, carol, a, "alice@localhost", "from carol 1")
	chat(t, a, bob, "bob@localhost", "to bob 1")

	// roster: only contacts in the roster (bob), and 'never' wins.
	item := stanza.New("jabber:iq:roster", "query").Append(stanza.New("jabber:iq:roster", "item", "jid", "bob@localhost"))
	if _, err := a.SendIQ(xmpptest.Context(t, wait), stanza.NewIQ(stanza.TypeSet, "", "", item)); err != nil {
		t.Fatalf("roster set: %v", err)
	}
	for {
		// Drain the roster push.
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		_, err := a.Recv(ctx)
		cancel()
		if err != nil {
			break
		}
	}
	p := setPrefs(mam.Prefs{Default: mam.DefaultRoster, Never: []jid.JID{jid.MustParse("bob@localhost/b")}})
	if p.Default != mam.DefaultRoster || len(p.Never) != 1 {
		t.Fatalf("applied prefs %+v", p)
	}
	if got := getPrefs(); got.Default != mam.DefaultRoster || len(got.Never) != 1 || got.Never[0].String() != "bob@localhost/b" {
		t.Fatalf("stored prefs %+v", got)
	}
	chat(t, bob, a, "alice@localhost", "from bob 2 (never by resource)")
	chat(t, carol, a, "alice@localhost", "from carol 2 (not in roster)")
	setPrefs(mam.Prefs{Default: mam.DefaultRoster})
	chat(t, bob, a, "alice@localhost", "from bob 3")
	chat(t, a, bob, "bob@localhost", "to bob 3")
	chat(t, a, carol, "carol@localhost", "to carol 3")

	res, _ := mustQuery(t, a, mam.NewQuery())
	if got, want := bodies(res), []string{"from carol 1", "from bob 3", "to bob 3"}; !slices.Equal(got, want) {
		t.Fatalf("archived %q, want %q", got, want)
	}
	// A message not archived carries no stanza-id.
	if m := chat(t, carol, a, "alice@localhost", "from carol 4"); len(stanzaid.All(m)) != 0 {
		t.Fatalf("unarchived message with a stanza-id: %s", m)
	}

	// A bad default is refused.
	bad := mustParse(t, `<prefs xmlns='urn:xmpp:mam:2' default='sometimes'/>`)
	_, err := a.SendIQ(xmpptest.Context(t, wait), stanza.NewIQ(stanza.TypeSet, "", "", bad))
	wantErr(t, "default=sometimes", err, stanza.BadRequest)
}

func TestIntegrationRetentionConfig(t *testing.T) {
	// The default comes from the config: with "never" nothing is kept.
	s := newServer(t, func(c *config.Config) { c.Modules.SetSection("mam", map[string]any{"default": "never"}) })
	s.AddUser(t, "alice", "pw")
	s.AddUser(t, "bob", "pw")
	a := login(t, s, "alice", "a")
	bob := login(t, s, "bob", "b")
	chat(t, bob, a, "alice@localhost", "not kept")
	if res, fin := mustQuery(t, a, mam.NewQuery()); len(res) != 0 || !fin.Complete || fin.Set.Count != 0 {
		t.Fatalf("archive with default never: %d results, fin %+v", len(res), fin)
	}
}

// An account deleted and created again starts with the default
// preferences, not the cached ones of its predecessor.
func TestIntegrationPrefsForgottenWithAccount(t *testing.T) {
	s := newServer(t)
	alice := s.AddUser(t, "alice", "pw")
	a := login(t, s, "alice", "a")
	never := mam.Prefs{Default: mam.DefaultNever}
	if _, err := a.SendIQ(xmpptest.Context(t, wait), stanza.NewIQ(stanza.TypeSet, "", "", never.Element())); err != nil {
		t.Fatalf("set prefs: %v", err)
	}
	remove := stanza.New("jabber:iq:register", "query").Append(stanza.New("jabber:iq:register", "remove"))
	if _, err := a.SendIQ(xmpptest.Context(t, wait), stanza.NewIQ(stanza.TypeSet, "", "", remove)); err != nil {
		t.Fatalf("remove account: %v", err)
	}
	// Wait until the deleted account's session is gone.
	for {
		if _, err := a.Recv(xmpptest.Context(t, wait)); err != nil {
			break
		}
	}
	xmpptest.Eventually(t, "the deleted account's session ended", func() bool {
		return len(s.App.Router().Sessions().Sessions(alice)) == 0
	})
	s.WaitSessionEnded(t, a.JID()) // the session-ended callbacks run after the unbind

	s.AddUser(t, "alice", "pw")
	a2 := login(t, s, "alice", "a")
	reply, err := a2.SendIQ(xmpptest.Context(t, wait), stanza.NewIQ(stanza.TypeGet, "", "", stanza.New(mam.NS, "prefs")))
	if err != nil {
		t.Fatalf("get prefs: %v", err)
	}
	if p, err := mam.ParsePrefs(reply.Payload()); err != nil || p.Default != mam.DefaultAlways {
		t.Fatalf("prefs of the new account: %+v, %v; want the default (always)", p, err)
	}
}

// TestIntegrationSenderCopyAlone: the sender's copy of a message to a
// local account is appended with the recipient's; where the recipient's
// step archives nothing (its owner archives nothing) or never comes (no
// such account: the message bounces), the sender's copy is archived all
// the same, once.
func TestIntegrationSenderCopyAlone(t *testing.T) {
	s := newServer(t)
	s.AddUser(t, "alice", "pw")
	s.AddUser(t, "bob", "pw")
	a := login(t, s, "alice", "a")
	bob := login(t, s, "bob", "b")
	reply, err := bob.SendIQ(xmpptest.Context(t, wait), stanza.NewIQ(stanza.TypeSet, "", "", mam.Prefs{Default: mam.DefaultNever}.Element()))
	if err != nil {
		t.Fatalf("bob's prefs: %v (%s)", err, reply)
	}

	chat(t, a, bob, "bob@localhost", "to bob, who keeps nothing")
	xmpptest.Send(t, a, stanza.NewMessage(stanza.TypeChat, "nobody@localhost", "to nobody"))
	bounce := xmpptest.NextMessage(t, a)
	if bounce.Get("type") != "error" || bounce.From() != "nobody@localhost" {
		t.Fatalf("message to no account came back as %s", bounce)
	}
	chat(t, a, bob, "bob@localhost", "to bob again")

	res, fin := mustQuery(t, a, mam.NewQuery())
	if got := bodies(res); !slices.Equal(got, []string{"to bob, who keeps nothing", "to nobody", "to bob again"}) || fin.Set.Count != 3 {
		t.Fatalf("alice's archive: %q (count %d)", got, fin.Set.Count)
	}
	if bres, _ := mustQuery(t, bob, mam.NewQuery()); len(bres) != 0 {
		t.Fatalf("bob's archive: %q", bodies(bres))
	}
}
