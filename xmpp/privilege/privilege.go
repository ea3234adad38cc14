package privilege

import (
	"errors"
	"fmt"
	"slices"

	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// Namespaces.
const (
	// NS is the Privileged Entity namespace (XEP-0356).
	NS = "urn:xmpp:privilege:2"
	// NSDelegation is the Namespace Delegation namespace (XEP-0355).
	NSDelegation = "urn:xmpp:delegation:2"
	// NSForward is the Stanza Forwarding namespace (XEP-0297).
	NSForward = "urn:xmpp:forward:0"
)

// Access is a grant on IQs: the roster (XEP-0356 §4.1) or an IQ
// namespace (§6.1).
type Access string

// Access values.
const (
	None Access = "none"
	Get  Access = "get"
	Set  Access = "set"
	Both Access = "both"
)

// Allows reports whether a grants IQ requests of type typ.
func (a Access) Allows(typ string) bool {
	switch typ {
	case stanza.TypeGet:
		return a == Get || a == Both
	case stanza.TypeSet:
		return a == Set || a == Both
	}
	return false
}

// Presence is the presence grant (XEP-0356 §7).
type Presence string

// Presence values.
const (
	PresenceNone Presence = "none"
	// PresenceManaged: the users' own presence.
	PresenceManaged Presence = "managed_entity"
	// PresenceRoster: also their contacts' presence.
	PresenceRoster Presence = "roster"
)

// Grants are what a privileged entity may do.
type Grants struct {
	Roster     Access
	RosterPush bool
	// Message grants sending messages on behalf of the server and its
	// users ("outgoing").
	Message  bool
	Presence Presence
	// IQ grants IQs on behalf of users, by payload namespace.
	IQ map[string]Access
}

// Any reports whether g grants anything.
func (g Grants) Any() bool {
	if g.Roster.Allows(stanza.TypeGet) || g.Roster.Allows(stanza.TypeSet) || g.Message || g.SeesPresence() {
		return true
	}
	for _, a := range g.IQ {
		if a.Allows(stanza.TypeGet) || a.Allows(stanza.TypeSet) {
			return true
		}
	}
	return false
}

// SeesPresence reports whether g grants the users' presence.
func (g Grants) SeesPresence() bool {
	return g.Presence == PresenceManaged || g.Presence == PresenceRoster
}

// Pushes reports whether the entity gets roster pushes (§4.1: only with
// read access).
func (g Grants) Pushes() bool { return g.RosterPush && g.Roster.Allows(stanza.TypeGet) }

func orNone[T ~string](v T, none T) T {
	if v == "" {
		return none
	}
	return v
}

// Element is the <privilege/> element advertising g (§4.2, §5.2, §6.2,
// §7.2): one <perm/> per access, in the order of the XEP's examples.
func (g Grants) Element() *stanza.Element {
	push := "false"
	if g.Pushes() {
		push = "true"
	}
	msg := "none"
	if g.Message {
		msg = "outgoing"
	}
	el := stanza.New(NS, "privilege").Append(
		stanza.New(NS, "perm", "access", "roster", "type", string(orNone(g.Roster, None)), "push", push),
		stanza.New(NS, "perm", "access", "message", "type", msg),
	)
	if len(g.IQ) > 0 {
		perm := stanza.New(NS, "perm", "access", "iq")
		for _, ns := range slices.Sorted(mapKeys(g.IQ)) {
			perm.Append(stanza.New(NS, "namespace", "ns", ns, "type", string(orNone(g.IQ[ns], None))))
		}
		el.Append(perm)
	}
	return el.Append(stanza.New(NS, "perm", "access", "presence", "type", string(orNone(g.Presence, PresenceNone))))
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// ParseGrants reads a <privilege/> advertisement.
func ParseGrants(el *stanza.Element) (Grants, error) {
	g := Grants{Roster: None, Presence: PresenceNone}
	if el == nil || el.Name.Space != NS || el.Name.Local != "privilege" {
		return g, errors.New("privilege: not a <privilege/> element")
	}
	for _, p := range el.ChildrenNamed(NS, "perm") {
		switch p.Get("access") {
		case "roster":
			g.Roster = Access(p.Get("type"))
			g.RosterPush = g.Roster.Allows(stanza.TypeGet)
			if v := p.Get("push"); v != "" {
				g.RosterPush = v == "true" || v == "1"
			}
		case "message":
			g.Message = p.Get("type") == "outgoing"
		case "presence":
			g.Presence = Presence(p.Get("type"))
		case "iq":
			g.IQ = map[string]Access{}
			for _, n := range p.ChildrenNamed(NS, "namespace") {
				g.IQ[n.Get("ns")] = Access(n.Get("type"))
			}
		default:
			return g, fmt.Errorf("privilege: unknown access %q", p.Get("access"))
		}
	}
	return g, nil
}

// Delegation is the <delegation/> element advertising delegated
// namespaces (XEP-0355 §5.2).
func Delegation(namespaces []string) *stanza.Element {
	el := stanza.New(NSDelegation, "delegation")
	for _, ns := range namespaces {
		el.Append(stanza.New(NSDelegation, "delegated", "namespace", ns))
	}
	return el
}

// ParseDelegation returns the namespaces a <delegation/> advertisement
// lists.
func ParseDelegation(el *stanza.Element) []string {
	var out []string
	for _, d := range el.ChildrenNamed(NSDelegation, "delegated") {
		out = append(out, d.Get("namespace"))
	}
	return out
}

// Forward wraps st in a <forwarded/> element inside a wrapper element
// (<privilege/> or <delegation/>) of namespace ns: the shape both XEPs
// use. st keeps its jabber:client namespace.
func Forward(ns string, st *stanza.Element) *stanza.Element {
	return stanza.New(ns, wrapperName(ns)).Append(stanza.New(NSForward, "forwarded").Append(st))
}

func wrapperName(ns string) string {
	if ns == NSDelegation {
		return "delegation"
	}
	return "privilege"
}

// Forwarded returns the stanza a wrapper of namespace ns inside parent
// carries: the one element of <forwarded/>, which must be a jabber:client
// stanza.
func Forwarded(parent *stanza.Element, ns string) (*stanza.Element, error) {
	w := parent.Child(ns, wrapperName(ns))
	if w == nil {
		return nil, fmt.Errorf("privilege: no <%s xmlns='%s'/>", wrapperName(ns), ns)
	}
	f := w.Child(NSForward, "forwarded")
	if f == nil {
		return nil, errors.New("privilege: no <forwarded/>")
	}
	var inner *stanza.Element
	for _, e := range f.Elements() {
		if e.Name.Space == stanza.NSClient && stanza.KindOf(e) != stanza.KindOther {
			if inner != nil {
				return nil, errors.New("privilege: more than one forwarded stanza")
			}
			inner = e
		}
	}
	if inner == nil {
		return nil, errors.New("privilege: <forwarded/> carries no jabber:client stanza")
	}
	return inner, nil
}
