package muc

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/xmpp/form"
	"github.com/parley-xmpp/parley/xmpp/jid"
	xmuc "github.com/parley-xmpp/parley/xmpp/muc"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// Idle persistent rooms cost no memory and no goroutine: a persistent,
// archived room leaves memory when its last occupant leaves, and a
// request to it (disco#info) loads it only for the time of the request;
// joining it again loads it with its history, from its archive.
func TestIdlePersistentRoomsLeaveMemory(t *testing.T) {
	ctx := context.Background()
	full := jid.MustParse("owner@example.com/desk")
	r, m, sess, conn := newRouter(t, Options{}, full)
	loaded := func() int {
		m.mu.Lock()
		defer m.mu.Unlock()
		return len(m.rooms)
	}
	send := func(st *stanza.Element) {
		r.RouteFrom(ctx, sess, st.Set("from", full.String()))
	}
	const rooms = 200
	goroutines, _ := goroutinesBesidesTxWatchers()
	for i := range rooms {
		room := fmt.Sprintf("room%d@conference.example.com", i)
		send(xmuc.Join(jid.MustParse(room+"/owner"), "", nil))
		f := form.New(form.TypeSubmit, xmuc.NSRoomConfig).Add(form.Field{Var: "muc#roomconfig_persistentroom", Values: []string{"1"}})
		send(stanza.NewIQ(stanza.TypeSet, "cfg", room, stanza.New(xmuc.NSOwner, "query").Append(f.Element())))
		send(stanza.NewMessage(stanza.TypeGroupchat, room, fmt.Sprintf("said in room %d", i)))
		send(stanza.New(stanza.NSClient, "presence", "to", room+"/owner", "type", stanza.TypeUnavailable))
	}
	conn.take()
	if n := loaded(); n != 0 {
		t.Fatalf("%d of %d idle persistent rooms stay in memory", n, rooms)
	}
	if n, stacks := goroutinesBesidesTxWatchers(); n > goroutines+2 {
		t.Fatalf("%d goroutines after %d idle rooms, %d before:\n%s", n, rooms, goroutines, stacks)
	}

	send(stanza.NewIQ(stanza.TypeGet, "info", "room7@conference.example.com", stanza.New("http://jabber.org/protocol/disco#info", "query")))
	if got := conn.take(); len(got) != 1 || got[0].Type() != stanza.TypeResult {
		t.Fatalf("disco#info of an idle room: %v", got)
	}
	if n := loaded(); n != 0 {
		t.Fatalf("a request left %d idle rooms in memory", n)
	}

	send(xmuc.Join(jid.MustParse("room7@conference.example.com/owner"), "", nil))
	var history []string
	for _, st := range conn.take() {
		if b := st.ChildText(stanza.NSClient, "body"); b != "" {
			history = append(history, b)
		}
	}
	if len(history) != 1 || history[0] != "said in room 7" {
		t.Fatalf("history of a room loaded again: %q", history)
	}
	if n := loaded(); n != 1 {
		t.Fatalf("%d rooms in memory with one occupied", n)
	}
}

// goroutinesBesidesTxWatchers counts the running goroutines, leaving out
// the ones database/sql starts to watch every transaction and every
// result set: they return only after the commit or close has been seen,
// so right after a burst of writes a few of them may still be on their
// way out (some not yet started). It returns the stacks counted too, for
// the failure message.
func goroutinesBesidesTxWatchers() (int, string) {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var kept []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if !strings.Contains(g, "created by database/sql.(*DB).beginDC") && !strings.Contains(g, "created by database/sql.(*Rows).initContextClose") {
			kept = append(kept, g)
		}
	}
	return len(kept), strings.Join(kept, "\n\n")
}
