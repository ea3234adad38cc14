// Package transfertest fills a backend with every kind of data Parley
// stores and takes comparable snapshots of backends, for the round-trip
// tests of parley migrate, export and import.
package transfertest

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/server/transfer"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// Users are the accounts Fill creates; the last one has no data but its
// keys.
var Users = []string{"alice@localhost", "bob@example.org", "ĵürgen@例え.jp", "empty@localhost"}

// Service is the pubsub service (not an account) Fill creates.
const Service = "pubsub.localhost"

// T0 is the base of the times Fill writes.
var T0 = time.Date(2024, 5, 6, 7, 8, 9, 987654321, time.UTC)

// Fill writes a bit of every kind of data for the Users, a pubsub service
// and invitations.
func Fill(t testing.TB, s storage.Stores) {
	t.Helper()
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for i, us := range Users {
		u := jid.MustParse(us)
		keys := []storage.SCRAMKey{
			{Hash: "SHA-256", Salt: []byte{byte(i), 1, 2}, Iterations: 4096 + i, StoredKey: bytes.Repeat([]byte{3, byte(i)}, 16), ServerKey: bytes.Repeat([]byte{4, byte(i)}, 16)},
			{Hash: "SHA-1", Salt: []byte{9}, Iterations: 4096, StoredKey: bytes.Repeat([]byte{5}, 20), ServerKey: bytes.Repeat([]byte{6}, 20)},
		}
		must(s.Accounts.CreateAccount(ctx, u, keys))
		if us == "empty@localhost" {
			continue
		}
		if i == 1 {
			must(s.Status.SetDisabled(ctx, u, true))
		}
		for j, c := range []string{"romeo@montague.lit", "juliet@capulet.lit", "σωκράτης@αθήνα.gr"} {
			_, err := s.Roster.PutRosterItem(ctx, u, storage.RosterItem{
				Contact: jid.MustParse(c), Name: fmt.Sprintf("C%d ✓ <&>", j), Groups: []string{"Friends", "Верона"}[:j%3],
				Subscription: storage.Subscription(j % 4), AskOut: j == 1, PreApproved: j == 2,
			})
			must(err)
		}
		_, err := s.Roster.DeleteRosterItem(ctx, u, jid.MustParse("juliet@capulet.lit"))
		must(err)
		for j, f := range []string{"z@x.example", "a@x.example"} {
			must(s.Roster.AddSubscriptionRequest(ctx, u, storage.SubscriptionRequest{
				From:   jid.MustParse(f),
				Stanza: []byte(fmt.Sprintf(`<presence xmlns="jabber:client" type="subscribe" id="%d" from="%s" to="%s"><nick xmlns="http://jabber.org/protocol/nick">N%d</nick></presence>`, j, f, us, j)),
				At:     T0.Add(time.Duration(j) * time.Second),
			}))
		}
		im := s.Accounts.(storage.Importer)
		var offline []storage.OfflineMessage
		for j := range 5 {
			at := T0.Add(time.Duration(j) * time.Minute).Truncate(time.Millisecond)
			offline = append(offline, storage.OfflineMessage{At: at, Stanza: []byte(fmt.Sprintf(
				`<message xmlns="jabber:client" from="romeo@montague.lit/orchard" to="%s" type="chat"><body>%s %d ünï &amp;</body><delay xmlns="urn:xmpp:delay" from="%s" stamp="%s">Offline Storage</delay></message>`,
				us, us, j, u.Domain(), at.Format("2006-01-02T15:04:05.000Z")))})
		}
		must(im.ImportOffline(ctx, u, offline))
		must(s.VCards.SetVCard(ctx, u, []byte(`<vCard xmlns="vcard-temp"><FN>`+us+`</FN><NICKNAME>n ✓</NICKNAME></vCard>`)))
		must(s.Private.SetPrivateXML(ctx, u, "storage:bookmarks storage", []byte(`<storage xmlns="storage:bookmarks"><conference jid="x@conference.localhost" autojoin="true"/></storage>`)))
		must(s.Private.SetPrivateXML(ctx, u, "x:y ë", []byte(`<ë xmlns="x:y">text</ë>`)))
		must(s.Blocking.Block(ctx, u, []jid.JID{jid.MustParse("spam.example"), jid.MustParse("eve@evil.example/res")}))
		must(s.Last.SetLastActivity(ctx, u, T0.Add(time.Duration(i)*time.Hour), "gone 🎣"))
		must(s.Archive.SetArchivePrefs(ctx, u, storage.ArchivePrefs{Default: "roster", Always: []jid.JID{jid.MustParse("romeo@montague.lit")}}))
		for j := range 7 {
			other := jid.MustParse("romeo@montague.lit/orchard")
			m := storage.ArchivedMessage{ID: fmt.Sprintf("id-%d-%d", i, j), With: other, Outgoing: j%2 == 0,
				At: T0.Add(time.Duration(j) * time.Microsecond * 1234567)}
			from, to := us+"/phone", other.String()
			if !m.Outgoing {
				from, to = to, us+"/phone"
			}
			origin := ""
			if j == 3 {
				m.OriginID = "origin-3"
				origin = `<origin-id xmlns="urn:xmpp:sid:0" id="origin-3"/>`
			}
			m.Stanza = []byte(fmt.Sprintf(`<message xmlns="jabber:client" from="%s" to="%s" type="chat" id="m%d"><body>archived %d ✓</body>%s</message>`, from, to, j, j, origin))
			must(s.Archive.AppendArchive(ctx, u, m))
		}
		for j, node := range []string{"urn:xmpp:avatar:metadata", "urn:xmpp:bookmarks:1"} {
			must(s.PubSub.CreateNode(ctx, storage.PubSubNode{Service: u, Node: node, Created: T0.Add(time.Duration(j) * time.Second),
				Config: map[string][]string{"pubsub#access_model": {"presence"}, "pubsub#max_items": {"10"}, "pubsub#roster_groups_allowed": {"Friends", "Верона"}}}))
			for k := range 3 {
				must(s.PubSub.PutItem(ctx, u, node, storage.PubSubItem{ID: fmt.Sprintf("item%d", 2-k), Publisher: u,
					Payload: []byte(fmt.Sprintf(`<conference xmlns="urn:xmpp:bookmarks:1" name="R%d"/>`, k)), Published: T0.Add(time.Duration(k) * time.Hour)}, 0))
			}
		}
		must(s.PubSub.SetAffiliation(ctx, u, storage.PubSubAffiliation{Node: "urn:xmpp:bookmarks:1", JID: jid.MustParse("romeo@montague.lit"), Affiliation: "member"}))
		must(s.PubSub.SetSubscription(ctx, u, storage.PubSubSubscription{Node: "urn:xmpp:avatar:metadata", JID: jid.MustParse("romeo@montague.lit/orchard"), SubID: "s1", State: "subscribed"}))
		must(s.Push.PutPush(ctx, u, storage.PushRegistration{Service: jid.MustParse("push.example"), Node: "n1", Resource: "phone",
			Options: []byte(`<x xmlns="jabber:x:data" type="submit"><field var="secret"><value>s ✓</value></field></x>`), IncludeBody: true, Created: T0}))
		must(s.Push.PutPush(ctx, u, storage.PushRegistration{Service: jid.MustParse("push.example"), Node: "", Resource: "tablet", Created: T0.Add(time.Second)}))
		tok := func(b byte) storage.FastToken {
			return storage.FastToken{ID: []byte{b, 1, 2, 3}, Key: []byte{b, 9}, Mechanism: "HT-SHA-256-NONE", Expiry: T0.Add(time.Duration(b) * time.Hour)}
		}
		must(s.Fast.PutFastToken(ctx, u, "client-a", tok(1)))
		must(s.Fast.UseFastToken(ctx, u, "client-a", tok(1).ID, 7))
		must(s.Fast.PutFastToken(ctx, u, "client-a", tok(2)))
		must(s.Fast.PutFastToken(ctx, u, "client-b", tok(3)))
	}
	svc := jid.MustParse(Service)
	must(s.PubSub.CreateNode(ctx, storage.PubSubNode{Service: svc, Node: "news", Created: T0,
		Config: map[string][]string{"pubsub#access_model": {"open"}, "pubsub#title": {"News ✓"}}}))
	must(s.PubSub.PutItem(ctx, svc, "news", storage.PubSubItem{ID: "n1", Publisher: jid.MustParse("alice@localhost"),
		Payload: []byte(`<entry xmlns="http://www.w3.org/2005/Atom"><title>t</title></entry>`), Published: T0}, 0))
	must(s.PubSub.PutItem(ctx, svc, "news", storage.PubSubItem{ID: "n2", Publisher: jid.MustParse("alice@localhost"), Published: T0.Add(time.Second)}, 0))
	must(s.PubSub.SetAffiliation(ctx, svc, storage.PubSubAffiliation{Node: "news", JID: jid.MustParse("alice@localhost"), Affiliation: "owner"}))
	must(s.PubSub.SetSubscription(ctx, svc, storage.PubSubSubscription{Node: "news", JID: jid.MustParse("bob@example.org/x"), SubID: "b", State: "subscribed"}))
	must(s.Invites.CreateInvite(ctx, storage.Invite{Token: "tok-1", Domain: "localhost", MaxUses: 3, Uses: 1, Created: T0}))
	must(s.Invites.CreateInvite(ctx, storage.Invite{Token: "tok-2", Domain: "example.org", Username: "carol", MaxUses: 1, Created: T0, Expires: T0.Add(24 * time.Hour)}))
}

