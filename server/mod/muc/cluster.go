package muc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/muc"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// In a cluster (docs/cluster.md), each room is served by the node holding
// its lease: a node that gets a stanza for a room another node serves
// forwards it there; the serving node saves the room's occupants (and a
// temporary room's configuration and affiliations, which are in no
// store) for the node that serves it next, which rebuilds the room from
// them and, when the previous node died, announces every occupant again
// and takes out those whose sessions died with it. Without a cluster
// none of this runs.

// Cluster is the cluster's side of the rooms (cluster.Rooms).
type Cluster interface {
	// Acquire returns "" when this node serves room (taking its lease
	// if no live node holds it: restore is then called first), with the
	// function to call once the stanza is handled, or the node that
	// serves it.
	Acquire(ctx context.Context, room jid.JID, restore func(ctx context.Context, saved []byte, died bool)) (node string, done func(), err error)
	// Forward sends st, for room, to node; hops counts the nodes it went
	// through.
	Forward(node string, room jid.JID, st *stanza.Element, hops int) error
	// Save writes what the next node serving room rebuilds it from.
	Save(ctx context.Context, room jid.JID, saved []byte) error
	// Release gives up room's lease once final, called with the leases
	// locked, says so (ok), writing saved first (nil: nothing kept); it
	// returns false when the room is busy.
	Release(ctx context.Context, room jid.JID, final func() (saved []byte, ok bool)) bool
	// MaxSaved bounds what Save and Release take.
	MaxSaved() int
	// Describe sets whether the other nodes list room (a temporary
	// public room this node serves) in disco#items, under name.
	Describe(ctx context.Context, room jid.JID, listed bool, name string) error
	// Listed returns the rooms of a service the other nodes list so.
	Listed(domain string) map[jid.JID]string
}

// saveDelay is how long changes to rooms are gathered before their
// occupants are saved.
const saveDelay = 100 * time.Millisecond

// clustered is the module's state in a cluster.
type clustered struct {
	c Cluster
	// passMu is held by whoever saves or releases rooms (one at a
	// time: a save is conditional on the previous one).
	passMu sync.Mutex

	mu       sync.Mutex // guards the fields below; a leaf
	dirty    map[jid.JID]struct{}
	released map[jid.JID]struct{}
	saved    map[jid.JID]uint64 // hash of what was saved last
	wake     chan struct{}
}

// SetCluster makes the module serve its rooms as a node of a cluster.
// Call it after Register and before Start.
func (m *Module) SetCluster(c Cluster) {
	m.cl = &clustered{c: c, dirty: make(map[jid.JID]struct{}), released: make(map[jid.JID]struct{}),
		saved: make(map[jid.JID]uint64), wake: make(chan struct{}, 1)}
}

// touch notes that a room may have changed: its occupants are saved
// soon. rm.mu may be held.
func (cl *clustered) touch(rj jid.JID) {
	cl.mu.Lock()
	cl.dirty[rj] = struct{}{}
	cl.mu.Unlock()
	cl.poke()
}

// closed notes that a room left memory: its lease is released soon.
// rm.mu may be held.
func (cl *clustered) closed(rj jid.JID) {
	cl.mu.Lock()
	cl.released[rj] = struct{}{}
	delete(cl.dirty, rj)
	cl.mu.Unlock()
	cl.poke()
}

func (cl *clustered) poke() {
	select {
	case cl.wake <- struct{}{}:
	default:
	}
}

// runSaver saves and releases rooms until ctx ends.
func (m *Module) runSaver(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.cl.wake:
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(saveDelay):
		}
		m.savePass(ctx)
	}
}

