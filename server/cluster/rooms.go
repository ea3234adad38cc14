package cluster

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// Chat rooms (XEP-0045) are served by one node at a time: the node
// holding the room's lease, an entry of the rooms bucket (key
// "l.<base64url(room)>", value: the node and its incarnation). A node
// that gets a stanza for a room forwards it to the holder (a room frame,
// in the queue of the stanzas to that node, so order is kept) or, when
// no live node holds it, takes the lease (a KV create or an update
// conditional on the revision it saw) and serves the room itself. The
// holder saves the room's occupants under "o.<base64url(room)>" (an
// opaque value the MUC module encodes, bounded by RoomBytes), each write
// conditional on the revision it last wrote: the next holder reads them
// when it takes the lease and announces the room again. What the room
// has stored (configuration, affiliations, archive) is in PostgreSQL.

// maxRoomHops bounds how many times a stanza for a room is forwarded
// between nodes before it bounces: a lease that moves while the stanza
// crosses the cluster.
const maxRoomHops = 3

// RoomHandler serves the chat rooms of this node: the MUC module.
type RoomHandler interface {
	// DeliverRoom handles st, for the room room, that another node
	// forwarded here; hops is how many nodes forwarded it.
	DeliverRoom(ctx context.Context, room jid.JID, st *stanza.Element, hops int)
	// TakeOver makes this node serve room, whose holder died (it takes
	// the lease with Rooms.Acquire); the occupants are announced again.
	TakeOver(ctx context.Context, room jid.JID)
	// Lost tells that another node holds room's lease now: the room
	// leaves this node's memory without a word to its occupants.
	Lost(room jid.JID)
	// SessionsGone tells that sessions of another node left the
	// directory because their node died: their occupants leave the
	// rooms this node serves.
	SessionsGone(ctx context.Context, fulls []jid.JID)
	// Handover saves and forgets every room this node serves (the node
	// leaves); Rooms.Release is called for each.
	Handover(ctx context.Context)
}

// roomLease is the value of a lease in the rooms bucket.
type roomLease struct {
	Node string `json:"n"`
	Inc  string `json:"i"`
	// Listed is the name of a temporary public room, which the other
	// nodes list in their service's disco#items (a persistent room is
	// listed from storage); nil when not listed.
	Listed *string `json:"d,omitempty"`
}

// maxListedName bounds the name of a listed room in a lease.
const maxListedName = 256

// roomState is what this node knows of a room's lease.
type roomState struct {
	l       roomLease // zero: no lease
	rev     uint64    // revision of the last write of the lease seen
	created time.Time
	// occRev is the revision of the occupants this node last read or
	// wrote, while it holds the lease.
	occRev uint64
	// busy is closed when a claim or release in progress ends.
	busy chan struct{}
	// inflight counts the stanzas being handled under the lease.
	inflight int
}

// roomTable holds the leases of the rooms bucket.
type roomTable struct {
	kv      jetstream.KeyValue
	handler sync.Mutex // guards h
	h       RoomHandler
	// mu guards m; the node's mu may be taken under it, not the reverse.
	mu      sync.Mutex
	m       map[string]*roomState // by room bare JID
	leaving bool
	// left are sessions of other nodes that ended, for SessionsGone
	// once their unavailable presence had time to reach the rooms.
	left []leftSession
}

// leftSession is a session of another node that ended.
type leftSession struct {
	full jid.JID
	node string
	at   time.Time
}

const (
	// leftDelay is how long the rooms wait for the unavailable presence
	// of a session of another node that ended before they take it out.
	leftDelay = 2 * time.Second
	// maxLeft bounds the sessions waiting for leftDelay.
	maxLeft = 1 << 16
)

func newRoomTable() *roomTable { return &roomTable{m: make(map[string]*roomState)} }

// roomsBucket names the rooms bucket.
func (n *Node) roomsBucket() string { return n.opts.Name + "_rooms" }

