package cluster

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/parley-xmpp/parley/server/session"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// entry is the value of a session's key in the sessions bucket.
type entry struct {
	// Node holds the session; Inc is the node's incarnation (the entry
	// is stale once the node restarted).
	Node string `json:"n"`
	Inc  string `json:"i"`
	// Available and Priority are the session's presence state; Presence
	// its last available presence, serialised.
	Available bool   `json:"a,omitempty"`
	Priority  int    `json:"p,omitempty"`
	Presence  string `json:"x,omitempty"`
	// Flags are the session's flags (session.Session.Flags).
	Flags []string `json:"f,omitempty"`
}

// maxEntryBytes bounds an entry: a presence of the largest stanza the
// server accepts fits.
const maxEntryBytes = 300 << 10

// entryOf describes a local session.
func entryOf(s *session.Session, node, inc string) entry {
	e := entry{Node: node, Inc: inc, Available: s.Available(), Priority: s.Priority(), Flags: s.Flags()}
	if p := s.Presence(); p != nil && e.Available {
		e.Presence = string(p.Bytes())
	}
	return e
}

func (e entry) marshal() []byte {
	b, _ := json.Marshal(e) // strings, ints and booleans: cannot fail
	return b
}

// parseEntry decodes an entry and the presence it carries (nil if none).
func parseEntry(b []byte) (entry, *stanza.Element, error) {
	var e entry
	if len(b) > maxEntryBytes {
		return e, nil, fmt.Errorf("cluster: entry of %d bytes", len(b))
	}
	if err := json.Unmarshal(b, &e); err != nil {
		return e, nil, fmt.Errorf("cluster: entry: %w", err)
	}
	if e.Node == "" || e.Inc == "" {
		return e, nil, errors.New("cluster: entry without node")
	}
	if len(e.Flags) > session.MaxFlags {
		return e, nil, fmt.Errorf("cluster: entry with %d flags", len(e.Flags))
	}
	if e.Presence == "" {
		return e, nil, nil
	}
	p, err := parseStanza([]byte(e.Presence), maxEntryBytes)
	if err != nil {
		return e, nil, fmt.Errorf("cluster: entry presence: %w", err)
	}
	if p.Name.Local != "presence" {
		return e, nil, fmt.Errorf("cluster: entry presence is a <%s/>", p.Name.Local)
	}
	return e, p, nil
}

// Stanzas travel in the jabber:client scope (stanza.Element.Bytes, so a
// stanza already serialised for local recipients is not serialised
// again), inside a wrapper that declares that namespace.
const (
	wrapOpen  = `<c xmlns="jabber:client">`
	wrapClose = `</c>`
)

// appendWrapped appends st, wrapped, to buf.
func appendWrapped(buf []byte, st *stanza.Element) []byte {
	buf = append(buf, wrapOpen...)
	buf = append(buf, st.Bytes()...)
	return append(buf, wrapClose...)
}

// parseStanza parses what appendWrapped wrote, or a bare stanza
// serialised in the jabber:client scope.
func parseStanza(b []byte, max int) (*stanza.Element, error) {
	if !strings.HasPrefix(string(b), wrapOpen) {
		b = append(append([]byte(wrapOpen), b...), wrapClose...)
	}
	w, err := stream.ParseElement(b, stream.Limits{MaxStanzaBytes: max + len(wrapOpen) + len(wrapClose)})
	if err != nil {
		return nil, err
	}
	if w.Name.Space != stanza.NSClient || w.Name.Local != "c" {
		return nil, errors.New("cluster: not a wrapped stanza")
	}
	var st *stanza.Element
	for _, n := range w.Children {
		switch {
		case n.Elem == nil:
			if strings.TrimSpace(n.Text) != "" {
				return nil, errors.New("cluster: text beside the stanza")
			}
		case st != nil:
			return nil, errors.New("cluster: more than one stanza")
		default:
			st = n.Elem
		}
	}
	if st == nil {
		return nil, errors.New("cluster: no stanza")
	}
	return st, nil
}

// keyOf is the key of a full JID in the sessions bucket:
// <bare>.<resource>, each base64url without padding (keys allow letters,
// digits, '-', '_', '=', '.' and '/').
func keyOf(full jid.JID) string {
	b := base64.RawURLEncoding
	return b.EncodeToString([]byte(full.Bare().String())) + "." + b.EncodeToString([]byte(full.Resource()))
}

// jidOfKey is keyOf's inverse; it fails on anything keyOf does not make.
func jidOfKey(key string) (jid.JID, error) {
	bare, res, ok := strings.Cut(key, ".")
	if !ok {
		return jid.JID{}, fmt.Errorf("cluster: key %q", key)
	}
	b := base64.RawURLEncoding
	bb, err1 := b.DecodeString(bare)
	rb, err2 := b.DecodeString(res)
	if err := errors.Join(err1, err2); err != nil {
		return jid.JID{}, fmt.Errorf("cluster: key %q: %w", key, err)
	}
	j, err := jid.Parse(string(bb) + "/" + string(rb))
	if err != nil {
		return jid.JID{}, fmt.Errorf("cluster: key %q: %w", key, err)
	}
	if j.Local() == "" || j.Resource() == "" || keyOf(j) != key {
		return jid.JID{}, fmt.Errorf("cluster: key %q is not a normalised full JID", key)
	}
	return j, nil
}
