package muc

import (
	"time"

	"github.com/parley-xmpp/parley/xmpp/muc"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// histEntry is one message of the discussion history: the broadcast
// message without 'to', with its <delay/> already added.
type histEntry struct {
	msg   *stanza.Element
	at    time.Time
	chars int // length of its serialisation, for maxchars
}

// history is a bounded log of a room's recent messages.
type history struct {
	limit   int
	entries []histEntry
}

// add records a message, dropping the oldest beyond the limit.
func (h *history) add(msg *stanza.Element, at time.Time) {
	if h.limit <= 0 {
		h.entries = nil
		return
	}
	e := histEntry{msg: msg, at: at, chars: len(msg.Bytes())}
	if len(h.entries) >= h.limit {
		n := copy(h.entries, h.entries[len(h.entries)-h.limit+1:])
		clear(h.entries[n:])
		h.entries = h.entries[:n]
	}
	h.entries = append(h.entries, e)
}

// setLimit changes the bound, dropping what no longer fits.
func (h *history) setLimit(n int) {
	h.limit = n
	if over := len(h.entries) - max(n, 0); over > 0 {
		n := copy(h.entries, h.entries[over:])
		clear(h.entries[n:])
		h.entries = h.entries[:n]
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