// leaseKey and occKey are a room's keys in the rooms bucket.
func leaseKey(room jid.JID) string {
	return "l." + base64.RawURLEncoding.EncodeToString([]byte(room.String()))
}
func occKey(room jid.JID) string {
	return "o." + base64.RawURLEncoding.EncodeToString([]byte(room.String()))
}

// roomOfKey is the inverse of leaseKey and occKey.
func roomOfKey(k string) (jid.JID, error) {
	_, enc, ok := strings.Cut(k, ".")
	if !ok {
		return jid.JID{}, fmt.Errorf("cluster: room key %q", k)
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(enc)
	if err != nil || len(b) == 0 || len(b) > 3071 {
		return jid.JID{}, fmt.Errorf("cluster: room key %q", k)
	}
	j, err := jid.Parse(string(b))
	if err != nil || j.Local() == "" || j.Resource() != "" || j.String() != string(b) {
		return jid.JID{}, fmt.Errorf("cluster: room key %q: not a room's bare JID", k)
	}
	return j, nil
}

// parseRoomLease decodes a lease.
func parseRoomLease(b []byte) (roomLease, error) {
	var l roomLease
	if err := json.Unmarshal(b, &l); err != nil {
		return l, fmt.Errorf("cluster: room lease: %w", err)
	}
	if l.Node == "" || l.Inc == "" || len(l.Node) > 64 || len(l.Inc) > 64 {
		return l, errors.New("cluster: room lease without a node")
	}
	if l.Listed != nil && len(*l.Listed) > maxListedName {
		return l, errors.New("cluster: room lease with a name too long")
	}
	return l, nil
}

// roomMsg builds the frame forwarding st to the room's holder.
func roomMsg(subject, self string, room jid.JID, st *stanza.Element, hops int) *nats.Msg {
	m := stanzaMsg(subject, self, opRoom, room.String(), st)
	m.Header.Set(hdrHops, strconv.Itoa(hops))
	return m
}

// parseRoomFrame decodes the rest of a room frame: to (parsed with
// toErr) must be a room's bare JID.
func parseRoomFrame(f frame, m *nats.Msg, to jid.JID, toErr error, maxStanza int) (frame, error) {
	if toErr != nil || to.Local() == "" || to.Resource() != "" {
		return f, fmt.Errorf("cluster: room frame to %q: not a room", m.Header.Get(hdrTo))
	}
	hops, err := strconv.Atoi(m.Header.Get(hdrHops))
	if err != nil || hops < 0 || hops > maxRoomHops {
		return f, fmt.Errorf("cluster: room frame with hops %q", m.Header.Get(hdrHops))
	}
	st, err := parseStanza(m.Data, maxStanza)
	if err != nil {
		return f, err
	}
	if stanza.KindOf(st) == stanza.KindOther {
		return f, fmt.Errorf("cluster: frame carries a <%s/>, not a stanza", st.Name.Local)
	}
	f.to, f.st, f.hops = to, st, hops
	return f, nil
}

// startRooms makes the rooms bucket and loads its leases.
func (n *Node) startRooms(ctx context.Context, js jetstream.JetStream) error {
	size := max(n.opts.RoomBytes, 1024)
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: n.roomsBucket(), Description: "Parley cluster chat rooms", History: 1, MaxValueSize: int32(min(size, 64<<20)),
	})
	if err != nil {
		return fmt.Errorf("cluster: bucket %s: %w", n.roomsBucket(), err)
	}
	n.rooms.kv = kv
	if err := n.watchKeys(ctx, kv, "l.*", n.roomUpdate); err != nil {
		return fmt.Errorf("cluster: watching %s: %w", n.roomsBucket(), err)
	}
	return nil
}

// SetRooms sets what serves the chat rooms on this node; until it is
// set, stanzas other nodes forward to rooms bounce.
func (n *Node) SetRooms(h RoomHandler) {
	n.rooms.handler.Lock()
	n.rooms.h = h
	n.rooms.handler.Unlock()
}

func (n *Node) roomHandler() RoomHandler {
	n.rooms.handler.Lock()
	defer n.rooms.handler.Unlock()
	return n.rooms.h
}

