package interop

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// pubsubEvent is the part of a pubsub_peer.py event the PEP scenario
// reads beyond the shared event fields.
type pubsubEvent struct {
	Node    string   `json:"node"`
	ID      string   `json:"id"`
	Retract bool     `json:"retract"`
	OK      bool     `json:"ok"`
	IDs     []string `json:"ids"`
	Rooms   []struct {
		JID, Name string
	} `json:"rooms"`
}

func decodePubSub(p *peer, ev event) pubsubEvent {
	p.t.Helper()
	var e pubsubEvent
	if err := json.Unmarshal([]byte(ev.raw), &e); err != nil {
		p.fail("decoding %s: %v", ev.raw, err)
	}
	return e
}

// startPubSubPeer starts slixmpp/pubsub_peer.py as user over STARTTLS.
func startPubSubPeer(t *testing.T, s *server, user string) *peer {
	t.Helper()
	host, port, _ := net.SplitHostPort(s.starttls)
	args := []string{filepath.Join(testDir(t), "slixmpp", "pubsub_peer.py"),
		"--jid", bare(user) + "/pep", "--password", password(user),
		"--host", host, "--port", port}
	if os.Getenv("PARLEY_INTEROP_DEBUG") != "" {
		args = append(args, "--debug")
	}
	return startPeer(t, s, "slixmpp "+user+"/pep", user, exec.Command(python, args...))
}

// answer waits for the reply event of a command and fails unless it is ok.
func (p *peer) answer(name string) pubsubEvent {
	p.t.Helper()
	ev := p.expect(name, eventTimeout, func(ev event) bool { return ev.Event == name })
	e := decodePubSub(p, ev)
	if !e.OK {
		p.fail("%s failed: %s", name, ev.raw)
	}
	return e
}

// expectPEP waits for a notification about node from a bare JID.
func (p *peer) expectPEP(from, node string, retract bool) pubsubEvent {
	p.t.Helper()
	ev := p.expect("PEP event on "+node+" from "+from, eventTimeout, func(ev event) bool {
		return ev.Event == "pep" && ev.From == from && decodePubSub(p, ev).Node == node && decodePubSub(p, ev).Retract == retract
	})
	return decodePubSub(p, ev)
}

// TestSlixmppPEP: slixmpp's xep_0163/xep_0060 with xep_0115 +notify
// interests receive a contact's tune (xep_0118) and avatar metadata
// (xep_0084) notifications; Bookmarks 2 items published with
// publish-options show in xep_0048 private bookmarks, and bookmarks
// stored through xep_0048 become the XEP-0402 items.
func TestSlixmppPEP(t *testing.T) {
	needSlixmpp(t)
	s := theServer(t)
	olga := startPubSubPeer(t, s, "olga")
	pete := startPubSubPeer(t, s, "pete")

	// A mutual presence subscription: both auto-authorise and subscribe back.
	olga.send(map[string]any{"cmd": "subscribe", "to": pete.bare()})
	olga.expectPresence(pete.bare(), "available")
	pete.expectPresence(olga.bare(), "available")

	olga.send(map[string]any{"cmd": "tune", "title": "Yesterday"})
	olga.answer("published")
	pete.expectPEP(olga.bare(), "http://jabber.org/protocol/tune", false)

	olga.send(map[string]any{"cmd": "avatar"})
	id := olga.answer("published").ID
	if got := pete.expectPEP(olga.bare(), "urn:xmpp:avatar:metadata", false); got.ID != id {
		pete.fail("avatar metadata item %q, want %q", got.ID, id)
	}

	// XEP-0402 → XEP-0048, from an empty list (the server may have run
	// this scenario before).
	const node = "urn:xmpp:bookmarks:1"
	olga.send(map[string]any{"cmd": "bookmarks_set", "rooms": []map[string]string{}})
	olga.answer("stored")
	olga.send(map[string]any{"cmd": "bookmark_pep", "jid": "theplay@muc.localhost", "name": "The Play"})
	olga.answer("published")
	olga.send(map[string]any{"cmd": "bookmarks_get"})
	rooms := olga.answer("bookmarks").Rooms
	if len(rooms) != 1 || rooms[0].JID != "theplay@muc.localhost" || rooms[0].Name != "The Play" {
		olga.fail("legacy bookmarks = %+v", rooms)
	}
	// XEP-0048 → XEP-0402: theplay dropped, orchard added.
	olga.send(map[string]any{"cmd": "bookmarks_set", "rooms": []map[string]string{{"jid": "orchard@muc.localhost", "name": "Orchard"}}})
	olga.answer("stored")
	olga.send(map[string]any{"cmd": "pep_items", "node": node})
	if ids := olga.answer("items").IDs; !slices.Equal(ids, []string{"orchard@muc.localhost"}) {
		olga.fail("Bookmarks 2 items = %v", ids)
	}
	// pete may not read olga's bookmarks, whatever his subscription.
	pete.send(map[string]any{"cmd": "pep_items", "node": node})
	ev := pete.expect("items answer", eventTimeout, func(ev event) bool { return ev.Event == "items" })
	if e := decodePubSub(pete, ev); e.OK || len(e.IDs) != 0 {
		pete.fail("a contact read the whitelist bookmarks node: %s", ev.raw)
	}
}
