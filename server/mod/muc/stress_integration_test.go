package muc_test

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/disco"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/muc"
	xpubsub "github.com/parley-xmpp/parley/xmpp/pubsub"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

// stressFor is how long TestRoomsUnderStress runs; PARLEY_MUC_STRESS
// overrides the flag's default (e.g. PARLEY_MUC_STRESS=5s in a hurry).
var stressFor = flag.Duration("muc.stress", stressDefault(), "duration of TestRoomsUnderStress")

func stressDefault() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("PARLEY_MUC_STRESS")); err == nil && d > 0 {
		return d
	}
	return 30 * time.Second
}

// watcher reads everything a client receives and wakes whoever waits for
// a stanza matching its test.
type watcher struct {
	c       *client.Client
	mu      sync.Mutex
	waiting []waiter
	got     atomic.Int64
}

type waiter struct {
	match func(*stanza.Element) bool
	ch    chan *stanza.Element
}

func watch(ctx context.Context, c *client.Client) *watcher {
	w := &watcher{c: c}
	go func() {
		for {
			st, err := c.Recv(ctx)
			if err != nil {
				return
			}
			w.got.Add(1)
			w.mu.Lock()
			kept := w.waiting[:0]
			for _, wt := range w.waiting {
				if wt.match(st) {
					wt.ch <- st
					continue
				}
				kept = append(kept, wt)
			}
			w.waiting = kept
			w.mu.Unlock()
		}
	}()
	return w
}

// await registers interest in a stanza; the channel gets the first match.
func (w *watcher) await(match func(*stanza.Element) bool) <-chan *stanza.Element {
	ch := make(chan *stanza.Element, 1)
	w.mu.Lock()
	w.waiting = append(w.waiting, waiter{match: match, ch: ch})
	w.mu.Unlock()
	return ch
}