// Rooms returns the chat rooms' side of the node, for the MUC module.
func (n *Node) Rooms() *Rooms { return &Rooms{n: n} }

// Rooms are the leases of chat rooms: which node serves which room.
type Rooms struct{ n *Node }

// owns reports whether this node holds st's lease. t.mu is held.
func (n *Node) owns(st *roomState) bool { return st.l.Node == n.self && st.l.Inc == n.inc }

// holder returns the live node, other than this one, holding st's lease,
// or "". t.mu is held.
func (n *Node) holder(st *roomState) string {
	if st.l.Node == "" || st.l.Node == n.self {
		return ""
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	l := n.nodes[st.l.Node]
	if l == nil {
		// A node not seen yet: its lease shows up within the TTL.
		if time.Since(st.created) < n.opts.NodeTTL {
			return st.l.Node
		}
		return ""
	}
	if !l.alive || l.Inc != st.l.Inc {
		return ""
	}
	return st.l.Node
}

// Acquire tells where room is served: "" when this node holds its lease
// (taking it if no live node does: restore is then called with the
// occupants the previous holder saved, nil if none, and whether that
// holder died, before any other stanza to the room is handled here), or
// the live node holding it. done must be called once a stanza handled
// under the lease is (it keeps the lease from being released meanwhile).
func (r *Rooms) Acquire(ctx context.Context, room jid.JID, restore func(ctx context.Context, saved []byte, died bool)) (node string, done func(), err error) {
	n, t := r.n, r.n.rooms
	if t.kv == nil {
		return "", func() {}, nil
	}
	key := room.String()
	for attempt := 0; ; attempt++ {
		t.mu.Lock()
		st := t.m[key]
		if st == nil {
			st = &roomState{}
			t.m[key] = st
		}
		if st.busy != nil {
			ch := st.busy
			t.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return "", nil, ctx.Err()
			}
		}
		if n.owns(st) {
			st.inflight++
			t.mu.Unlock()
			return "", r.doneFunc(st), nil
		}
		if h := n.holder(st); h != "" {
			t.mu.Unlock()
			return h, nil, nil
		}
		if t.leaving || n.leaving.Load() {
			t.mu.Unlock()
			if other := n.preferred(key, false); other != "" {
				return other, nil, nil
			}
			return "", nil, stanza.Errorf(stanza.ServiceUnavailable, "this node is stopping")
		}
		if attempt >= 4 {
			t.dropIdle(key, st)
			t.mu.Unlock()
			return "", nil, fmt.Errorf("cluster: room %s: the lease keeps changing", room)
		}
		prev, prevRev := st.l, st.rev
		ch := make(chan struct{})
		st.busy = ch
		t.mu.Unlock()
		rev, saved, occRev, cur, curRev, err := n.claimRoom(ctx, room, prev, prevRev)
		if err == nil {
			restore(ctx, saved, prev.Node != "")
		}
		t.mu.Lock()
		st.busy = nil
		close(ch)
		switch {
		case err == nil:
			st.l, st.occRev = roomLease{Node: n.self, Inc: n.inc}, occRev
			if rev > st.rev {
				st.rev = rev
			}
			st.created = time.Now()
			st.inflight++
			t.mu.Unlock()
			n.log.Info("cluster: room taken", "room", room, "from", prev.Node)
			return "", r.doneFunc(st), nil
		case curRev != 0:
			// Another node wrote the lease first: what it wrote.
			if curRev >= st.rev {
				st.l, st.rev, st.created = cur, curRev, time.Now()
			}
			t.mu.Unlock()
		default:
			t.dropIdle(key, st)
			t.mu.Unlock()
			return "", nil, err
		}
	}
}

// doneFunc returns the function ending a stanza handled under st.
func (r *Rooms) doneFunc(st *roomState) func() {
	t := r.n.rooms
	var once sync.Once
	return func() {
		once.Do(func() {
			t.mu.Lock()
			st.inflight--
			t.mu.Unlock()
		})
	}
}

