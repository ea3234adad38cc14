package session

import (
	"strconv"
	"sync"

	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// maxSharedPresenceBytes is the largest presence (its key's size) a
// PresenceShare keeps: larger ones, rare and seldom alike, are stored by
// each session as they are.
const maxSharedPresenceBytes = 1024

// PresenceShare keeps one copy of each distinct stored presence, so that
// the sessions that sent the same one (most clients send an empty
// <presence/> or the same few children, with the same avatar hash per
// account at most) hold one element between them instead of one each:
// every available session keeps its presence for as long as it is
// online. The copies are bounded in number (the limit given to
// NewPresenceShare) and in size (maxSharedPresenceBytes each); when the
// table is full it starts over (the sessions keep the elements they
// have). Elements kept are shared and never modified.
type PresenceShare struct {
	mu  sync.Mutex
	max int
	m   map[string]*stanza.Element
}

// NewPresenceShare returns a table of at most max distinct presences; nil
// (sharing nothing) when max is 0 or less.
func NewPresenceShare(max int) *PresenceShare {
	if max <= 0 {
		return nil
	}
	return &PresenceShare{max: max, m: make(map[string]*stanza.Element)}
}

// share returns the kept element equal to p (the same names, namespaces,
// attributes in order and children), keeping p if there is none.
func (ps *PresenceShare) share(p *stanza.Element) *stanza.Element {
	if ps == nil {
		return p
	}
	var arr [256]byte
	k, ok := appendShareKey(arr[:0], p)
	if !ok {
		return p
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if q := ps.m[string(k)]; q != nil {
		return q
	}
	if len(ps.m) >= ps.max {
		clear(ps.m)
	}
	ps.m[string(k)] = p
	return p
}

// len is the number of presences kept (for tests).
func (ps *PresenceShare) len() int {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return len(ps.m)
}

// appendShareKey appends an exact description of e to buf: every name
// with its namespace, every attribute, every child, each length-prefixed
// (unlike the XML, which does not say whether a content namespace is
// jabber:client or jabber:server). It reports false past
// maxSharedPresenceBytes.
func appendShareKey(buf []byte, e *stanza.Element) ([]byte, bool) {
	str := func(s string) {
		buf = strconv.AppendInt(buf, int64(len(s)), 10)
		buf = append(buf, ':')
		buf = append(buf, s...)
	}
	var walk func(e *stanza.Element) bool
	walk = func(e *stanza.Element) bool {
		buf = append(buf, '<')
		str(e.Name.Space)
		str(e.Name.Local)
		for _, a := range e.Attr {
			buf = append(buf, '@')
			str(a.Name.Space)
			str(a.Name.Local)
			str(a.Value)
		}
		for _, n := range e.Children {
			if n.Elem != nil {
				if !walk(n.Elem) {
					return false
				}
			} else {
				buf = append(buf, '#')
				str(n.Text)
			}
			if len(buf) > maxSharedPresenceBytes {
				return false
			}
		}
		buf = append(buf, '>')
		return len(buf) <= maxSharedPresenceBytes
	}
	ok := walk(e)
	return buf, ok
}
