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

func TestServiceNodeLifecycle(t *testing.T) {
	s := xmpptest.NewServer(t)
	s.AddUser(t, "alice", "pw")
	bobJID := s.AddUser(t, "bob", "pw")
	alice := online(t, s, "alice", "desk")
	bob := online(t, s, "bob", "phone")
	const svc = "pubsub.localhost"

	// The server lists its pubsub service; the service describes itself.
	res := mustIQ(t, alice, stanza.TypeGet, s.Domain(), stanza.New(disco.NSItems, "query"))
	list, err := disco.ParseItems(res)
	if err != nil || !slices.ContainsFunc(list.Items, func(it disco.Item) bool { return it.JID.String() == svc }) {
		t.Fatalf("server disco#items = %s (%v)", res, err)
	}
	res = mustIQ(t, alice, stanza.TypeGet, svc, stanza.New(disco.NSInfo, "query"))
	if info, _ := disco.ParseInfo(res); len(info.Identities) == 0 || info.Identities[0].Category != "pubsub" || !info.HasFeature(xpubsub.Feature("publish-options")) {
		t.Fatalf("service disco#info = %s", res)
	}

	// Named and instant nodes.
	mustIQ(t, alice, stanza.TypeSet, svc, ps(stanza.New(xpubsub.NS, "create", "node", "blog")))
	_, err = iq(t, alice, stanza.TypeSet, svc, ps(stanza.New(xpubsub.NS, "create", "node", "blog")))
	wantErr(t, "create twice", err, stanza.Conflict, "")
	res = mustIQ(t, alice, stanza.TypeSet, svc, ps(stanza.New(xpubsub.NS, "create")))
	if res.Child(xpubsub.NS, "create").Get("node") == "" {
		t.Fatalf("instant node result = %s", res)
	}
	bad := form.New(form.TypeSubmit, xpubsub.NSNodeConfig).Add(form.Field{Var: "pubsub#access_model", Values: []string{"authorize"}})
	_, err = iq(t, alice, stanza.TypeSet, svc, ps(stanza.New(xpubsub.NS, "create", "node", "x"),
		stanza.New(xpubsub.NS, "configure").Append(bad.Element())))
	wantErr(t, "unsupported access model", err, stanza.NotAcceptable, xpubsub.CondUnsupportedAccessModel)

	// Configure: get the form, set max_items.
	res = mustIQ(t, alice, stanza.TypeGet, svc, owner(stanza.New(xpubsub.NSOwner, "configure", "node", "blog")))
	f, err := form.Parse(res.Child(xpubsub.NSOwner, "configure").Child(form.NS, "x"))
	if err != nil || f.FormType() != xpubsub.NSNodeConfig || f.Field("pubsub#access_model").Value() != "open" {
		t.Fatalf("configure form = %s (%v)", res, err)
	}
	set := form.New(form.TypeSubmit, xpubsub.NSNodeConfig).Add(form.Field{Var: "pubsub#max_items", Values: []string{"2"}})
	mustIQ(t, alice, stanza.TypeSet, svc, owner(stanza.New(xpubsub.NSOwner, "configure", "node", "blog").Append(set.Element())))
	_, err = iq(t, bob, stanza.TypeGet, svc, owner(stanza.New(xpubsub.NSOwner, "configure", "node", "blog")))
	wantErr(t, "configure by non-owner", err, stanza.Forbidden, "")
	_, err = iq(t, alice, stanza.TypeGet, svc, owner(stanza.New(xpubsub.NSOwner, "configure")))
	wantErr(t, "configure without node", err, stanza.BadRequest, xpubsub.CondNodeIDRequired)

	// Publish before bob subscribes: he gets it as the last item.
	mustIQ(t, alice, stanza.TypeSet, svc, publish("blog", "first", payload("urn:example:blog", "one")))
	_, err = iq(t, bob, stanza.TypeSet, svc, ps(stanza.New(xpubsub.NS, "subscribe", "node", "blog", "jid", "alice@localhost")))
	wantErr(t, "subscribe with another JID", err, stanza.BadRequest, xpubsub.CondInvalidJID)
	_, err = iq(t, bob, stanza.TypeSet, svc, ps(stanza.New(xpubsub.NS, "subscribe", "node", "nope", "jid", bobJID.String())))
	wantErr(t, "subscribe to a missing node", err, stanza.ItemNotFound, "")
	res = mustIQ(t, bob, stanza.TypeSet, svc, ps(stanza.New(xpubsub.NS, "subscribe", "node", "blog", "jid", bobJID.String())))
	if sub := res.Child(xpubsub.NS, "subscription"); sub == nil || sub.Get("subscription") != "subscribed" || sub.Get("subid") == "" {
		t.Fatalf("subscribe result = %s", res)
	}
	ev, msg := event(t, bob, "blog")
	if len(ev.Items) != 1 || ev.Items[0].ID != "first" || msg.From() != svc || msg.Type() != "headline" {
		t.Fatalf("last item on subscribe = %s", msg)
	}

	// Publishing: generated ids, notifications, max_items.
	res = mustIQ(t, alice, stanza.TypeSet, svc, publish("blog", "", payload("urn:example:blog", "two")))
	gen := res.Child(xpubsub.NS, "publish").Child(xpubsub.NS, "item").Get("id")
	if gen == "" {
		t.Fatalf("publish result = %s", res)
	}
	if ev, _ := event(t, bob, "blog"); ev.Items[0].ID != gen || ev.Items[0].Payload.Text() != "two" {
		t.Fatalf("notification = %+v", ev)
	}
	mustIQ(t, alice, stanza.TypeSet, svc, publish("blog", "third", payload("urn:example:blog", "three")))
	event(t, bob, "blog")
	res = mustIQ(t, bob, stanza.TypeGet, svc, items("blog", ""))
	if got := itemIDs(res); !slices.Equal(got, []string{"third", gen}) {
		t.Fatalf("items with max_items 2 = %v", got)
	}
	res = mustIQ(t, bob, stanza.TypeGet, svc, items("blog", "1"))
	if got := itemIDs(res); !slices.Equal(got, []string{"third"}) {
		t.Fatalf("items max_items=1 = %v", got)
	}
	res = mustIQ(t, bob, stanza.TypeGet, svc, items("blog", "", gen))
	if got := itemIDs(res); !slices.Equal(got, []string{gen}) {
		t.Fatalf("item by id = %v", got)
	}
	_, err = iq(t, bob, stanza.TypeSet, svc, publish("blog", "x", payload("urn:example:blog", "bob")))
	wantErr(t, "publish by a subscriber", err, stanza.Forbidden, "")
	two := publish("blog", "a", payload("urn:example:blog", "a"))
	two.Child(xpubsub.NS, "publish").Append(stanza.New(xpubsub.NS, "item", "id", "b"))
	_, err = iq(t, alice, stanza.TypeSet, svc, two)
	wantErr(t, "publish two items", err, stanza.BadRequest, xpubsub.CondInvalidPayload)

	// Retract with notification.
	retract := stanza.New(xpubsub.NS, "retract", "node", "blog", "notify", "true").Append(stanza.New(xpubsub.NS, "item", "id", "third"))
	mustIQ(t, alice, stanza.TypeSet, svc, ps(retract))
	if ev, _ := event(t, bob, "blog"); !slices.Equal(ev.Retract, []string{"third"}) {
		t.Fatalf("retract notification = %+v", ev)
	}
	_, err = iq(t, alice, stanza.TypeSet, svc, ps(retract))
	wantErr(t, "retract a missing item", err, stanza.ItemNotFound, "")
	_, err = iq(t, alice, stanza.TypeSet, svc, ps(stanza.New(xpubsub.NS, "retract", "node", "blog")))
	wantErr(t, "retract without item", err, stanza.BadRequest, xpubsub.CondItemRequired)

	// Owner views of subscriptions and affiliations; entity views.
	res = mustIQ(t, alice, stanza.TypeGet, svc, owner(stanza.New(xpubsub.NSOwner, "subscriptions", "node", "blog")))
	if subs := res.Child(xpubsub.NSOwner, "subscriptions").ChildrenNamed(xpubsub.NSOwner, "subscription"); len(subs) != 1 || subs[0].Get("jid") != bobJID.String() {
		t.Fatalf("owner subscriptions = %s", res)
	}
	res = mustIQ(t, alice, stanza.TypeGet, svc, owner(stanza.New(xpubsub.NSOwner, "affiliations", "node", "blog")))
	if affs := res.Child(xpubsub.NSOwner, "affiliations").ChildrenNamed(xpubsub.NSOwner, "affiliation"); len(affs) != 1 || affs[0].Get("affiliation") != "owner" {
		t.Fatalf("owner affiliations = %s", res)
	}
	res = mustIQ(t, bob, stanza.TypeGet, svc, ps(stanza.New(xpubsub.NS, "subscriptions")))
	if subs := res.Child(xpubsub.NS, "subscriptions").ChildrenNamed(xpubsub.NS, "subscription"); len(subs) != 1 || subs[0].Get("node") != "blog" {
		t.Fatalf("own subscriptions = %s", res)
	}
	res = mustIQ(t, alice, stanza.TypeGet, svc, ps(stanza.New(xpubsub.NS, "affiliations")))
	if affs := res.Child(xpubsub.NS, "affiliations").ChildrenNamed(xpubsub.NS, "affiliation"); len(affs) != 2 {
		t.Fatalf("own affiliations = %s", res)
	}

	// Purge and delete notify; non-owners are refused.
	_, err = iq(t, bob, stanza.TypeSet, svc, owner(stanza.New(xpubsub.NSOwner, "purge", "node", "blog")))
	wantErr(t, "purge by non-owner", err, stanza.Forbidden, "")
	mustIQ(t, alice, stanza.TypeSet, svc, owner(stanza.New(xpubsub.NSOwner, "purge", "node", "blog")))
	if ev, _ := event(t, bob, "blog"); !ev.Purge {
		t.Fatalf("purge notification = %+v", ev)
	}
	if got := itemIDs(mustIQ(t, bob, stanza.TypeGet, svc, items("blog", ""))); len(got) != 0 {
		t.Fatalf("items after purge = %v", got)
	}
	mustIQ(t, bob, stanza.TypeSet, svc, ps(stanza.New(xpubsub.NS, "unsubscribe", "node", "blog", "jid", bobJID.String())))
	_, err = iq(t, bob, stanza.TypeSet, svc, ps(stanza.New(xpubsub.NS, "unsubscribe", "node", "blog", "jid", bobJID.String())))
	wantErr(t, "unsubscribe twice", err, stanza.UnexpectedRequest, xpubsub.CondNotSubscribed)
	mustIQ(t, bob, stanza.TypeSet, svc, ps(stanza.New(xpubsub.NS, "subscribe", "node", "blog", "jid", bobJID.String())))
	_, err = iq(t, bob, stanza.TypeSet, svc, owner(stanza.New(xpubsub.NSOwner, "delete", "node", "blog")))
	wantErr(t, "delete by non-owner", err, stanza.Forbidden, "")
	mustIQ(t, alice, stanza.TypeSet, svc, owner(stanza.New(xpubsub.NSOwner, "delete", "node", "blog")))
	if ev, _ := event(t, bob, "blog"); !ev.Delete {
		t.Fatalf("delete notification = %+v", ev)
	}
	_, err = iq(t, bob, stanza.TypeGet, svc, items("blog", ""))
	wantErr(t, "items of a deleted node", err, stanza.ItemNotFound, "")
	_, err = iq(t, bob, stanza.TypeSet, svc, ps(stanza.New(xpubsub.NS, "options", "node", "blog")))
	wantErr(t, "subscription options", err, stanza.FeatureNotImplemented, xpubsub.CondUnsupported)
	noEvent(t, bob, "blog", 200*time.Millisecond)
}