// dropIdle forgets st if it holds nothing. t.mu is held.
func (t *roomTable) dropIdle(key string, st *roomState) {
	if st.l.Node == "" && st.busy == nil && st.inflight == 0 && t.m[key] == st {
		delete(t.m, key)
	}
}

// claimRoom writes this node's lease of room over prev (at revision
// prevRev; none when prev is zero) and reads the saved occupants. When
// another node wrote first it returns what it finds (cur, curRev) and an
// error.
func (n *Node) claimRoom(ctx context.Context, room jid.JID, prev roomLease, prevRev uint64) (rev uint64, saved []byte, occRev uint64, cur roomLease, curRev uint64, err error) {
	kv := n.rooms.kv
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	b, _ := json.Marshal(roomLease{Node: n.self, Inc: n.inc})
	if prev.Node == "" {
		rev, err = kv.Create(ctx, leaseKey(room), b)
	} else {
		rev, err = kv.Update(ctx, leaseKey(room), b, prevRev)
	}
	if err != nil {
		e, gerr := kv.Get(ctx, leaseKey(room))
		switch {
		case gerr == nil:
			if l, perr := parseRoomLease(e.Value()); perr == nil {
				return 0, nil, 0, l, e.Revision(), fmt.Errorf("cluster: room %s: lease taken meanwhile: %w", room, err)
			}
		case errors.Is(gerr, jetstream.ErrKeyNotFound) || errors.Is(gerr, jetstream.ErrKeyDeleted):
			// Released meanwhile: try again as new.
			return 0, nil, 0, roomLease{}, max(prevRev, 1), fmt.Errorf("cluster: room %s: lease released meanwhile: %w", room, err)
		}
		return 0, nil, 0, roomLease{}, 0, fmt.Errorf("cluster: taking the lease of room %s: %w", room, err)
	}
	e, err := kv.Get(ctx, occKey(room))
	switch {
	case err == nil:
		return rev, e.Value(), e.Revision(), roomLease{}, 0, nil
	case errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted):
		return rev, nil, 0, roomLease{}, 0, nil
	}
	// The lease is ours; the occupants are unknown: the room starts
	// without them (they join again) rather than not at all.
	n.log.Error("cluster: room taken, its saved occupants unreadable", "room", room, "err", err)
	return rev, nil, 0, roomLease{}, 0, nil
}

// Forward sends st, for room, to node, which holds its lease; hops is
// how many nodes it went through already.
func (r *Rooms) Forward(node string, room jid.JID, st *stanza.Element, hops int) error {
	if hops > maxRoomHops {
		return stanza.Errorf(stanza.ServiceUnavailable, "the room %s is moving between nodes", room)
	}
	p := r.n.peer(node)
	if p == nil {
		return fmt.Errorf("cluster: room %s: no way to node %q", room, node)
	}
	return p.enqueue(roomMsg(p.subject, r.n.self, room, st, hops))
}

// MaxSaved is the most bytes Save takes.
func (r *Rooms) MaxSaved() int { return max(r.n.opts.RoomBytes, 1024) }

// errNotHolder: this node does not hold the lease.
var errNotHolder = errors.New("cluster: this node does not hold the room's lease")

// Save writes the occupants of room, which this node serves, for the
// next node that will; the write is conditional on the last one, so a
// node that lost the lease unknowingly cannot overwrite what its
// successor saved.
func (r *Rooms) Save(ctx context.Context, room jid.JID, saved []byte) error {
	n, t := r.n, r.n.rooms
	if t.kv == nil {
		return nil
	}
	key := room.String()
	t.mu.Lock()
	st := t.m[key]
	if st == nil || !n.owns(st) {
		t.mu.Unlock()
		return errNotHolder
	}
	occRev := st.occRev
	t.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rev, err := t.writeOcc(ctx, room, occRev, saved, r.MaxSaved())
	if err != nil {
		return err
	}
	t.mu.Lock()
	if n.owns(st) {
		st.occRev = rev
	}
	t.mu.Unlock()
	return nil
}

