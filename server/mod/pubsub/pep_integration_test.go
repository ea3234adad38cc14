package pubsub_test

import (
	"slices"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/xmpp/disco"
	"github.com/parley-xmpp/parley/xmpp/form"
	xpubsub "github.com/parley-xmpp/parley/xmpp/pubsub"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

const tune = "http://jabber.org/protocol/tune"

func TestPEPDiscoAndAccessModels(t *testing.T) {
	s := xmpptest.NewServer(t)
	aliceJID := s.AddUser(t, "alice", "pw")
	bobJID := s.AddUser(t, "bob", "pw")
	s.AddUser(t, "carol", "pw")
	daveJID := s.AddUser(t, "dave", "pw")
	friends(t, s, aliceJID, bobJID, "Friends")
	friends(t, s, aliceJID, daveJID)
	alice := s.Client(t, "alice", "pw", "desk")
	bob := s.Client(t, "bob", "pw", "phone")
	carol := s.Client(t, "carol", "pw", "laptop")
	dave := s.Client(t, "dave", "pw", "tablet")
	a := aliceJID.String()

	// XEP-0163 §6.1: the account is a pubsub/pep service.
	info, err := disco.ParseInfo(mustIQ(t, alice, stanza.TypeGet, a, stanza.New(disco.NSInfo, "query")))
	if err != nil || !slices.Contains(info.Identities, disco.Identity{Category: "pubsub", Type: "pep"}) ||
		!info.HasFeature(xpubsub.Feature("publish-options")) || !info.HasFeature("urn:xmpp:pep-vcard-conversion:0") {
		t.Fatalf("account disco#info = %+v (%v)", info, err)
	}

	publishNode := func(node, access string, extra map[string]string) {
		t.Helper()
		fields := map[string]string{"pubsub#access_model": access}
		for k, v := range extra {
			fields[k] = v
		}
		mustIQ(t, alice, stanza.TypeSet, "", publishWith(node, "current", payload("urn:example", node), fields))
	}
	// presence (the default: publish without options).
	mustIQ(t, alice, stanza.TypeSet, "", publish("urn:example:presence", "current", payload("urn:example", "p")))
	if got := itemIDs(mustIQ(t, bob, stanza.TypeGet, a, items("urn:example:presence", ""))); !slices.Equal(got, []string{"current"}) {
		t.Fatalf("contact items = %v", got)
	}
	_, err = iq(t, carol, stanza.TypeGet, a, items("urn:example:presence", ""))
	wantErr(t, "stranger on presence node", err, stanza.NotAuthorized, xpubsub.CondPresenceSubscriptionRequired)
	_, err = iq(t, carol, stanza.TypeSet, a, ps(stanza.New(xpubsub.NS, "subscribe", "node", "urn:example:presence", "jid", "carol@localhost")))
	wantErr(t, "stranger subscribes to presence node", err, stanza.NotAuthorized, xpubsub.CondPresenceSubscriptionRequired)

	// roster, with a group allowed.
	mustIQ(t, alice, stanza.TypeSet, "", ps(stanza.New(xpubsub.NS, "create", "node", "urn:example:roster"),
		stanza.New(xpubsub.NS, "configure").Append(form.New(form.TypeSubmit, xpubsub.NSNodeConfig).
			Add(form.Field{Var: "pubsub#access_model", Values: []string{"roster"}}).
			Add(form.Field{Var: "pubsub#roster_groups_allowed", Values: []string{"Friends"}}).Element())))
	mustIQ(t, alice, stanza.TypeSet, "", publish("urn:example:roster", "current", payload("urn:example", "r")))
	mustIQ(t, bob, stanza.TypeGet, a, items("urn:example:roster", ""))
	_, err = iq(t, dave, stanza.TypeGet, a, items("urn:example:roster", ""))
	wantErr(t, "contact outside the groups", err, stanza.NotAuthorized, xpubsub.CondNotInRosterGroup)

	// whitelist: closed until alice makes bob a member.
	publishNode("urn:example:whitelist", "whitelist", nil)
	_, err = iq(t, bob, stanza.TypeGet, a, items("urn:example:whitelist", ""))
	wantErr(t, "contact on whitelist node", err, stanza.NotAllowed, xpubsub.CondClosedNode)
	mustIQ(t, alice, stanza.TypeSet, "", owner(stanza.New(xpubsub.NSOwner, "affiliations", "node", "urn:example:whitelist").
		Append(stanza.New(xpubsub.NSOwner, "affiliation", "jid", bobJID.String(), "affiliation", "member"))))
	mustIQ(t, bob, stanza.TypeGet, a, items("urn:example:whitelist", ""))
	_, err = iq(t, bob, stanza.TypeSet, a, owner(stanza.New(xpubsub.NSOwner, "affiliations", "node", "urn:example:whitelist").
		Append(stanza.New(xpubsub.NSOwner, "affiliation", "jid", bobJID.String(), "affiliation", "owner"))))
	wantErr(t, "contact changes affiliations", err, stanza.Forbidden, "")

	// open: anyone.
	publishNode("urn:example:open", "open", nil)
	mustIQ(t, carol, stanza.TypeGet, a, items("urn:example:open", ""))

	// Only the account publishes, creates and deletes.
	_, err = iq(t, bob, stanza.TypeSet, a, publish("urn:example:open", "x", payload("urn:example", "b")))
	wantErr(t, "contact publishes", err, stanza.Forbidden, "")
	_, err = iq(t, bob, stanza.TypeSet, a, ps(stanza.New(xpubsub.NS, "create", "node", "bob-node")))
	wantErr(t, "contact creates", err, stanza.Forbidden, "")
	_, err = iq(t, carol, stanza.TypeGet, a, items("urn:example:none", ""))
	wantErr(t, "missing node", err, stanza.ItemNotFound, "")
}

func TestPEPPublishOptions(t *testing.T) {
	s := xmpptest.NewServer(t)
	s.AddUser(t, "alice", "pw")
	alice := s.Client(t, "alice", "pw", "desk")
	const node = "urn:xmpp:bookmarks:1"
	opts := map[string]string{
		"pubsub#persist_items": "true", "pubsub#max_items": "max",
		"pubsub#send_last_published_item": "never", "pubsub#access_model": "whitelist",
	}
	// Auto-create with the preconditions as configuration, then they hold.
	mustIQ(t, alice, stanza.TypeSet, "", publishWith(node, "a@muc.example", stanza.New(node, "conference"), opts))
	mustIQ(t, alice, stanza.TypeSet, "", publishWith(node, "b@muc.example", stanza.New(node, "conference"), opts))
	res := mustIQ(t, alice, stanza.TypeGet, "", owner(stanza.New(xpubsub.NSOwner, "configure", "node", node)))
	f, _ := form.Parse(res.Child(xpubsub.NSOwner, "configure").Child(form.NS, "x"))
	if f.Field("pubsub#access_model").Value() != "whitelist" || f.Field("pubsub#max_items").Value() != "max" ||
		f.Field("pubsub#send_last_published_item").Value() != "never" {
		t.Fatalf("auto-created config = %s", res)
	}
	if got := itemIDs(mustIQ(t, alice, stanza.TypeGet, "", items(node, ""))); len(got) != 2 {
		t.Fatalf("items = %v", got)
	}
	// A precondition that does not hold, or an unknown one.
	_, err := iq(t, alice, stanza.TypeSet, "", publishWith(node, "c@muc.example", stanza.New(node, "conference"),
		map[string]string{"pubsub#access_model": "open"}))
	wantErr(t, "precondition not met", err, stanza.Conflict, xpubsub.CondPreconditionNotMet)
	_, err = iq(t, alice, stanza.TypeSet, "", publishWith(node, "c@muc.example", stanza.New(node, "conference"),
		map[string]string{"pubsub#no_such_option": "1"}))
	wantErr(t, "unknown precondition", err, stanza.Conflict, xpubsub.CondPreconditionNotMet)
	_, err = iq(t, alice, stanza.TypeSet, "", publishWith("urn:example:new", "x", stanza.New(node, "conference"),
		map[string]string{"pubsub#bogus": "1"}))
	wantErr(t, "unknown precondition on auto-create", err, stanza.Conflict, xpubsub.CondPreconditionNotMet)
	if got := itemIDs(mustIQ(t, alice, stanza.TypeGet, "", items(node, ""))); len(got) != 2 {
		t.Fatalf("a refused publish stored an item: %v", got)
	}
}

func TestPEPNotificationsFollowCaps(t *testing.T) {
	s := xmpptest.NewServer(t)
	aliceJID := s.AddUser(t, "alice", "pw")
	bobJID := s.AddUser(t, "bob", "pw")
	carolJID := s.AddUser(t, "carol", "pw")
	s.AddUser(t, "mallory", "pw")
	friends(t, s, aliceJID, bobJID)
	friends(t, s, aliceJID, carolJID)
	bob := online(t, s, "bob", "phone", tune+"+notify")
	carol := online(t, s, "carol", "pc", "urn:example:other+notify")
	mallory := online(t, s, "mallory", "pc", tune+"+notify")
	alice := online(t, s, "alice", "desk", tune+"+notify")
	aliceMobile := online(t, s, "alice", "mobile")

	mustIQ(t, alice, stanza.TypeSet, "", publish(tune, "song", stanza.New(tune, "tune").Append(stanza.New(tune, "title").AppendText("Yesterday"))))
	ev, msg := event(t, bob, tune)
	if msg.From() != aliceJID.String() || msg.To() != bob.JID().String() || ev.Items[0].Payload.ChildText(tune, "title") != "Yesterday" {
		t.Fatalf("bob's notification = %s", msg)
	}
	if _, msg := event(t, alice, tune); msg.To() != alice.JID().String() {
		t.Fatalf("owner's notification = %s", msg)
	}
	noEvent(t, carol, tune, 300*time.Millisecond)       // no +notify for tune
	noEvent(t, mallory, tune, 100*time.Millisecond)     // not a contact
	noEvent(t, aliceMobile, tune, 100*time.Millisecond) // owner's resource without +notify

	// Retraction reaches the same resources.
	mustIQ(t, alice, stanza.TypeSet, "", ps(stanza.New(xpubsub.NS, "retract", "node", tune, "notify", "1").
		Append(stanza.New(xpubsub.NS, "item", "id", "song"))))
	if ev, _ := event(t, bob, tune); !slices.Equal(ev.Retract, []string{"song"}) {
		t.Fatalf("retract = %+v", ev)
	}
}

func TestPEPLastItemOnPresenceAndSubscribe(t *testing.T) {
	s := xmpptest.NewServer(t)
	aliceJID := s.AddUser(t, "alice", "pw")
	bobJID := s.AddUser(t, "bob", "pw")
	s.AddUser(t, "carol", "pw")
	friends(t, s, aliceJID, bobJID)
	alice := s.Client(t, "alice", "pw", "desk")
	mustIQ(t, alice, stanza.TypeSet, "", publish(tune, "old", stanza.New(tune, "tune")))
	mustIQ(t, alice, stanza.TypeSet, "", publish(tune, "last", stanza.New(tune, "tune")))

	// bob comes online interested in tunes: the last item reaches him.
	bob := online(t, s, "bob", "phone", tune+"+notify")
	ev, msg := event(t, bob, tune)
	if len(ev.Items) != 1 || ev.Items[0].ID != "last" || msg.From() != aliceJID.String() {
		t.Fatalf("last item on presence = %s", msg)
	}
	// A presence update is not initial presence: nothing more.
	if err := bob.Send(xmpptest.Context(t, wait), stanza.New(stanza.NSClient, "presence").
		Append(stanza.New(stanza.NSClient, "show").AppendText("away"))); err != nil {
		t.Fatal(err)
	}
	noEvent(t, bob, tune, 300*time.Millisecond)

	// The owner's own new resource gets it too.
	aliceToo := online(t, s, "alice", "laptop", tune+"+notify")
	if ev, _ := event(t, aliceToo, tune); ev.Items[0].ID != "last" {
		t.Fatalf("owner's last item = %+v", ev)
	}

	// An explicit subscription to an open node sends the last item.
	mustIQ(t, alice, stanza.TypeSet, "", publishWith("urn:example:news", "n1", payload("urn:example", "n"),
		map[string]string{"pubsub#access_model": "open"}))
	carol := online(t, s, "carol", "pc")
	res := mustIQ(t, carol, stanza.TypeSet, aliceJID.String(), ps(stanza.New(xpubsub.NS, "subscribe", "node", "urn:example:news", "jid", "carol@localhost")))
	if res.Child(xpubsub.NS, "subscription").Get("subscription") != "subscribed" {
		t.Fatalf("subscribe = %s", res)
	}
	if ev, _ := event(t, carol, "urn:example:news"); ev.Items[0].ID != "n1" {
		t.Fatalf("last item on subscribe = %+v", ev)
	}
	mustIQ(t, alice, stanza.TypeSet, "", publish("urn:example:news", "n2", payload("urn:example", "n")))
	if ev, _ := event(t, carol, "urn:example:news"); ev.Items[0].ID != "n2" {
		t.Fatalf("subscriber notification = %+v", ev)
	}
}

func TestOMEMODeviceListForStrangers(t *testing.T) {
	s := xmpptest.NewServer(t)
	aliceJID := s.AddUser(t, "alice", "pw")
	s.AddUser(t, "stranger", "pw")
	alice := s.Client(t, "alice", "pw", "desk")
	stranger := s.Client(t, "stranger", "pw", "pc")
	const devices = "eu.siacs.conversations.axolotl.devicelist"
	const bundle = "eu.siacs.conversations.axolotl.bundles:1234"
	const ax = "eu.siacs.conversations.axolotl"
	open := map[string]string{"pubsub#access_model": "open"}
	list := stanza.New(ax, "list").Append(stanza.New(ax, "device", "id", "1234"))
	mustIQ(t, alice, stanza.TypeSet, "", publishWith(devices, "current", list, open))
	mustIQ(t, alice, stanza.TypeSet, "", publishWith(bundle, "current", stanza.New(ax, "bundle").
		Append(stanza.New(ax, "identityKey").AppendText("BQ==")), open))
	res := mustIQ(t, stranger, stanza.TypeGet, aliceJID.String(), items(devices, ""))
	it := res.Child(xpubsub.NS, "items").Child(xpubsub.NS, "item")
	if it == nil || it.Child(ax, "list").Child(ax, "device").Get("id") != "1234" {
		t.Fatalf("device list for a stranger = %s", res)
	}
	res = mustIQ(t, stranger, stanza.TypeGet, aliceJID.String(), items(bundle, "1"))
	if res.Child(xpubsub.NS, "items").Child(xpubsub.NS, "item").Child(ax, "bundle") == nil {
		t.Fatalf("bundle for a stranger = %s", res)
	}
	// The OMEMO 2 namespace works the same.
	const v2 = "urn:xmpp:omemo:2"
	mustIQ(t, alice, stanza.TypeSet, "", publishWith(v2+":devices", "current", stanza.New(v2, "devices"), open))
	mustIQ(t, stranger, stanza.TypeGet, aliceJID.String(), items(v2+":devices", ""))
}
