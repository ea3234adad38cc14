package cluster_test

import (
	"context"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/disco"
	"github.com/parley-xmpp/parley/xmpp/form"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/muc"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

const roomBare = "lobby@conference.localhost"

func occ(nick string) string { return roomBare + "/" + nick }

func hasStatus(st *stanza.Element, code int) bool {
	return slices.Contains(muc.StatusCodes(st.Child(muc.NSUser, "x")), code)
}

// roomPresence matches presence of type typ from an occupant JID.
func roomPresence(from, typ string) func(*stanza.Element) bool {
	return func(st *stanza.Element) bool {
		return st.Name.Local == "presence" && st.From() == from && st.Type() == typ
	}
}

// joinRoom enters the room as nick and returns the self-presence, after
// reading up to the subject that ends the join.
func joinRoom(t *testing.T, c *client.Client, nick string) *stanza.Element {
	t.Helper()
	xmpptest.Send(t, c, muc.Join(jid.MustParse(occ(nick)), "", nil))
	self := xmpptest.Expect(t, c, "self-presence of "+nick, func(st *stanza.Element) bool {
		return st.Name.Local == "presence" && st.From() == occ(nick) && (st.Type() == stanza.TypeError || hasStatus(st, muc.StatusSelf))
	})
	if self.Type() == stanza.TypeError {
		t.Fatalf("%s could not join: %s", c.JID(), self)
	}
	xmpptest.Expect(t, c, "the subject", func(st *stanza.Element) bool {
		return st.Name.Local == "message" && st.Child(stanza.NSClient, "subject") != nil && st.Child(stanza.NSClient, "body") == nil
	})
	return self
}

// configureRoom submits the room's configuration form.
func configureRoom(t *testing.T, c *client.Client, fields map[string][]string) {
	t.Helper()
	f := form.New(form.TypeSubmit, muc.NSRoomConfig)
	for k, v := range fields {
		f.Add(form.Field{Var: k, Values: v})
	}
	res, err := c.SendIQ(xmpptest.Context(t, xmpptest.Wait), stanza.NewIQ(stanza.TypeSet, "", roomBare, stanza.New(muc.NSOwner, "query").Append(f.Element())))
	if err != nil || res.Type() != stanza.TypeResult {
		t.Fatalf("configuring the room: %v %v", res, err)
	}
}

func isGroupchat(from, body string) func(*stanza.Element) bool {
	return func(st *stanza.Element) bool {
		return st.Name.Local == "message" && st.Type() == stanza.TypeGroupchat && st.From() == from && st.ChildText("", "body") == body
	}
}

// roomName asks the room's disco#info for its name.
func roomName(t *testing.T, c *client.Client) string {
	t.Helper()
	res, err := c.SendIQ(xmpptest.Context(t, xmpptest.Wait), stanza.NewIQ(stanza.TypeGet, "", roomBare, stanza.New(disco.NSInfo, "query")))
	if err != nil {
		t.Fatalf("disco#info of the room: %v", err)
	}
	q := res.Child(disco.NSInfo, "query")
	if q == nil || q.Child(disco.NSInfo, "identity") == nil {
		t.Fatalf("disco#info of the room: %s", res)
	}
	return q.Child(disco.NSInfo, "identity").Get("name")
}

// TestRoomAcrossNodes: occupants on all three nodes in one room, served
// by the node holding its lease.
func TestRoomAcrossNodes(t *testing.T) {
	cl := newCluster(t, 3)
	n1, n2, n3 := cl.nodes[0], cl.nodes[1], cl.nodes[2]
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		n1.AddUser(t, u, "pw")
	}
	alice := n1.Client(t, "alice", "pw", "home")
	bob := n2.Client(t, "bob", "pw", "phone")
	carol := n3.Client(t, "carol", "pw", "desk")
	cl.visible(t, alice.JID(), false)
	cl.visible(t, bob.JID(), false)
	cl.visible(t, carol.JID(), false)

	// alice creates a persistent room through node1, which takes its
	// lease; the others learn it.
	self := joinRoom(t, alice, "Alice")
	if !hasStatus(self, muc.StatusCreated) {
		t.Fatalf("alice's self-presence %s lacks 201", self)
	}
	configureRoom(t, alice, map[string][]string{"muc#roomconfig_persistentroom": {"1"}, "muc#roomconfig_roomname": {"Lobby"}})
	for i, s := range cl.nodes {
		xmpptest.Eventually(t, "node"+strconv.Itoa(i+1)+" sees node1 hold the room", func() bool {
			return s.App.Cluster().RoomHolder(jid.MustParse(roomBare)) == "node1"
		})
	}

	// bob (node2) and carol (node3) enter: everyone sees everyone.
	joinRoom(t, bob, "Bob")
	xmpptest.Expect(t, alice, "bob's presence", roomPresence(occ("Bob"), ""))
	xmpptest.Send(t, carol, muc.Join(jid.MustParse(occ("Carol")), "", nil))
	xmpptest.Expect(t, carol, "alice's presence, for carol", roomPresence(occ("Alice"), ""))
	xmpptest.Expect(t, carol, "bob's presence, for carol", roomPresence(occ("Bob"), ""))
	xmpptest.Expect(t, carol, "carol's self-presence", func(st *stanza.Element) bool {
		return roomPresence(occ("Carol"), "")(st) && hasStatus(st, muc.StatusSelf)
	})
	xmpptest.Expect(t, alice, "carol's presence, for alice", roomPresence(occ("Carol"), ""))
	xmpptest.Expect(t, bob, "carol's presence, for bob", roomPresence(occ("Carol"), ""))

	// Group chat in order, from every node to every node.
	for i := range 20 {
		xmpptest.Send(t, alice, stanza.NewMessage(stanza.TypeGroupchat, roomBare, "a"+strconv.Itoa(i)))
	}
	for i := range 20 {
		for _, c := range []*client.Client{alice, bob, carol} {
			xmpptest.Expect(t, c, "a"+strconv.Itoa(i), isGroupchat(occ("Alice"), "a"+strconv.Itoa(i)))
		}
	}
	xmpptest.Send(t, carol, stanza.NewMessage(stanza.TypeGroupchat, roomBare, "from carol"))
	for _, c := range []*client.Client{alice, bob, carol} {
		xmpptest.Expect(t, c, "carol's message", isGroupchat(occ("Carol"), "from carol"))
	}

	// A private message from carol (node3) to bob (node2) through the
	// room (on node1).
	xmpptest.Send(t, carol, stanza.NewMessage(stanza.TypeChat, occ("Bob"), "psst"))
	xmpptest.Expect(t, bob, "carol's private message", func(st *stanza.Element) bool {
		return st.Name.Local == "message" && st.From() == occ("Carol") && st.ChildText("", "body") == "psst"
	})

	// A configuration change by the owner, seen from node3.
	if got := roomName(t, carol); got != "Lobby" {
		t.Fatalf("carol sees the room named %q", got)
	}
	configureRoom(t, alice, map[string][]string{"muc#roomconfig_persistentroom": {"1"}, "muc#roomconfig_roomname": {"Hall"}})
	if got := roomName(t, carol); got != "Hall" {
		t.Fatalf("after the change carol sees the room named %q", got)
	}

	// The room's archive (XEP-0313), queried through node3.
	got := archiveBodies(t, carol)
	if len(got) != 21 || got[0] != "a0" || got[19] != "a19" || got[20] != "from carol" {
		t.Fatalf("the archive read through node3 holds %q", got)
	}

	// History for a newcomer on node3: dave gets the last messages.
	dave := n3.Client(t, "dave", "pw", "tab")
	xmpptest.Send(t, dave, muc.Join(jid.MustParse(occ("Dave")), "", nil))
	xmpptest.Expect(t, dave, "history: carol's message", func(st *stanza.Element) bool {
		return isGroupchat(occ("Carol"), "from carol")(st) && st.Child("urn:xmpp:delay", "delay") != nil
	})
	xmpptest.Expect(t, alice, "dave's presence", roomPresence(occ("Dave"), ""))

	// bob leaves: the others see it.
	xmpptest.Send(t, bob, stanza.New(stanza.NSClient, "presence", "to", occ("Bob"), "type", stanza.TypeUnavailable))
	xmpptest.Expect(t, carol, "bob's departure", roomPresence(occ("Bob"), stanza.TypeUnavailable))
	xmpptest.Expect(t, alice, "bob's departure", roomPresence(occ("Bob"), stanza.TypeUnavailable))
	if held, _ := n1.App.Cluster().RoomLeases(); held != 1 {
		t.Errorf("node1 holds %d room leases, want 1", held)
	}
	for _, n := range []int{1, 2} {
		if held, _ := cl.nodes[n].App.Cluster().RoomLeases(); held != 0 {
			t.Errorf("node%d holds %d room leases, want 0", n+1, held)
		}
	}
	// A stanza to a room that does not exist leaves no lease behind.
	res, err := carol.SendIQ(xmpptest.Context(t, xmpptest.Wait), stanza.NewIQ(stanza.TypeGet, "", "nowhere@conference.localhost", stanza.New(disco.NSInfo, "query")))
	if res == nil || res.Type() != stanza.TypeError {
		t.Fatalf("disco#info of a room that does not exist: %v %v", res, err)
	}
	xmpptest.Eventually(t, "the lease of the room that does not exist released", func() bool {
		_, known := n1.App.Cluster().RoomLeases()
		return known == 1 && n1.App.Cluster().RoomHolder(jid.MustParse("nowhere@conference.localhost")) == ""
	})
	// What `parley status` shows on node3: node1 serves one room.
	for _, n := range n3.App.Cluster().Nodes() {
		if want := map[string]int{"node1": 1}[n.Name]; n.Rooms != want {
			t.Errorf("node3 shows %s with %d rooms, want %d", n.Name, n.Rooms, want)
		}
	}
}