// savePass saves the rooms that changed and releases those that left
// memory.
func (m *Module) savePass(ctx context.Context) {
	cl := m.cl
	cl.passMu.Lock()
	defer cl.passMu.Unlock()
	cl.mu.Lock()
	dirty, released := cl.dirty, cl.released
	cl.dirty, cl.released = make(map[jid.JID]struct{}), make(map[jid.JID]struct{})
	cl.mu.Unlock()
	for rj := range dirty {
		rm := m.loaded(rj)
		if rm == nil {
			continue
		}
		rm.mu.Lock()
		if rm.closed {
			rm.mu.Unlock()
			continue
		}
		b := m.snapshot(rm)
		listed, name := !rm.cfg.Persistent && rm.cfg.Public && !rm.locked, rm.cfg.Name
		rm.mu.Unlock()
		if err := cl.c.Describe(ctx, rj, listed, name); err != nil {
			m.log.DebugContext(ctx, "muc: room listing not written for the cluster", "room", rj, "err", err)
		}
		h := fnv.New64a()
		h.Write(b)
		sum := h.Sum64()
		cl.mu.Lock()
		same := cl.saved[rj] == sum
		cl.mu.Unlock()
		if same {
			continue
		}
		if err := cl.c.Save(ctx, rj, b); err != nil {
			m.log.WarnContext(ctx, "muc: occupants not saved for the cluster", "room", rj, "err", err)
			continue
		}
		cl.mu.Lock()
		cl.saved[rj] = sum
		cl.mu.Unlock()
	}
	if m.releaseRooms(ctx, released) {
		cl.poke()
	}
}

// releaseRooms releases the leases of rooms that left memory; those busy
// are kept for the next pass (it returns true if any). cl.passMu is
// held.
func (m *Module) releaseRooms(ctx context.Context, released map[jid.JID]struct{}) (again bool) {
	cl := m.cl
	for rj := range released {
		ok := cl.c.Release(ctx, rj, func() ([]byte, bool) { return nil, m.loaded(rj) == nil })
		if !ok {
			cl.mu.Lock()
			cl.released[rj] = struct{}{}
			cl.mu.Unlock()
			again = true
			continue
		}
		cl.mu.Lock()
		delete(cl.saved, rj)
		cl.mu.Unlock()
	}
	return again
}

// roomStanza serves a stanza to a room in a cluster: here when this node
// serves the room, else forwarded to the node that does.
func (m *Module) roomStanza(ctx context.Context, p *module.Packet, hops int) {
	rj := p.To.Bare()
	node, done, err := m.cl.c.Acquire(ctx, rj, func(ctx context.Context, saved []byte, died bool) {
		// The room's, not the request's: a cancelled request must not
		// leave it half rebuilt.
		m.restore(context.WithoutCancel(ctx), rj, saved, died)
	})
	if err == nil && node != "" {
		err = m.cl.c.Forward(node, rj, p.Stanza, hops+1)
		if err == nil {
			return
		}
	}
	if err != nil {
		var se *stanza.Error
		if !errors.As(err, &se) {
			m.log.ErrorContext(ctx, "muc: room unreachable in the cluster", "room", rj, "from", p.From, "err", err)
			err = stanza.Errorf(stanza.ServiceUnavailable, "the room cannot be reached now")
		}
		m.replyErr(ctx, p.Stanza, err)
		return
	}
	defer done()
	m.flushRoom(ctx, rj)
	m.roomPacket(ctx, p)
	if m.loaded(rj) == nil {
		// No such room (an IQ or a message to a room that does not
		// exist), or it closed: the lease taken for the stanza goes.
		m.cl.closed(rj)
		return
	}
	if p.Kind != stanza.KindMessage || p.Stanza.Child(stanza.NSClient, "subject") != nil {
		// Presence and IQs may change what is saved (occupants, a
		// temporary room's configuration); group chat does not.
		m.cl.touch(rj)
	}
}

// announces reports whether a room's outbox holds a presence: an
// occupant came, went or changed.
func announces(q []*stanza.Element) bool {
	for _, st := range q {
		if st.Name.Local == "presence" {
			return true
		}
	}
	return false
}

// flushRoom routes what a room queued while it was rebuilt.
func (m *Module) flushRoom(ctx context.Context, rj jid.JID) {
	if rm := m.loaded(rj); rm != nil {
		rm.mu.Lock()
		m.release(ctx, rm)
	}
}