// writeOcc writes the occupants of room over the revision occRev (0:
// none).
func (t *roomTable) writeOcc(ctx context.Context, room jid.JID, occRev uint64, saved []byte, limit int) (uint64, error) {
	if len(saved) > limit {
		return 0, fmt.Errorf("cluster: room %s: %d bytes of occupants, more than room_bytes", room, len(saved))
	}
	var rev uint64
	var err error
	if occRev == 0 {
		rev, err = t.kv.Create(ctx, occKey(room), saved)
	} else {
		rev, err = t.kv.Update(ctx, occKey(room), saved, occRev)
	}
	if err != nil {
		return 0, fmt.Errorf("cluster: saving the occupants of room %s: %w", room, err)
	}
	return rev, nil
}

// Release gives up the lease of room once final (called with the lease
// table locked: it must not call back into the cluster, and no stanza
// to the room is handled here until Release returns) says so: ok false
// keeps the lease (the room is back in memory); saved is written for
// the next node, nil deletes what was saved. It returns false when the
// room is busy (a stanza being handled): the caller tries again later.
func (r *Rooms) Release(ctx context.Context, room jid.JID, final func() (saved []byte, ok bool)) bool {
	n, t := r.n, r.n.rooms
	if t.kv == nil {
		return true
	}
	key := room.String()
	t.mu.Lock()
	st := t.m[key]
	if st == nil || !n.owns(st) {
		t.mu.Unlock()
		return true
	}
	if st.busy != nil || st.inflight > 0 {
		t.mu.Unlock()
		return false
	}
	saved, ok := final()
	if !ok {
		t.mu.Unlock()
		return true
	}
	ch := make(chan struct{})
	st.busy = ch
	rev, occRev := st.rev, st.occRev
	t.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if saved == nil {
		if err := t.kv.Delete(ctx, occKey(room)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			n.log.Warn("cluster: occupants of a released room not deleted", "room", room, "err", err)
		}
	} else if _, err := t.writeOcc(ctx, room, occRev, saved, r.MaxSaved()); err != nil {
		n.log.Error("cluster: occupants of a room handed over not saved; they must join again", "room", room, "err", err)
	}
	if err := t.kv.Delete(ctx, leaseKey(room), jetstream.LastRevision(rev)); err != nil {
		n.log.Warn("cluster: room lease not released; it ends with this node's lease", "room", room, "err", err)
	}
	t.mu.Lock()
	st.l, st.occRev = roomLease{}, 0
	st.busy = nil
	close(ch)
	t.dropIdle(key, st)
	t.mu.Unlock()
	return true
}

// Describe sets whether room, which this node serves, is listed by the
// other nodes' disco#items, under name (listed false: not listed).
func (r *Rooms) Describe(ctx context.Context, room jid.JID, listed bool, name string) error {
	n, t := r.n, r.n.rooms
	if t.kv == nil {
		return nil
	}
	if len(name) > maxListedName {
		name = name[:maxListedName]
	}
	var want *string
	if listed {
		want = &name
	}
	t.mu.Lock()
	st := t.m[room.String()]
	if st == nil || !n.owns(st) || st.busy != nil {
		t.mu.Unlock()
		return errNotHolder
	}
	if (st.l.Listed == nil) == (want == nil) && (want == nil || *st.l.Listed == *want) {
		t.mu.Unlock()
		return nil
	}
	l, rev := roomLease{Node: n.self, Inc: n.inc, Listed: want}, st.rev
	t.mu.Unlock()
	b, _ := json.Marshal(l)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	nrev, err := t.kv.Update(ctx, leaseKey(room), b, rev)
	if err != nil {
		return fmt.Errorf("cluster: describing room %s: %w", room, err)
	}
	t.mu.Lock()
	if n.owns(st) && nrev > st.rev {
		st.l, st.rev = l, nrev
	}
	t.mu.Unlock()
	return nil
}