// 20 clients with PEP nodes (open to anyone) and caps asking for them join,
// leave, change nicknames (from a small pool, so they collide), talk in 3
// rooms, query them and publish, for -muc.stress. Afterwards every room
// still answers, every client still gets its own presence on joining, and
// a message to each room reaches every occupant.
func TestRoomsUnderStress(t *testing.T) {
	if testing.Short() && *stressFor > 5*time.Second {
		*stressFor = 5 * time.Second
	}
	const clients, rooms = 20, 3
	s := xmpptest.NewServer(t)
	s.AddUser(t, "owner", "pw")
	owner := s.Client(t, "owner", "pw", "admin")
	roomNames := make([]string, rooms)
	for i := range roomNames {
		roomNames[i] = fmt.Sprintf("stress%d", i)
		create(t, s, owner, roomNames[i], "owner", map[string][]string{"muc#roomconfig_persistentroom": {"1"}})
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	users := make([]*capable, clients)
	watchers := make([]*watcher, clients)
	for i := range users {
		u := fmt.Sprintf("user%d", i)
		s.AddUser(t, u, "pw")
	}
	// Neighbours are contacts: PEP notifications and last items flow
	// between them as well as to each account's own resources.
	for i := range clients {
		a, b := s.JID(t, fmt.Sprintf("user%d", i)), s.JID(t, fmt.Sprintf("user%d", (i+1)%clients))
		for _, pair := range [][2]jid.JID{{a, b}, {b, a}} {
			if _, err := s.App.Stores().Roster.PutRosterItem(context.Background(), pair[0], storage.RosterItem{Contact: pair[1], Subscription: storage.SubBoth}); err != nil {
				t.Fatal(err)
			}
		}
	}
	const node = "urn:example:stress"
	for i := range users {
		users[i] = capableClient(t, s, fmt.Sprintf("user%d", i), "res", node)
		publishOpen(t, users[i].Client, node)
		watchers[i] = watch(ctx, users[i].Client)
	}

	nicks := []string{"ann", "Ann", "bo", "BO", "cy", "dee", "eve", "fay", "gus", "hal"}
	var actions, iqFailures atomic.Int64
	deadline := time.Now().Add(*stressFor)
	var wg sync.WaitGroup
	for i, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 9))
			joined := map[string]string{} // room -> nick asked for
			for time.Now().Before(deadline) {
				room := roomNames[rng.IntN(rooms)]
				occ := func(nick string) jid.JID { return jid.MustParse(roomJID(s, room, nick)) }
				var st *stanza.Element
				switch r := rng.IntN(10); {
				case r < 3: // join, or change nickname when in
					nick := nicks[rng.IntN(len(nicks))]
					if rng.IntN(3) == 0 {
						nick = fmt.Sprintf("u%d", i)
					}
					if _, in := joined[room]; in {
						st = stanza.New(stanza.NSClient, "presence", "to", occ(nick).String()).Append(u.c)
					} else {
						st = u.joinPresence(occ(nick))
					}
					joined[room] = nick
				case r < 4: // leave
					nick, in := joined[room]
					if !in {
						continue
					}
					st = stanza.New(stanza.NSClient, "presence", "to", occ(nick).String(), "type", stanza.TypeUnavailable)
					delete(joined, room)
				case r < 7: // talk
					st = groupchat(roomJID(s, room, ""), fmt.Sprintf("message from user%d", i))
				case r < 8: // private message to some nickname
					st = stanza.NewMessage(stanza.TypeChat, occ(nicks[rng.IntN(len(nicks))]).String(), "psst")
				case r < 9: // query the room; it must answer
					iqCtx, cancel := context.WithTimeout(ctx, wait)
					_, err := u.SendIQ(iqCtx, stanza.NewIQ(stanza.TypeGet, "", roomJID(s, room, ""), stanza.New(disco.NSInfo, "query")))
					cancel()
					if err != nil && iqCtx.Err() != nil {
						iqFailures.Add(1)
					}
				default: // publish: notifications to the account and contacts
					it := xpubsub.Item{ID: "current", Payload: stanza.New(node, "data").AppendText(fmt.Sprint(rng.Int()))}
					st = stanza.NewIQ(stanza.TypeSet, "", "", xpubsub.Publish(node, it, nil))
				}
				if st != nil {
					if err := u.Send(ctx, st); err != nil {
						t.Errorf("user%d: send: %v", i, err)
						return
					}
				}
				actions.Add(1)
				time.Sleep(time.Duration(rng.IntN(20)) * time.Millisecond)
			}
			for room, nick := range joined {
				_ = u.Send(ctx, stanza.New(stanza.NSClient, "presence", "to", roomJID(s, room, nick), "type", stanza.TypeUnavailable))
			}
		}()
	}
	wg.Wait()
	t.Logf("%d actions in %v by %d clients in %d rooms", actions.Load(), *stressFor, clients, rooms)
	if n := iqFailures.Load(); n > 0 {
		t.Fatalf("%d disco#info queries to rooms timed out during the run", n)
	}
	for i, u := range users {
		select {
		case <-u.Done():
			t.Fatalf("user%d was disconnected: %v", i, u.Err())
		default:
		}
	}

	// Every client enters every room and gets its own presence.
	for _, room := range roomNames {
		for i, u := range users {
			nick := fmt.Sprintf("final%d", i)
			occ := jid.MustParse(roomJID(s, room, nick))
			self := watchers[i].await(func(st *stanza.Element) bool {
				return stanza.KindOf(st) == stanza.KindPresence && st.From() == occ.String() &&
					(st.Type() == stanza.TypeError || hasCodes(st, muc.StatusSelf))
			})
			if err := u.Send(ctx, u.joinPresence(occ)); err != nil {
				t.Fatal(err)
			}
			select {
			case st := <-self:
				if st.Type() == stanza.TypeError {
					t.Fatalf("user%d joining %s after the run: %s", i, room, st)
				}
			case <-time.After(wait):
				t.Fatalf("user%d got no self-presence from %s after the run", i, room)
			}
		}
		// The room answers, and a message reaches all 20 occupants.
		mustIQ(t, owner, stanza.TypeGet, roomJID(s, room, ""), stanza.New(disco.NSInfo, "query"))
		body := "last call in " + room
		var arrivals []<-chan *stanza.Element
		for _, w := range watchers {
			arrivals = append(arrivals, w.await(func(st *stanza.Element) bool { return st.ChildText(stanza.NSClient, "body") == body }))
		}
		xmpptest.Send(t, owner, groupchat(roomJID(s, room, ""), body))
		for i, ch := range arrivals {
			select {
			case <-ch:
			case <-time.After(wait):
				t.Fatalf("user%d did not get the message to %s", i, room)
			}
		}
	}
}