// archiveBodies queries the room's archive and returns the bodies of
// the results, in order.
func archiveBodies(t *testing.T, c *client.Client) []string {
	t.Helper()
	id := "q" + strconv.FormatInt(time.Now().UnixNano(), 36)
	res, err := c.SendIQ(xmpptest.Context(t, xmpptest.Wait), stanza.NewIQ(stanza.TypeSet, "", roomBare, stanza.New("urn:xmpp:mam:2", "query", "queryid", id)))
	if err != nil || res.Type() != stanza.TypeResult {
		t.Fatalf("archive query: %v %v", res, err)
	}
	// The results came before the answer.
	var bodies []string
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		st, err := c.Recv(ctx)
		cancel()
		if err != nil {
			return bodies
		}
		r := st.Child("urn:xmpp:mam:2", "result")
		if st.Name.Local != "message" || r == nil || r.Get("queryid") != id {
			continue
		}
		if fwd := r.Child("urn:xmpp:forward:0", "forwarded"); fwd != nil {
			if m := fwd.Child(stanza.NSClient, "message"); m != nil {
				bodies = append(bodies, m.ChildText("", "body"))
			}
		}
	}
}

// listedRooms asks the chat service's disco#items for its rooms.
func listedRooms(t *testing.T, c *client.Client) map[string]string {
	t.Helper()
	res, err := c.SendIQ(xmpptest.Context(t, xmpptest.Wait), stanza.NewIQ(stanza.TypeGet, "", "conference.localhost", stanza.New(disco.NSItems, "query")))
	if err != nil {
		t.Fatalf("disco#items of the service: %v", err)
	}
	out := map[string]string{}
	if q := res.Child(disco.NSItems, "query"); q != nil {
		for _, it := range q.Children {
			if it.Elem != nil && it.Elem.Name.Local == "item" {
				out[it.Elem.Get("jid")] = it.Elem.Get("name")
			}
		}
	}
	return out
}

