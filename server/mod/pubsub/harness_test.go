package pubsub_test

import (
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/disco"
	"github.com/parley-xmpp/parley/xmpp/form"
	"github.com/parley-xmpp/parley/xmpp/jid"
	xpubsub "github.com/parley-xmpp/parley/xmpp/pubsub"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

const wait = 5 * time.Second

// online logs a client in that answers disco#info with the given
// features and sends initial presence carrying their XEP-0115 caps.
// onlineSeq makes every online client's caps unique.
var onlineSeq atomic.Uint64

func online(t *testing.T, s *xmpptest.Server, user, res string, features ...string) *client.Client {
	t.Helper()
	c := s.Client(t, user, "pw", res)
	// A name of its own makes this client's caps 'ver' new to the server,
	// which therefore always queries it: the wait below is for that query.
	info := disco.Info{
		Identities: []disco.Identity{{Category: "client", Type: "pc", Name: "test " + user + "/" + res + " " + strconv.FormatUint(onlineSeq.Add(1), 10)}},
		Features:   append([]string{disco.NSInfo}, features...),
	}
	capsEl, answered := xmpptest.AnswerCaps(t, c, info)
	p := stanza.New(stanza.NSClient, "presence").Append(capsEl)
	if err := c.Send(xmpptest.Context(t, wait), p); err != nil {
		t.Fatal(err)
	}
	// The server asks for the features behind the caps in the background;
	// wait for the answer, then for round trips after it, so that the
	// server has recorded the +notify interests before the test goes on.
	select {
	case <-answered:
	case <-time.After(wait):
		t.Fatalf("%s/%s: the server never asked for the features behind its caps", user, res)
	}
	for range 2 {
		mustIQ(t, c, stanza.TypeGet, s.Domain(), stanza.New(disco.NSInfo, "query"))
	}
	return c
}

// friends gives a and b a mutual presence subscription, a putting b in
// the given roster groups.
func friends(t *testing.T, s *xmpptest.Server, a, b jid.JID, groups ...string) {
	t.Helper()
	ctx := xmpptest.Context(t, wait)
	r := s.App.Stores().Roster
	if _, err := r.PutRosterItem(ctx, a, storage.RosterItem{Contact: b, Groups: groups, Subscription: storage.SubBoth}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.PutRosterItem(ctx, b, storage.RosterItem{Contact: a, Subscription: storage.SubBoth}); err != nil {
		t.Fatal(err)
	}
}

// event waits for a pubsub notification about node.
func event(t *testing.T, c *client.Client, node string) (xpubsub.Event, *stanza.Element) {
	t.Helper()
	st := xmpptest.Expect(t, c, "event on "+node, func(st *stanza.Element) bool {
		ev, err := xpubsub.ParseEvent(st)
		return st.Name.Local == "message" && err == nil && ev.Node == node
	})
	ev, _ := xpubsub.ParseEvent(st)
	return ev, st
}

// noEvent fails if a notification about node arrives within d.
func noEvent(t *testing.T, c *client.Client, node string, d time.Duration) {
	t.Helper()
	xmpptest.Never(t, c, "an unexpected event", d, func(st *stanza.Element) bool {
		ev, err := xpubsub.ParseEvent(st)
		return err == nil && ev.Node == node
	})
}

// iq sends a request and returns the reply's payload.
func iq(t *testing.T, c *client.Client, typ, to string, payload *stanza.Element) (*stanza.Element, error) {
	t.Helper()
	res, err := c.SendIQ(xmpptest.Context(t, wait), stanza.NewIQ(typ, "", to, payload))
	if err != nil {
		return nil, err
	}
	return res.Payload(), nil
}

// mustIQ is iq failing the test on an error reply.
func mustIQ(t *testing.T, c *client.Client, typ, to string, payload *stanza.Element) *stanza.Element {
	t.Helper()
	res, err := iq(t, c, typ, to, payload)
	if err != nil {
		t.Fatalf("%s: %s to %q: %v", c.JID(), payload, to, err)
	}
	return res
}

// wantErr checks an error reply's condition and pubsub condition.
func wantErr(t *testing.T, what string, err error, cond stanza.Condition, app string) {
	t.Helper()
	var se *stanza.Error
	if !errors.As(err, &se) {
		t.Fatalf("%s: error = %v, want %s", what, err, cond)
	}
	got, _ := xpubsub.AppCondition(se)
	if se.Condition != cond || got != app {
		t.Fatalf("%s: error = %s/%s, want %s/%s", what, se.Condition, got, cond, app)
	}
}

func ps(children ...*stanza.Element) *stanza.Element {
	return stanza.New(xpubsub.NS, "pubsub").Append(children...)
}

func owner(children ...*stanza.Element) *stanza.Element {
	return stanza.New(xpubsub.NSOwner, "pubsub").Append(children...)
}

func publish(node, id string, payload *stanza.Element) *stanza.Element {
	return xpubsub.Publish(node, xpubsub.Item{ID: id, Payload: payload}, nil)
}

func publishWith(node, id string, payload *stanza.Element, fields map[string]string) *stanza.Element {
	f := form.New(form.TypeSubmit, xpubsub.NSPublishOptions)
	for k, v := range fields {
		f.Add(form.Field{Var: k, Values: []string{v}})
	}
	p := publish(node, id, payload)
	return p.Append(stanza.New(xpubsub.NS, "publish-options").Append(f.Element()))
}

func items(node string, maxItems string, ids ...string) *stanza.Element {
	el := stanza.New(xpubsub.NS, "items", "node", node)
	el.Set("max_items", maxItems)
	for _, id := range ids {
		el.Append(stanza.New(xpubsub.NS, "item", "id", id))
	}
	return ps(el)
}

// itemIDs returns the ids in an items result.
func itemIDs(res *stanza.Element) []string {
	var out []string
	for _, it := range res.Child(xpubsub.NS, "items").ChildrenNamed(xpubsub.NS, "item") {
		out = append(out, it.Get("id"))
	}
	return out
}

func payload(ns, text string) *stanza.Element {
	return stanza.New(ns, "entry").AppendText(text)
}