// Snapshot is everything a backend holds, in comparable form.
type Snapshot struct {
	Accounts []*transfer.Account
	Archives map[string][]storage.ArchivedMessage
	Services []*transfer.Service
	Invites  []storage.Invite
}

// Take reads everything s holds.
func Take(t testing.TB, s storage.Stores) Snapshot {
	t.Helper()
	ctx := context.Background()
	snap := Snapshot{Archives: map[string][]storage.ArchivedMessage{}}
	users, err := s.Accounts.ListAccounts(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		a, err := transfer.ReadAccount(ctx, s, u)
		if err != nil {
			t.Fatal(err)
		}
		snap.Accounts = append(snap.Accounts, transfer.Normalise(a))
		err = transfer.ArchivePages(ctx, s.Archive, u, func(ms []storage.ArchivedMessage) error {
			for _, m := range ms {
				m.At = m.At.UTC()
				snap.Archives[u.String()] = append(snap.Archives[u.String()], m)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	svcs, err := s.Accounts.(storage.Lister).PubSubServices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range svcs {
		if ok, _ := s.Accounts.AccountExists(ctx, j); ok {
			continue
		}
		svc, err := transfer.ReadService(ctx, s, j)
		if err != nil {
			t.Fatal(err)
		}
		a := transfer.Normalise(&transfer.Account{PEP: svc.Nodes})
		svc.Nodes = a.PEP
		snap.Services = append(snap.Services, svc)
	}
	invs, err := s.Invites.ListInvites(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, inv := range invs {
		inv.Created, inv.Expires = inv.Created.UTC(), inv.Expires.UTC()
		snap.Invites = append(snap.Invites, inv)
	}
	return snap
}

// Check fails t unless the snapshots are equal, naming the first
// difference.
func Check(t testing.TB, got, want Snapshot) {
	t.Helper()
	if len(want.Accounts) != len(Users) {
		t.Fatalf("the reference holds %d accounts, want %d", len(want.Accounts), len(Users))
	}
	if len(got.Accounts) != len(want.Accounts) {
		t.Fatalf("%d accounts, want %d", len(got.Accounts), len(want.Accounts))
	}
	for i := range want.Accounts {
		g, w := reflect.ValueOf(*got.Accounts[i]), reflect.ValueOf(*want.Accounts[i])
		for f := range w.NumField() {
			if !reflect.DeepEqual(g.Field(f).Interface(), w.Field(f).Interface()) {
				t.Fatalf("account %s, %s:\n got %+v\nwant %+v", want.Accounts[i].User, w.Type().Field(f).Name,
					g.Field(f).Interface(), w.Field(f).Interface())
			}
		}
	}
	for u, w := range want.Archives {
		if !reflect.DeepEqual(got.Archives[u], w) {
			t.Fatalf("archive of %s:\n got %+v\nwant %+v", u, got.Archives[u], w)
		}
	}
	if len(got.Archives) != len(want.Archives) {
		t.Fatalf("%d archives, want %d", len(got.Archives), len(want.Archives))
	}
	if !reflect.DeepEqual(got.Services, want.Services) {
		t.Fatalf("pubsub services:\n got %+v\nwant %+v", got.Services, want.Services)
	}
	if !reflect.DeepEqual(got.Invites, want.Invites) {
		t.Fatalf("invitations:\n got %+v\nwant %+v", got.Invites, want.Invites)
	}
}