// expectAll reads what c receives until every condition matched one
// stanza, in any order.
func expectAll(t *testing.T, c *client.Client, want map[string]func(*stanza.Element) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), xmpptest.Wait)
	defer cancel()
	for len(want) > 0 {
		st, err := c.Recv(ctx)
		if err != nil {
			var left []string
			for what := range want {
				left = append(left, what)
			}
			t.Fatalf("%s: waiting for %q: %v", c.JID(), left, err)
		}
		for what, match := range want {
			if match(st) {
				delete(want, what)
				break
			}
		}
	}
}

// TestRoomOwnerKilled: the node serving a room is killed; another takes
// the room over, announces it again to the surviving occupants, takes
// out the dead node's occupant, and the chat goes on.
func TestRoomOwnerKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	cl := newCluster(t, 2)
	n1, n2 := cl.nodes[0], cl.nodes[1]
	for _, u := range []string{"alice", "bob", "carol"} {
		n1.AddUser(t, u, "pw")
	}
	p := cl.startProcess(t)
	carol := p.login(t, "carol@localhost", "desk")
	alice := n1.Client(t, "alice", "pw", "home")
	bob := n2.Client(t, "bob", "pw", "phone")
	cl.visible(t, carol.JID(), false)

	// carol creates a temporary room through node3, which serves it.
	self := joinRoom(t, carol, "Carol")
	if !hasStatus(self, muc.StatusCreated) {
		t.Fatalf("carol's self-presence %s lacks 201", self)
	}
	configureRoom(t, carol, map[string][]string{"muc#roomconfig_roomname": {"Ephemeral"}})
	xmpptest.Eventually(t, "node1 sees node3 hold the room", func() bool {
		return n1.App.Cluster().RoomHolder(jid.MustParse(roomBare)) == "node3"
	})
	// node1 lists the temporary room node3 serves.
	xmpptest.Eventually(t, "node1 lists the room of node3", func() bool { return listedRooms(t, alice)[roomBare] == "Ephemeral" })
	joinRoom(t, alice, "Alice")
	joinRoom(t, bob, "Bob")
	xmpptest.Expect(t, alice, "bob's presence", roomPresence(occ("Bob"), ""))
	xmpptest.Send(t, alice, stanza.NewMessage(stanza.TypeGroupchat, roomBare, "before"))
	xmpptest.Expect(t, bob, "the message before the kill", isGroupchat(occ("Alice"), "before"))
	xmpptest.Expect(t, carol, "the message before the kill", isGroupchat(occ("Alice"), "before"))
	// What node3 saved of the room includes the three occupants.
	time.Sleep(500 * time.Millisecond)

	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
	p.done <- nil // for the cleanup
	// Within the TTL, node1 or node2 takes the room over: alice and bob
	// get carol's departure (333) and the room announced again.
	gone := func(st *stanza.Element) bool {
		return roomPresence(occ("Carol"), stanza.TypeUnavailable)(st) && hasStatus(st, muc.StatusTechnicalError)
	}
	selfAgain := func(nick string) func(st *stanza.Element) bool {
		return func(st *stanza.Element) bool { return roomPresence(occ(nick), "")(st) && hasStatus(st, muc.StatusSelf) }
	}
	expectAll(t, alice, map[string]func(*stanza.Element) bool{
		"carol's departure with the dead node": gone,
		"bob announced again":                  roomPresence(occ("Bob"), ""),
		"alice's own presence again":           selfAgain("Alice"),
	})
	expectAll(t, bob, map[string]func(*stanza.Element) bool{
		"carol's departure with the dead node": gone,
		"alice announced again":                roomPresence(occ("Alice"), ""),
		"bob's own presence again":             selfAgain("Bob"),
	})
	holder := n1.App.Cluster().RoomHolder(jid.MustParse(roomBare))
	if holder != "node1" && holder != "node2" {
		t.Fatalf("the room is held by %q after the kill", holder)
	}
	// The chat goes on, and the temporary room kept its configuration.
	xmpptest.Send(t, bob, stanza.NewMessage(stanza.TypeGroupchat, roomBare, "after"))
	xmpptest.Expect(t, alice, "the message after the kill", isGroupchat(occ("Bob"), "after"))
	xmpptest.Expect(t, bob, "the message after the kill, echoed", isGroupchat(occ("Bob"), "after"))
	if got := roomName(t, alice); got != "Ephemeral" {
		t.Errorf("after the move the room is named %q", got)
	}
}

