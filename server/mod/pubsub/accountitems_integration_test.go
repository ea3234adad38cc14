package pubsub_test

import (
	"slices"
	"testing"

	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/disco"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

// accountNodes asks for the disco#items of an account's bare JID and
// returns the nodes listed, checking each item names the account.
func accountNodes(t *testing.T, c *client.Client, account string) []string {
	t.Helper()
	res, err := c.SendIQ(xmpptest.Context(t, wait), stanza.NewIQ(stanza.TypeGet, "", account, stanza.New(disco.NSItems, "query")))
	if err != nil {
		t.Fatalf("disco#items of %s: %v", account, err)
	}
	items, err := disco.ParseItems(res.Child(disco.NSItems, "query"))
	if err != nil {
		t.Fatal(err)
	}
	var nodes []string
	for _, it := range items.Items {
		if it.JID.String() != account {
			t.Fatalf("item %+v does not name %s", it, account)
		}
		nodes = append(nodes, it.Node)
	}
	slices.Sort(nodes)
	return nodes
}

// The disco#items of an account's bare JID list its PEP nodes (XEP-0163
// §7, XEP-0060 §5.2): all of them to the account itself, to others only
// those whose access model lets them subscribe or retrieve items.
func TestAccountDiscoItemsListPEPNodes(t *testing.T) {
	s := xmpptest.NewServer(t)
	for _, u := range []string{"alice", "bob", "mallory"} {
		s.AddUser(t, u, "pw")
	}
	friends(t, s, s.JID(t, "alice"), s.JID(t, "bob"), "family")
	alice := s.Client(t, "alice", "pw", "desk")
	bob := s.Client(t, "bob", "pw", "phone")
	mallory := s.Client(t, "mallory", "pw", "pc")
	for node, access := range map[string]string{
		"urn:example:open": "open", "urn:example:presence": "presence",
		"urn:example:roster": "roster", "urn:example:whitelist": "whitelist",
	} {
		fields := map[string]string{"pubsub#access_model": access}
		if access == "roster" {
			fields["pubsub#roster_groups_allowed"] = "family"
		}
		mustIQ(t, alice, stanza.TypeSet, "", publishWith(node, "it", payload(node, "x"), fields))
	}
	account := "alice@" + s.Domain()
	if got, want := accountNodes(t, alice, account), []string{"urn:example:open", "urn:example:presence", "urn:example:roster", "urn:example:whitelist"}; !slices.Equal(got, want) {
		t.Fatalf("the owner sees %v, want %v", got, want)
	}
	if got, want := accountNodes(t, bob, account), []string{"urn:example:open", "urn:example:presence", "urn:example:roster"}; !slices.Equal(got, want) {
		t.Fatalf("a contact in the allowed group sees %v, want %v", got, want)
	}
	if got, want := accountNodes(t, mallory, account), []string{"urn:example:open"}; !slices.Equal(got, want) {
		t.Fatalf("a stranger sees %v, want %v", got, want)
	}
}
