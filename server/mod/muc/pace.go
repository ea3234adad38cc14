package muc

import (
	"context"
	"time"

	"github.com/parley-xmpp/parley/server/session"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/muc"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// Entering a large room, a session is owed the presence of every occupant
// at once (XEP-0045 §7.2.3): a thousand presences, more than a session's
// outbound budget may hold while its client is also being sent everyone
// else's arrivals. Rather than queue them all in the session, where a
// client that reads but has not caught up yet would be taken for a slow
// consumer, the room paces the list out: it keeps, per entering session,
// a lane — the rest of the occupant list as it stood at entry (a compact
// snapshot: presences are built only when sent) followed by whatever the
// room sends that session meanwhile (its own presence, the history, the
// subject, live traffic), in order — and a goroutine routes the lane as
// the session's backlog drains (session.Session.Backlog). Other sessions
// and other rooms do not wait for it: only that session's copies go
// through the lane.
//
// What a lane holds besides the snapshot is bounded (Options.PacedBytes):
// past it, or when the session's backlog has not shrunk for paceStall,
// the room stops pacing and routes what is left at once, so a client that
// does not read meets its session's own bound and is cut off as a slow
// consumer, as it would have been without the lane.

// Pacing of occupant lists.
const (
	// paceMinList is the smallest occupant list that is paced: a shorter
	// one is queued at once, like every other stanza.
	paceMinList = 32
	// paceHigh and paceLow are fractions of the session's limits
	// (session.Backlog.Above): past paceHigh the lane waits until the
	// backlog is back under paceLow.
	paceHigh = 0.5
	paceLow  = 0.25
	// paceChunk is how many stanzas the lane takes from the room at a time.
	paceChunk = 64
	// paceTick is how often a waiting lane looks at the session's backlog.
	paceTick = 10 * time.Millisecond
	// paceStall is how long a backlog may stay without shrinking before
	// the session counts as not reading.
	paceStall = 30 * time.Second
)

// DefaultPacedBytes is the default bound on what a room holds for one
// session while pacing its occupant list out (Options.PacedBytes).
const DefaultPacedBytes = 2 << 20

// listEntry is an occupant's presence as the room showed it to an
// entering session when it entered: the element is built when the lane
// routes it.
type listEntry struct {
	from jid.JID         // room@service/nick
	real jid.JID         // zero unless the entering session sees real JIDs
	pres *stanza.Element // the occupant's presence, never modified once set
	oid  string
	aff  muc.Affiliation
	role muc.Role
}

// presence builds the entry's presence addressed to 'to'.
func (e *listEntry) presence(to string) *stanza.Element {
	item := muc.Item{Affiliation: e.aff.String(), Role: e.role.String()}
	if !e.real.IsZero() {
		item.JID = e.real.String()
	}
	pr := occupantPresence(e.pres, e.from, item, e.oid, nil, nil)
	pr.Set("to", to)
	return pr
}

// laneItem is a stanza the room decided to send, or (st nil) the rest
// of an occupant list.
type laneItem struct {
	st   *stanza.Element
	size int
	list []listEntry
}

// lane is the way from a room to one session whose occupant list is
// being paced out. Every field is guarded by the room's mu.
type lane struct {
	to    string // the session's full JID
	sess  *session.Session
	items []laneItem
	bytes int // estimated size of the stanzas in items
	max   int // bound on bytes (Options.PacedBytes)
	// rush: route what is left without pacing (the lane overflowed, the
	// session stopped reading, or it left the room).
	rush bool
	// overflowed: rush because of max, for the log.
	overflowed bool
}

// push appends a stanza; past the lane's bound it stops pacing.
func (ln *lane) push(st *stanza.Element, size int) {
	ln.items = append(ln.items, laneItem{st: st, size: size})
	ln.bytes += size
	if ln.bytes > ln.max && !ln.rush {
		ln.rush, ln.overflowed = true, true
	}
}

// take removes up to n stanzas from the front of the lane (all of them
// when n is 0): stanzas, and runs of list entries, whose presences the
// caller builds (render) without the room's lock.
func (ln *lane) take(n int) []laneItem {
	var out []laneItem
	count := 0
	for len(ln.items) > 0 && (n == 0 || count < n) {
		it := &ln.items[0]
		if it.st != nil {
			out = append(out, *it)
			count++
			ln.bytes -= it.size
			ln.items[0] = laneItem{}
			ln.items = ln.items[1:]
			continue
		}
		k := len(it.list)
		if n != 0 {
			k = min(k, n-count)
		}
		out = append(out, laneItem{list: it.list[:k:k]})
		count += k
		it.list = it.list[k:]
		if len(it.list) == 0 {
			ln.items[0] = laneItem{}
			ln.items = ln.items[1:]
		}
	}
	if len(ln.items) == 0 {
		ln.items = nil // let a long queue's array go
	}
	return out
}

// render turns what take returned into the stanzas to route.
func (ln *lane) render(items []laneItem) []*stanza.Element {
	var out []*stanza.Element
	for _, it := range items {
		if it.st != nil {
			out = append(out, it.st)
			continue
		}
		for i := range it.list {
			out = append(out, it.list[i].presence(ln.to))
		}
	}
	return out
}

// dropLists forgets the occupant lists still in the lane: the session
// left the room, and what it is owed now is what follows them (its own
// departure).
func (ln *lane) dropLists() {
	kept := ln.items[:0]
	for _, it := range ln.items {
		if it.st != nil {
			kept = append(kept, it)
		}
	}
	clear(ln.items[len(kept):])
	ln.items = kept
	ln.rush = true
}

// post queues a stanza; size is its estimated serialised size. A stanza
// for a session whose occupant list is being paced out joins that
// session's lane, behind the list. The caller holds rm.mu.
func (rm *room) post(st *stanza.Element, size int) {
	if rm.lanes != nil {
		if ln := rm.lanes[st.To()]; ln != nil {
			ln.push(st, size)
			return
		}
	}
	rm.out.q = append(rm.out.q, st)
	rm.out.bytes += size
}

// sendList queues the presence of every occupant but o for session s,
// which is entering as o (§7.2.3): at once for a short list or a session
// that does not report its backlog, else through a lane. The caller holds
// rm.mu.
func (m *Module) sendList(rm *room, o *occupant, s *occSession) {
	to := s.real.String()
	withJID := rm.seesJIDs(o)
	n := len(rm.order)
	if rm.occ[o.key] == o {
		n-- // o itself is not listed
	}
	paced := false
	if n >= paceMinList && s.sess != nil {
		_, paced = s.sess.Backlog()
	}
	if !paced {
		for _, other := range rm.occupants() {
			if other == o {
				continue
			}
			pr := m.presenceOf(rm, other, withJID, presOpts{})
			pr.Set("to", to)
			rm.post(pr, approxSize(pr))
		}
		return
	}
	list := make([]listEntry, 0, n)
	for _, other := range rm.occupants() {
		if other == o {
			continue
		}
		ps := other.primary()
		e := listEntry{from: other.jid, pres: ps.pres, oid: other.oid, aff: m.affiliation(rm, ps.real), role: other.role}
		if withJID {
			e.real = ps.real
		}
		list = append(list, e)
	}
	ln := rm.lanes[to]
	if ln == nil {
		ln = &lane{to: to, sess: s.sess, max: m.opts.PacedBytes}
		if rm.lanes == nil {
			rm.lanes = make(map[string]*lane)
		}
		rm.lanes[to] = ln
		m.goBackground(func(ctx context.Context) { m.feed(ctx, rm, ln) })
	}
	ln.items = append(ln.items, laneItem{list: list})
}

// leftRoom tells a session's lane, if any, that the session left: the
// rest of its occupant lists is not sent. The caller holds rm.mu.
func (rm *room) leftRoom(full jid.JID) {
	if ln := rm.lanes[full.String()]; ln != nil {
		ln.dropLists()
	}
}

// feed routes a lane as its session takes it, until the lane is empty;
// then the lane goes and the session's stanzas take the room's outbox
// again. It routes without the room's lock, like release.
func (m *Module) feed(ctx context.Context, rm *room, ln *lane) {
	for {
		rm.mu.Lock()
		n := paceChunk
		if ln.rush {
			n = 0
		}
		taken := ln.take(n)
		if len(taken) == 0 {
			if rm.lanes[ln.to] == ln {
				delete(rm.lanes, ln.to)
				if len(rm.lanes) == 0 {
					rm.lanes = nil
				}
			}
			rm.mu.Unlock()
			return
		}
		rush, overflowed := ln.rush, ln.overflowed
		ln.overflowed = false
		rm.mu.Unlock()
		batch := ln.render(taken)
		if overflowed {
			m.log.Warn("muc: pacing the occupant list stopped, too much queued for the session", "room", rm.jid, "to", ln.to, "max_bytes", ln.max)
		}
		for _, st := range batch {
			m.host.Route(ctx, st)
			if rush {
				continue
			}
			if b, ok := ln.sess.Backlog(); ok && b.Above(paceHigh) && !m.pace(ctx, ln.sess) {
				m.log.Warn("muc: the session takes nothing of the occupant list; the rest goes at once", "room", rm.jid, "to", ln.to)
				rush = true
				rm.mu.Lock()
				ln.rush = true
				rm.mu.Unlock()
			}
		}
	}
}

// pace waits until s's backlog is back under paceLow of its limits. It
// reports false when the backlog did not shrink for paceStall, or ctx
// ended.
func (m *Module) pace(ctx context.Context, s *session.Session) bool {
	return s.AwaitBacklog(ctx, paceLow, paceTick, paceStall)
}