// DeliverRoom implements cluster.RoomHandler: a stanza another node
// forwarded to a room this node serves (or did when it was sent).
func (m *Module) DeliverRoom(ctx context.Context, room jid.JID, st *stanza.Element, hops int) {
	p := &module.Packet{Stanza: st, Kind: stanza.KindOf(st)}
	from, err := jid.Parse(st.From())
	if err != nil || m.services[from.Domain()] {
		m.log.WarnContext(ctx, "muc: stanza from another node dropped", "room", room, "from", st.From(), "err", err)
		return
	}
	if m.cl == nil || !m.services[room.Domain()] {
		m.log.WarnContext(ctx, "muc: stanza from another node for a service not served here", "room", room, "from", from)
		m.replyErr(ctx, st, stanza.Errorf(stanza.ServiceUnavailable, "no such chat service here"))
		return
	}
	to, err := jid.Parse(st.To())
	if err != nil || to.Bare() != room {
		m.log.WarnContext(ctx, "muc: stanza from another node not for its room", "room", room, "to", st.To())
		return
	}
	p.From, p.To = from, to
	m.roomStanza(ctx, p, hops)
}

// TakeOver implements cluster.RoomHandler: the node that served room
// died, this one serves it now.
func (m *Module) TakeOver(ctx context.Context, room jid.JID) {
	if m.cl == nil {
		return
	}
	node, done, err := m.cl.c.Acquire(ctx, room, func(ctx context.Context, saved []byte, died bool) {
		m.restore(ctx, room, saved, died)
	})
	if err != nil {
		m.log.WarnContext(ctx, "muc: room of a dead node not taken over", "room", room, "err", err)
		return
	}
	if node != "" {
		return
	}
	m.flushRoom(ctx, room)
	done()
	if m.loaded(room) == nil {
		// Nothing to rebuild (it was empty): the lease goes.
		m.cl.closed(room)
		return
	}
	m.cl.touch(room)
}

// Lost implements cluster.RoomHandler: another node serves room now;
// it leaves memory here, its occupants are that node's.
func (m *Module) Lost(room jid.JID) {
	rm := m.loaded(room)
	if rm == nil {
		return
	}
	rm.mu.Lock()
	m.evict(rm)
	// What it decided to send before is still routed (release).
	m.release(context.Background(), rm)
}

// evict takes a room out of memory without a word to its occupants.
// rm.mu is held.
func (m *Module) evict(rm *room) {
	for _, o := range rm.order {
		for _, s := range o.sessions {
			m.track(s.real, rm.jid, false)
		}
	}
	m.close(rm)
}

// SessionsGone implements cluster.RoomHandler: sessions that died with
// their node leave the rooms served here (status 333).
func (m *Module) SessionsGone(ctx context.Context, fulls []jid.JID) {
	for _, full := range fulls {
		for _, rj := range m.roomsOf(full) {
			m.kickOnError(ctx, rj, full)
			if m.cl != nil {
				m.cl.touch(rj)
			}
		}
	}
}