// Listed returns the temporary public rooms of domain that other live
// nodes serve, with their names.
func (r *Rooms) Listed(domain string) map[jid.JID]string {
	n, t := r.n, r.n.rooms
	out := make(map[jid.JID]string)
	t.mu.Lock()
	defer t.mu.Unlock()
	for key, st := range t.m {
		if st.l.Listed == nil || n.holder(st) == "" {
			continue
		}
		if j, err := jid.Parse(key); err == nil && j.Domain() == domain {
			out[j] = *st.l.Listed
		}
	}
	return out
}

// roomUpdate follows the leases of the rooms bucket.
func (n *Node) roomUpdate(kve jetstream.KeyValueEntry) {
	room, err := roomOfKey(kve.Key())
	if err != nil {
		n.log.Warn("cluster: bad key in the rooms bucket", "key", kve.Key(), "err", err)
		return
	}
	var l roomLease
	if kve.Operation() == jetstream.KeyValuePut {
		if l, err = parseRoomLease(kve.Value()); err != nil {
			n.log.Warn("cluster: bad lease in the rooms bucket", "room", room, "err", err)
			return
		}
	}
	t := n.rooms
	key := room.String()
	t.mu.Lock()
	st := t.m[key]
	if st == nil {
		st = &roomState{}
		t.m[key] = st
	}
	if kve.Revision() <= st.rev {
		t.mu.Unlock()
		return
	}
	was := n.owns(st)
	st.l, st.rev, st.created = l, kve.Revision(), kve.Created()
	lost := was && !n.owns(st) && st.busy == nil
	if lost {
		st.occRev = 0
	}
	t.dropIdle(key, st)
	t.mu.Unlock()
	if lost {
		n.log.Warn("cluster: another node took the lease of a room served here", "room", room, "node", l.Node)
		if h := n.roomHandler(); h != nil {
			h.Lost(room)
		}
	}
}

// deliverRoom hands a stanza another node forwarded to a room to the
// MUC module.
func (n *Node) deliverRoom(f frame) {
	h := n.roomHandler()
	if h == nil {
		n.log.Info("cluster: stanza for a room, and no rooms on this node", "room", f.to, "node", f.node)
		if stanza.MayBounce(f.st) {
			n.router.Route(n.ctx, stanza.ErrorReply(f.st, stanza.Errorf(stanza.ServiceUnavailable, "no chat rooms here")))
		}
		return
	}
	h.DeliverRoom(n.ctx, f.to, f.st, f.hops)
}

// preferred returns the live node (this one included when self) that
// takes a room first when its holder died: the highest of a hash of the
// room and each node's name, so that the rooms spread over the nodes
// and every node agrees.
func (n *Node) preferred(key string, self bool) string {
	names := n.aliveNodes()
	if self && !n.leaving.Load() {
		names = append(names, n.self)
	}
	best, bestH := "", uint64(0)
	for _, name := range names {
		h := fnv.New64a()
		h.Write([]byte(key))
		h.Write([]byte{0})
		h.Write([]byte(name))
		if v := h.Sum64(); best == "" || v > bestH || v == bestH && name < best {
			best, bestH = name, v
		}
	}
	return best
}

// nodesGone tells the MUC module of nodes that died or left: the
// sessions they had leave its rooms, and this node takes over the rooms
// they held that it is the preferred node for. n.mu is not held.
func (n *Node) nodesGone(nodes ...string) {
	h := n.roomHandler()
	if len(nodes) == 0 || h == nil || n.rooms.kv == nil {
		return
	}
	var fulls []jid.JID
	n.mu.Lock()
	for _, node := range nodes {
		for _, ks := range n.byNode[node] {
			fulls = append(fulls, ks.full)
		}
	}
	n.mu.Unlock()
	t := n.rooms
	var take []jid.JID
	t.mu.Lock()
	// Sessions of those nodes whose entries another node already
	// deleted (it saw the death first): now, not after leftDelay.
	t.left = slices.DeleteFunc(t.left, func(l leftSession) bool {
		if slices.Contains(nodes, l.node) {
			fulls = append(fulls, l.full)
			return true
		}
		return false
	})
	for key, st := range t.m {
		for _, node := range nodes {
			if st.l.Node == node && st.l.Node != n.self {
				if j, err := jid.Parse(key); err == nil && n.preferred(key, true) == n.self {
					take = append(take, j)
				}
			}
		}
	}
	t.mu.Unlock()
	n.wg.Go(func() {
		if len(fulls) > 0 {
			h.SessionsGone(n.ctx, fulls)
		}
		for _, room := range take {
			h.TakeOver(n.ctx, room)
		}
	})
}

