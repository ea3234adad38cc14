package stanzaid

import (
	"crypto/rand"
	"encoding/base64"

	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// NS is the stanza ID namespace (XEP-0359).
const NS = "urn:xmpp:sid:0"

// StanzaID is a <stanza-id/>: an ID assigned by the entity By.
type StanzaID struct {
	ID string
	By string
}

// Element encodes s.
func (s StanzaID) Element() *stanza.Element {
	return stanza.New(NS, "stanza-id", "id", s.ID, "by", s.By)
}

// New returns an unpredictable ID (128 random bits, URL-safe base64), as
// XEP-0359 §4 rule 1 asks.
func New() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Find returns the ID the entity by assigned to msg (a direct child, as
// §4 rule 4 places it), or "".
func Find(msg *stanza.Element, by string) string {
	for _, c := range msg.ChildrenNamed(NS, "stanza-id") {
		if c.Get("by") == by {
			return c.Get("id")
		}
	}
	return ""
}

// All returns every <stanza-id/> child of msg.
func All(msg *stanza.Element) []StanzaID {
	var out []StanzaID
	for _, c := range msg.ChildrenNamed(NS, "stanza-id") {
		out = append(out, StanzaID{ID: c.Get("id"), By: c.Get("by")})
	}
	return out
}

// OriginID returns the client-set <origin-id/>, or "".
func OriginID(msg *stanza.Element) string {
	if c := msg.Child(NS, "origin-id"); c != nil {
		return c.Get("id")
	}
	return ""
}

// Strip removes, in place, every <stanza-id/> child whose 'by' own
// reports as the stripping entity's own address (§4 rule 2) and reports
// how many it removed. Callers that share msg must strip a clone: see
// [NeedsStrip].
func Strip(msg *stanza.Element, own func(by string) bool) int {
	if !NeedsStrip(msg, own) {
		return 0
	}
	var others []*stanza.Element
	for _, c := range msg.ChildrenNamed(NS, "stanza-id") {
		if !own(c.Get("by")) {
			others = append(others, c)
		}
	}
	n := msg.RemoveChildren(NS, "stanza-id") - len(others)
	msg.Append(others...)
	return n
}

// NeedsStrip reports whether msg holds a <stanza-id/> own claims.
func NeedsStrip(msg *stanza.Element, own func(by string) bool) bool {
	for _, c := range msg.ChildrenNamed(NS, "stanza-id") {
		if own(c.Get("by")) {
			return true
		}
	}
	return false
}

// Add appends a <stanza-id/> to msg in place, first removing any other
// child with the same 'by' (§4 rule 4: at most one per 'by').
func Add(msg *stanza.Element, id StanzaID) {
	Strip(msg, func(by string) bool { return by == id.By })
	msg.Append(id.Element())
}
