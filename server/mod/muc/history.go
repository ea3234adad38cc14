package muc

import (
	"time"

	"github.com/parley-xmpp/parley/xmpp/muc"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stanzaid"
)

// histEntry is one message of the discussion history: the broadcast
// message without 'to', with its <delay/> already added.
type histEntry struct {
	msg   *stanza.Element
	at    time.Time
	chars int // length of its serialisation, for maxchars
}

// history is a log of a room's recent messages, bounded in messages
// (limit) and in bytes (maxBytes, the sum of their serialised sizes).
type history struct {
	limit    int
	maxBytes int
	bytes    int
	entries  []histEntry
}

// add records a message, dropping the oldest beyond either bound. A
// message larger than maxBytes on its own is not kept, and neither is
// what came before it: the history stays the latest stretch of the
// discussion, without gaps.
func (h *history) add(msg *stanza.Element, at time.Time) {
	if h.limit <= 0 || h.maxBytes <= 0 {
		h.dropOldest(len(h.entries))
		return
	}
	e := histEntry{msg: msg, at: at, chars: len(msg.Bytes())}
	if e.chars > h.maxBytes {
		h.dropOldest(len(h.entries))
		return
	}
	k := max(len(h.entries)+1-h.limit, 0)
	bytes := h.bytes + e.chars
	for _, old := range h.entries[:k] {
		bytes -= old.chars
	}
	for ; bytes > h.maxBytes && k < len(h.entries); k++ {
		bytes -= h.entries[k].chars
	}
	h.dropOldest(k)
	h.entries = append(h.entries, e)
	h.bytes += e.chars
}

// dropOldest forgets the n oldest messages.
func (h *history) dropOldest(n int) {
	if n <= 0 {
		return
	}
	for _, e := range h.entries[:n] {
		h.bytes -= e.chars
	}
	k := copy(h.entries, h.entries[n:])
	clear(h.entries[k:])
	h.entries = h.entries[:k]
}

// find returns the index of the message with the stanza-id id given by
// by, or -1.
func (h *history) find(by, id string) int {
	for i := len(h.entries) - 1; i >= 0; i-- {
		if stanzaid.Find(h.entries[i].msg, by) == id {
			return i
		}
	}
	return -1
}

// replace puts msg in place of message i (a tombstone), keeping its time.
func (h *history) replace(i int, msg *stanza.Element) {
	n := len(msg.Bytes())
	h.bytes += n - h.entries[i].chars
	h.entries[i].msg, h.entries[i].chars = msg, n
	k := 0
	for bytes := h.bytes; bytes > h.maxBytes && k < len(h.entries); k++ {
		bytes -= h.entries[k].chars
	}
	h.dropOldest(k)
}

// setLimit changes the bound in messages, dropping what no longer fits.
func (h *history) setLimit(n int) {
	h.limit = n
	if over := len(h.entries) - max(n, 0); over > 0 {
		h.dropOldest(over)
	}
}

// select returns the newest messages that satisfy every limit of the
// request (XEP-0045 §7.2.15), oldest first; def is the room's default
// number of messages when the request sets no limit on stanzas.
func (h *history) pick(req muc.History, def int, now time.Time) []histEntry {
	n := def
	if req.MaxStanzas >= 0 {
		n = min(req.MaxStanzas, def)
	}
	if req.MaxChars == 0 || n <= 0 {
		return nil
	}
	chars := 0
	start := len(h.entries)
	for i := len(h.entries) - 1; i >= 0 && len(h.entries)-i <= n; i-- {
		e := h.entries[i]
		if req.Seconds >= 0 && now.Sub(e.at) > time.Duration(req.Seconds)*time.Second {
			break
		}
		if !req.Since.IsZero() && !e.at.After(req.Since) {
			break
		}
		if req.MaxChars > 0 {
			chars += e.chars
			if chars > req.MaxChars {
				break
			}
		}
		start = i
	}
	return h.entries[start:]
}

// delayed returns the history copy of a broadcast message: 'to' removed
// and a XEP-0203 <delay/> from the room.
func delayed(msg *stanza.Element, room string, at time.Time) *stanza.Element {
	c := &stanza.Element{Name: msg.Name}
	for _, a := range msg.Attr {
		if a.Name.Space == "" && a.Name.Local == "to" {
			continue
		}
		c.Attr = append(c.Attr, a)
	}
	c.Children = append(make([]stanza.Node, 0, len(msg.Children)+1), msg.Children...)
	c.Append(stanza.New(muc.NSDelay, "delay", "from", room, "stamp", at.UTC().Format(time.RFC3339Nano)))
	return c
}