// TestRoomHandover: the node serving a room stops; its occupants on the
// other nodes stay in the room, which the next stanza makes another
// node serve.
func TestRoomHandover(t *testing.T) {
	cl := newCluster(t, 3)
	n1, n2, n3 := cl.nodes[0], cl.nodes[1], cl.nodes[2]
	for _, u := range []string{"alice", "bob", "carol"} {
		n1.AddUser(t, u, "pw")
	}
	alice := n1.Client(t, "alice", "pw", "home")
	bob := n2.Client(t, "bob", "pw", "phone")
	carol := n3.Client(t, "carol", "pw", "desk")
	cl.visible(t, bob.JID(), false)
	joinRoom(t, bob, "Bob")
	configureRoom(t, bob, map[string][]string{"muc#roomconfig_persistentroom": {"1"}})
	joinRoom(t, alice, "Alice")
	joinRoom(t, carol, "Carol")
	xmpptest.Expect(t, alice, "carol's presence", roomPresence(occ("Carol"), ""))
	xmpptest.Send(t, alice, stanza.NewMessage(stanza.TypeGroupchat, roomBare, "one"))
	xmpptest.Expect(t, carol, "one", isGroupchat(occ("Alice"), "one"))
	if h := n1.App.Cluster().RoomHolder(jid.MustParse(roomBare)); h != "node2" {
		t.Fatalf("the room is held by %q, want node2", h)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n2.App.Stop(ctx)
	cl.nodes[1] = nil
	// bob's session ended with node2: he left the room.
	xmpptest.Expect(t, alice, "bob's departure", roomPresence(occ("Bob"), stanza.TypeUnavailable))
	xmpptest.Expect(t, carol, "bob's departure", roomPresence(occ("Bob"), stanza.TypeUnavailable))
	// node2 released the lease (a dead node's lease stays until another
	// node takes it over).
	xmpptest.Eventually(t, "node1 sees the lease released", func() bool {
		return n1.App.Cluster().RoomHolder(jid.MustParse(roomBare)) == ""
	})
	// alice and carol are still in the room, now served by another node.
	xmpptest.Send(t, alice, stanza.NewMessage(stanza.TypeGroupchat, roomBare, "two"))
	xmpptest.Expect(t, carol, "two", isGroupchat(occ("Alice"), "two"))
	xmpptest.Expect(t, alice, "two, echoed", isGroupchat(occ("Alice"), "two"))
	xmpptest.Send(t, carol, stanza.NewMessage(stanza.TypeChat, occ("Alice"), "still here"))
	xmpptest.Expect(t, alice, "carol's private message", func(st *stanza.Element) bool {
		return st.From() == occ("Carol") && st.ChildText("", "body") == "still here"
	})
	h := n1.App.Cluster().RoomHolder(jid.MustParse(roomBare))
	if h != "node1" && h != "node3" {
		t.Fatalf("the room is held by %q after node2 stopped", h)
	}
	if got := archiveBodies(t, carol); !slices.Contains(got, "one") || !slices.Contains(got, "two") {
		t.Errorf("the archive holds %q", got)
	}
}

// TestRoomOccupantNodeKilled: the node of an occupant is killed; the
// node serving the room takes the occupant out (333) when the lease of
// the dead node expires.
func TestRoomOccupantNodeKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	cl := newCluster(t, 2)
	n1, n2 := cl.nodes[0], cl.nodes[1]
	for _, u := range []string{"alice", "bob", "carol"} {
		n1.AddUser(t, u, "pw")
	}
	alice := n1.Client(t, "alice", "pw", "home")
	bob := n2.Client(t, "bob", "pw", "phone")
	p := cl.startProcess(t)
	carol := p.login(t, "carol@localhost", "desk")
	cl.visible(t, carol.JID(), false)
	joinRoom(t, alice, "Alice")
	configureRoom(t, alice, map[string][]string{})
	joinRoom(t, bob, "Bob")
	joinRoom(t, carol, "Carol")
	xmpptest.Expect(t, alice, "carol's presence", roomPresence(occ("Carol"), ""))
	xmpptest.Expect(t, bob, "carol's presence", roomPresence(occ("Carol"), ""))
	if h := n2.App.Cluster().RoomHolder(jid.MustParse(roomBare)); h != "node1" {
		t.Fatalf("the room is held by %q, want node1", h)
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
	p.done <- nil // for the cleanup
	gone := func(st *stanza.Element) bool {
		return roomPresence(occ("Carol"), stanza.TypeUnavailable)(st) && hasStatus(st, muc.StatusTechnicalError)
	}
	xmpptest.Expect(t, alice, "carol's departure with her node", gone)
	xmpptest.Expect(t, bob, "carol's departure with her node", gone)
	// The room did not move, and goes on.
	if h := n2.App.Cluster().RoomHolder(jid.MustParse(roomBare)); h != "node1" {
		t.Fatalf("the room is held by %q, want node1", h)
	}
	xmpptest.Send(t, bob, stanza.NewMessage(stanza.TypeGroupchat, roomBare, "without carol"))
	xmpptest.Expect(t, alice, "bob's message", isGroupchat(occ("Bob"), "without carol"))
}

// TestRoomClaimRace: two nodes get the first joins of a new room at
// once; one takes the lease, the other forwards to it: one room, one
// creator.
func TestRoomClaimRace(t *testing.T) {
	cl := newCluster(t, 3)
	n1, n2, n3 := cl.nodes[0], cl.nodes[1], cl.nodes[2]
	n1.AddUser(t, "bob", "pw")
	n1.AddUser(t, "carol", "pw")
	bob := n2.Client(t, "bob", "pw", "phone")
	carol := n3.Client(t, "carol", "pw", "desk")
	join := func(c *client.Client, nick string, out chan<- *stanza.Element) {
		if err := c.Send(context.Background(), muc.Join(jid.MustParse(occ(nick)), "", nil)); err != nil {
			out <- nil
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), xmpptest.Wait)
		defer cancel()
		for {
			st, err := c.Recv(ctx)
			if err != nil {
				out <- nil
				return
			}
			if st.Name.Local == "presence" && st.From() == occ(nick) && (st.Type() == stanza.TypeError || hasStatus(st, muc.StatusSelf)) {
				out <- st
				return
			}
		}
	}
	bc, cc := make(chan *stanza.Element, 1), make(chan *stanza.Element, 1)
	go join(bob, "Bob", bc)
	go join(carol, "Carol", cc)
	b, c := <-bc, <-cc
	if b == nil || c == nil {
		t.Fatalf("no answer to a join: bob %v, carol %v", b, c)
	}
	created := 0
	var creator, other *client.Client
	var otherNick string
	for _, x := range []struct {
		st   *stanza.Element
		c    *client.Client
		nick string
	}{{b, bob, "Bob"}, {c, carol, "Carol"}} {
		switch {
		case x.st.Type() != stanza.TypeError && hasStatus(x.st, muc.StatusCreated):
			created++
			creator = x.c
		case x.st.Type() == stanza.TypeError:
			// The room was being created by the other.
			other, otherNick = x.c, x.nick
		default:
			t.Fatalf("%s entered a room being created: %s", x.c.JID(), x.st)
		}
	}
	if created != 1 || other == nil {
		t.Fatalf("%d creators (bob %s, carol %s)", created, b, c)
	}
	configureRoom(t, creator, map[string][]string{})
	joinRoom(t, other, otherNick)
	xmpptest.Expect(t, creator, "the other's presence", roomPresence(occ(otherNick), ""))
	holders := map[string]bool{}
	for _, s := range cl.nodes {
		xmpptest.Eventually(t, "every node knows the holder", func() bool {
			return s.App.Cluster().RoomHolder(jid.MustParse(roomBare)) != ""
		})
		holders[s.App.Cluster().RoomHolder(jid.MustParse(roomBare))] = true
	}
	if len(holders) != 1 || holders["node1"] {
		t.Fatalf("holders seen: %v", holders)
	}
}