// sessionLeft notes that a session of another node ended: its
// occupants normally leave the rooms by its unavailable presence (the
// presence module of its node sends it to the rooms); those still there
// after leftDelay (that presence was lost, or never sent) are taken out.
func (n *Node) sessionLeft(full jid.JID, node string) {
	if n.roomHandler() == nil {
		return
	}
	t := n.rooms
	t.mu.Lock()
	if len(t.left) >= maxLeft {
		n.log.Warn("cluster: too many ended sessions waiting to leave the rooms; the oldest is dropped", "session", t.left[0].full)
		t.left = t.left[1:]
	}
	t.left = append(t.left, leftSession{full: full, node: node, at: time.Now()})
	t.mu.Unlock()
}

// flushLeft hands the sessions that ended leftDelay ago to the rooms,
// unless they are bound again somewhere.
func (n *Node) flushLeft() {
	t := n.rooms
	var due []jid.JID
	t.mu.Lock()
	i := 0
	for ; i < len(t.left) && time.Since(t.left[i].at) >= leftDelay; i++ {
		due = append(due, t.left[i].full)
	}
	t.left = append(t.left[:0], t.left[i:]...)
	t.mu.Unlock()
	due = slices.DeleteFunc(due, func(full jid.JID) bool { return n.dir.Get(full) != nil })
	if h := n.roomHandler(); h != nil && len(due) > 0 {
		n.wg.Go(func() { h.SessionsGone(n.ctx, due) })
	}
}

// takeOwnRooms takes over, at start, the rooms an earlier run of this
// node served (it died, or restarted within the TTL): their occupants on
// other nodes get the room announced again at once.
func (n *Node) takeOwnRooms() {
	h := n.roomHandler()
	if h == nil {
		return
	}
	var take []jid.JID
	t := n.rooms
	t.mu.Lock()
	for key, st := range t.m {
		if st.l.Node == n.self && st.l.Inc != n.inc {
			if j, err := jid.Parse(key); err == nil {
				take = append(take, j)
			}
		}
	}
	t.mu.Unlock()
	if len(take) == 0 {
		return
	}
	n.wg.Go(func() {
		for _, room := range take {
			h.TakeOver(n.ctx, room)
		}
	})
}

// leaveRooms hands this node's rooms over when it leaves: the MUC module
// saves their occupants and releases their leases; the next stanza to
// each room, at any node, makes a live node take it.
func (n *Node) leaveRooms(ctx context.Context) {
	t := n.rooms
	t.mu.Lock()
	t.leaving = true
	t.mu.Unlock()
	if h := n.roomHandler(); h != nil && t.kv != nil {
		h.Handover(ctx)
	}
}

// RoomLeases counts the room leases this node holds and knows of (for
// status and tests).
func (n *Node) RoomLeases() (held, known int) {
	t := n.rooms
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, st := range t.m {
		if st.l.Node != "" {
			known++
			if n.owns(st) {
				held++
			}
		}
	}
	return held, known
}

// roomCounts counts the room leases of each node (those of this node in
// this incarnation only).
func (n *Node) roomCounts() map[string]int {
	t := n.rooms
	out := make(map[string]int)
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, st := range t.m {
		if st.l.Node != "" && (st.l.Node != n.self || n.owns(st)) {
			out[st.l.Node]++
		}
	}
	return out
}

// RoomHolder returns the node holding room's lease as this node sees it,
// "" if none.
func (n *Node) RoomHolder(room jid.JID) string {
	t := n.rooms
	t.mu.Lock()
	defer t.mu.Unlock()
	if st := t.m[room.String()]; st != nil {
		return st.l.Node
	}
	return ""
}