// Handover implements cluster.RoomHandler: this node leaves the cluster;
// each room it serves is saved and its lease released, for the next
// node a stanza to it reaches.
func (m *Module) Handover(ctx context.Context) {
	if m.cl == nil {
		return
	}
	m.cl.passMu.Lock()
	defer m.cl.passMu.Unlock()
	// The leases of rooms that left memory and were not released yet.
	m.cl.mu.Lock()
	released := m.cl.released
	m.cl.released = make(map[jid.JID]struct{})
	m.cl.mu.Unlock()
	m.releaseRooms(ctx, released)
	m.mu.Lock()
	rooms := make([]jid.JID, 0, len(m.rooms))
	for rj := range m.rooms {
		rooms = append(rooms, rj)
	}
	m.mu.Unlock()
	for _, rj := range rooms {
		for !m.cl.c.Release(ctx, rj, func() ([]byte, bool) { return m.handOver(rj), true }) {
			if ctx.Err() != nil {
				m.log.WarnContext(ctx, "muc: room not handed over", "room", rj)
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	m.log.InfoContext(ctx, "muc: rooms handed over to the cluster", "rooms", len(rooms))
}

// handOver takes a room out of memory for another node and returns what
// that node rebuilds it from (nil: nothing).
func (m *Module) handOver(rj jid.JID) []byte {
	rm := m.loaded(rj)
	if rm == nil {
		return nil
	}
	rm.mu.Lock()
	defer rm.mu.Unlock()
	if rm.closed {
		return nil
	}
	var b []byte
	if len(rm.occ) > 0 || !rm.cfg.Persistent {
		b = m.snapshot(rm)
	}
	m.evict(rm)
	return b
}

// savedRoom is what the node serving a room saves for the next one.
type savedRoom struct {
	Occupants []savedOccupant `json:"o,omitempty"`
	// Temp is a temporary room's state, which no store holds.
	Temp *savedTemp `json:"t,omitempty"`
	// Cut counts the occupants left out for room_bytes.
	Cut int `json:"c,omitempty"`
}

type savedOccupant struct {
	Nick     string         `json:"n"`
	Role     string         `json:"r"`
	Sessions []savedSession `json:"s"`
}

type savedSession struct {
	JID  string `json:"j"`
	Pres string `json:"p,omitempty"` // the last presence shown
}

type savedTemp struct {
	Config    map[string][]string `json:"c"`
	Affs      []savedAff          `json:"a,omitempty"`
	Subject   string              `json:"s,omitempty"`
	SubjectBy string              `json:"b,omitempty"`
	Created   time.Time           `json:"t"`
	Locked    bool                `json:"l,omitempty"`
}

type savedAff struct {
	JID    string `json:"j"`
	Aff    string `json:"a"`
	Reason string `json:"r,omitempty"`
	Nick   string `json:"n,omitempty"`
}

// snapshot encodes what the next node serving rm rebuilds it from,
// within the cluster's bound: occupants past it are left out (and
// logged), presences first dropped to make room. rm.mu is held.
func (m *Module) snapshot(rm *room) []byte {
	var sr savedRoom
	if !rm.cfg.Persistent || !rm.persisted {
		s := rm.stored()
		t := &savedTemp{Config: s.Config, Subject: rm.subject, SubjectBy: rm.subjectBy, Created: rm.created, Locked: rm.locked}
		for j, a := range rm.affs {
			t.Affs = append(t.Affs, savedAff{JID: j.String(), Aff: a.aff.String(), Reason: a.reason, Nick: a.nick})
		}
		sr.Temp = t
	}
	limit := m.cl.c.MaxSaved()
	b, _ := json.Marshal(sr)
	size := len(b) + 16
	for _, o := range rm.order {
		so := savedOccupant{Nick: o.nick, Role: o.role.String()}
		for _, s := range o.sessions {
			ss := savedSession{JID: s.real.String()}
			if s.pres != nil {
				ss.Pres = string(s.pres.Bytes())
			}
			so.Sessions = append(so.Sessions, ss)
		}
		ob, _ := json.Marshal(so)
		if size+len(ob)+1 > limit {
			for i := range so.Sessions {
				so.Sessions[i].Pres = ""
			}
			ob, _ = json.Marshal(so)
		}
		if size+len(ob)+1 > limit {
			sr.Cut++
			continue
		}
		size += len(ob) + 1
		sr.Occupants = append(sr.Occupants, so)
	}
	if sr.Cut > 0 {
		m.log.Warn("muc: occupants left out of what the cluster saves of a room (cluster.room_bytes)", "room", rm.jid, "left_out", sr.Cut)
	}
	b, _ = json.Marshal(sr)
	return b
}

// parseSaved decodes a saved room.
func parseSaved(b []byte) (savedRoom, error) {
	var sr savedRoom
	if err := json.Unmarshal(b, &sr); err != nil {
		return sr, fmt.Errorf("muc: saved room: %w", err)
	}
	return sr, nil
}

// restore rebuilds a room this node now serves from what the previous
// node saved (nil: nothing) and from storage. When that node died, every
// occupant whose session is still somewhere gets the room announced
// again (everyone's presence, its own last), and the occupants whose
// sessions are gone leave (333). What it sends waits in the room's
// outbox (flushRoom).
func (m *Module) restore(ctx context.Context, rj jid.JID, saved []byte, died bool) {
	if old := m.loaded(rj); old != nil {
		// A stale copy (this node served the room before): drop it.
		old.mu.Lock()
		m.evict(old)
		old.mu.Unlock()
	}
	var sr savedRoom
	if saved != nil {
		var err error
		if sr, err = parseSaved(saved); err != nil {
			m.log.ErrorContext(ctx, "muc: saved room unreadable; its occupants must join again", "room", rj, "err", err)
		}
	}
	rm, err := m.lookup(ctx, rj)
	if err != nil {
		m.log.ErrorContext(ctx, "muc: room not restored", "room", rj, "err", err)
		return
	}
	if rm == nil {
		if sr.Temp == nil {
			return // nothing to rebuild: no such room
		}
		rm = m.tempFromSaved(rj, sr.Temp)
	}
	defer rm.mu.Unlock() // flushed by flushRoom
	if len(sr.Occupants) == 0 {
		return
	}
	type entry struct {
		o *occupant
		s *occSession
	}
	var live, gone []entry
	for _, so := range sr.Occupants {
		o := m.savedOccupant(rm, so)
		if o == nil || rm.occ[o.key] != nil {
			continue
		}
		for _, s := range o.sessions {
			if m.host.IsLocal(s.real.Domain()) && m.host.Sessions().Get(s.real) == nil {
				gone = append(gone, entry{o, s})
			} else {
				live = append(live, entry{o, s})
			}
			m.track(s.real, rj, true)
		}
		rm.add(o)
	}
	if died {
		for _, e := range live {
			m.sendList(rm, e.o, e.s)
			m.postSelf(rm, e.o, e.s, presOpts{}, []int{muc.StatusSelf})
		}
	}
	for _, e := range gone {
		if o := rm.real[e.s.real]; o != nil {
			m.removeSession(ctx, rm, o, e.s.real, stanza.New(stanza.NSClient, "presence"), leaveInfo{codes: []int{muc.StatusTechnicalError}})
		}
	}
	m.log.InfoContext(ctx, "muc: room rebuilt on this node", "room", rj, "occupants", len(rm.occ), "gone", len(gone), "announced", died)
}

// tempFromSaved rebuilds a temporary room, published and returned
// locked.
func (m *Module) tempFromSaved(rj jid.JID, t *savedTemp) *room {
	var affs []storage.MUCAffiliation
	for _, a := range t.Affs {
		j, err := jid.Parse(a.JID)
		if err != nil {
			continue
		}
		affs = append(affs, storage.MUCAffiliation{JID: j, Affiliation: a.Aff, Reason: a.Reason, Nick: a.Nick})
	}
	rm := m.roomFromStore(storage.MUCRoom{JID: rj, Config: t.Config, Subject: t.Subject, SubjectBy: t.SubjectBy, Created: t.Created}, affs)
	rm.persisted, rm.keyUnsaved = false, false
	rm.cfg.Persistent = false
	rm.locked = t.Locked
	rm.mu.Lock()
	m.mu.Lock()
	m.rooms[rj] = rm
	m.mu.Unlock()
	return rm
}

// savedOccupant rebuilds a saved occupant, nil when unusable.
func (m *Module) savedOccupant(rm *room, so savedOccupant) *occupant {
	nick, key, err := enforceNick(so.Nick)
	if err != nil {
		return nil
	}
	occJID, err := jid.New(rm.jid.Local(), rm.jid.Domain(), nick)
	if err != nil {
		return nil
	}
	role, err := muc.ParseRole(so.Role)
	if err != nil {
		role = muc.RoleParticipant
	}
	o := &occupant{nick: nick, key: key, jid: occJID, role: role}
	for _, ss := range so.Sessions {
		real, err := jid.Parse(ss.JID)
		if err != nil || real.Resource() == "" || rm.real[real] != nil {
			continue
		}
		pres := stanza.New(stanza.NSClient, "presence")
		if ss.Pres != "" {
			if el, err := stream.ParseElement([]byte(ss.Pres), stream.DefaultLimits()); err == nil && el.Name.Local == "presence" {
				pres = userPresence(el)
			}
		}
		o.sessions = append(o.sessions, &occSession{real: real, pres: pres})
	}
	if len(o.sessions) == 0 {
		return nil
	}
	o.oid = rm.occupantID(o.bare())
	return o
}
