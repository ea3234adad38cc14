package muc

import (
	"context"

	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// outbox holds, in order, the stanzas a room decided to send while its
// lock was held. They are routed only after the lock is released
// (Module.release): a delivery runs other modules' hooks, which may send
// to the room again (a PEP notification to an occupant JID, an error
// bounced by a recipient), and must find the room unlocked.
//
// One goroutine at a time routes a room's outbox (flushing), so every
// occupant sees the room's stanzas in the order the room decided them; a
// goroutine that finds another one routing leaves its stanzas to it.
type outbox struct {
	q        []*stanza.Element
	bytes    int // estimated serialised size of q
	flushing bool
	// spare is the last routed batch, emptied, kept for the next one so
	// that a busy room does not grow a new queue for every stanza.
	spare []*stanza.Element
}

// maxSpare bounds the capacity of the batch a room keeps for reuse.
const maxSpare = 1 << 12

// postTo queues a copy of proto addressed to 'to'; protoSize is proto's
// estimated size.
func (rm *room) postTo(proto *stanza.Element, protoSize int, to string) {
	rm.post(addressed(proto, to), protoSize+len(to)+6)
}

// backlog reports the estimated size of what the room has decided to send
// and not routed yet. The caller holds rm.mu.
func (rm *room) backlog() int { return rm.out.bytes }

// release unlocks a room and routes what it queued meanwhile. A
// persistent room left without occupants leaves memory first when
// nothing is lost by it (see evictable): the next stanza to it loads it
// again.
func (m *Module) release(ctx context.Context, rm *room) {
	if m.evictable(rm) {
		m.close(rm)
	} else if m.cl != nil && !rm.closed && announces(rm.out.q) {
		// An occupant came, went or changed: saved for the cluster.
		m.cl.touch(rm.jid)
	}
	if len(rm.out.q) == 0 || rm.out.flushing {
		rm.mu.Unlock()
		return
	}
	rm.out.flushing = true
	// Routing serves the room, not the request that happened to flush it:
	// a cancelled request must not cut the room's deliveries short.
	ctx = context.WithoutCancel(ctx)
	for len(rm.out.q) > 0 {
		batch := rm.out.q
		rm.out.q, rm.out.spare, rm.out.bytes = rm.out.spare[:0], nil, 0
		rm.mu.Unlock()
		for i, st := range batch {
			m.host.Route(ctx, st)
			batch[i] = nil
		}
		rm.mu.Lock()
		if cap(batch) <= maxSpare {
			rm.out.spare = batch[:0]
		}
	}
	rm.out.flushing = false
	rm.mu.Unlock()
}

// approxSize estimates an element's serialised size without serialising
// it: names, attributes and text, before escaping.
func approxSize(el *stanza.Element) int {
	if el == nil {
		return 0
	}
	n := 2*len(el.Name.Local) + 5
	if el.Name.Space != "" {
		n += len(el.Name.Space) + 9
	}
	for _, a := range el.Attr {
		n += len(a.Name.Local) + len(a.Value) + 4
	}
	for _, c := range el.Children {
		if c.Elem != nil {
			n += approxSize(c.Elem)
		} else {
			n += len(c.Text)
		}
	}
	return n
}

// evictable reports whether a room may leave memory: a persistent room,
// stored, without occupants, whose history is empty or comes back from
// its archive when it is loaded again. So an idle persistent room costs
// no memory, however many there are. The caller holds rm.mu.
func (m *Module) evictable(rm *room) bool {
	return !rm.closed && len(rm.occ) == 0 && !rm.locked && rm.cfg.Persistent && rm.persisted && !rm.keyUnsaved &&
		(m.archiving(rm) || len(rm.hist.entries) == 0)
}
