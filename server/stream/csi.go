package stream

// Client State Indication (XEP-0352). While the client says it is
// inactive, stanzas that can wait are held in the session's queue instead
// of being written: of the available/unavailable presences of one contact
// (full JID) only the latest is kept, chat states, receipts and other
// messages without a body wait, up to CSI.MaxHeld stanzas or half the
// session's byte budget (Limits.OutboundQueueBytes). An urgent stanza (a
// message with a body, a call invitation of XEP-0353, an invitation to a
// room, a block of an in-band bytestream of XEP-0047 — a transfer the
// client accepted, which holding would stall —, any IQ) first releases everything held, in order, then goes out;
// <active/> releases everything too, before the next element of the
// stream is processed (XEP-0352 §3.1). Held stanzas count as undelivered:
// when the session ends they are handed back like any other.

import (
	"github.com/parley-xmpp/parley/xmpp/stanza"
	xstream "github.com/parley-xmpp/parley/xmpp/stream"
)

// Namespaces CSI looks at.
const (
	nsCSI           = "urn:xmpp:csi:0"
	nsJingleMessage = "urn:xmpp:jingle-message:0"
	nsIBB           = "http://jabber.org/protocol/ibb"
	nsCarbons       = "urn:xmpp:carbons:2"
	nsForward       = "urn:xmpp:forward:0"
	nsMUCUser       = "http://jabber.org/protocol/muc#user"
	nsConference    = "jabber:x:conference"
)

// csiState is the session's CSI state, guarded by outQueue.mu.
type csiState struct {
	inactive bool
	held     []*stanza.Element // nil entries: presences superseded since
	latest   map[string]int    // full JID of a contact → index of its presence in held
}

// handleCSI handles <active/> and <inactive/>.
func (c *conn) handleCSI(el *stanza.Element) error {
	if c.cfg.CSI.Disabled {
		return &xstream.Error{Condition: xstream.UnsupportedStanzaType, Text: "client state indication is not offered"}
	}
	if c.ph != phaseBound {
		return &xstream.Error{Condition: xstream.UnsupportedStanzaType, Text: "client state indication before resource binding"}
	}
	switch el.Name.Local {
	case "active":
		c.setCSI(true)
	case "inactive":
		c.setCSI(false)
	default:
		return &xstream.Error{Condition: xstream.UnsupportedStanzaType, Text: "unexpected element " + el.Name.Local}
	}
	return nil
}

// setCSI records the client's state; becoming active releases what was
// held, queued ahead of anything delivered afterwards.
func (c *conn) setCSI(active bool) {
	q := &c.out
	q.mu.Lock()
	defer q.mu.Unlock()
	if active {
		q.csi.inactive = false
		c.releaseHeldLocked()
		return
	}
	q.csi.inactive = true
}

// releaseHeldLocked moves the held stanzas to the write queue. q.mu is
// held.
func (c *conn) releaseHeldLocked() {
	q := &c.out
	if len(q.csi.held) == 0 {
		return
	}
	q.items = appendStanzas(q.items, q.csi.held)
	clear(q.csi.held)
	q.csi.held = q.csi.held[:0]
	clear(q.csi.latest)
	c.kickLocked()
}

// holdLocked holds st (already counted in the queue's bytes) while the
// client is inactive and reports whether it did; an urgent stanza
// releases what is held first. q.mu is held.
func (c *conn) holdLocked(st *stanza.Element) bool {
	h := &c.out.csi
	if !h.inactive {
		return false
	}
	// Reaching either bound releases what is held: the client gets it,
	// and a client that then does not read is a slow consumer like any
	// other, not an inactive one.
	q := &c.out
	if urgent(st) || len(h.held) >= c.cfg.CSI.MaxHeld || (q.maxBytes > 0 && q.bytes > q.maxBytes/2) {
		c.releaseHeldLocked()
		return false
	}
	if stanza.KindOf(st) == stanza.KindPresence && (st.Type() == "" || st.Type() == stanza.TypeUnavailable) {
		if from := st.From(); from != "" {
			if i, ok := h.latest[from]; ok {
				if old := h.held[i]; old != nil {
					c.out.bytes -= stanzaCost(old) // superseded: no longer held
				}
				h.held[i] = nil
			}
			if h.latest == nil {
				h.latest = make(map[string]int)
			}
			h.latest[from] = len(h.held)
		}
	}
	h.held = append(h.held, st)
	return true
}

// urgent reports whether a stanza must reach an inactive client at once.
func urgent(st *stanza.Element) bool {
	switch stanza.KindOf(st) {
	case stanza.KindPresence:
		return false
	case stanza.KindMessage:
		return urgentMessage(st, 0)
	}
	return true
}

// urgentMessage reports whether a message carries a body, a call
// invitation (XEP-0353), a room invitation or in-band bytestream data
// (XEP-0047 §3), directly or as a carbon copy (XEP-0280).
func urgentMessage(m *stanza.Element, depth int) bool {
	if m.Child(stanza.NSClient, "body") != nil {
		return true
	}
	for _, ch := range m.Elements() {
		switch ch.Name.Space {
		case nsJingleMessage:
			return true
		case nsIBB:
			return ch.Name.Local == "data"
		case nsConference:
			return ch.Name.Local == "x"
		case nsMUCUser:
			if ch.Child(nsMUCUser, "invite") != nil {
				return true
			}
		case nsCarbons:
			if depth > 0 {
				continue
			}
			if f := ch.Child(nsForward, "forwarded"); f != nil {
				if inner := f.Child(stanza.NSClient, "message"); inner != nil && urgentMessage(inner, depth+1) {
					return true
				}
			}
		}
	}
	return false
}
