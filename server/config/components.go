package config

import (
	"slices"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// Component is an external component (XEP-0114) allowed to connect.
type Component struct {
	// Domain is the component's domain, e.g. irc.example.org. Key
	// "domain".
	Domain string
	// Secret is its shared secret. Key "secret".
	Secret string
	// Privileges are what it may do for the users of the served domains
	// (XEP-0356). Key "privileges".
	Privileges Privileges
	// Delegations are the namespaces whose IQs to the server and to the
	// users' bare JIDs are handed to the component (XEP-0355, admin
	// mode). Key "delegations".
	Delegations []string
}

// Access values of Privileges.Roster and Privileges.IQ (XEP-0356 §4.1,
// §6.1).
const (
	AccessNone = "none"
	AccessGet  = "get"
	AccessSet  = "set"
	AccessBoth = "both"
)

// Values of Privileges.Message (XEP-0356 §5.1).
const (
	MessageNone     = "none"
	MessageOutgoing = "outgoing"
)

// Values of Privileges.Presence (XEP-0356 §7.1, §7.4).
const (
	PresenceNone    = "none"
	PresenceManaged = "managed_entity"
	PresenceRoster  = "roster"
)

// Privileges are a component's grants of XEP-0356, each "none" by
// default.
type Privileges struct {
	// Roster: "none", "get", "set" or "both". Key "roster".
	Roster string
	// RosterPush sends the component a roster push for every change of
	// a user's roster. Key "roster_push"; true by default when Roster is
	// "get" or "both".
	RosterPush bool
	// Message: "none" or "outgoing" (send messages from the users' bare
	// JIDs). Key "message".
	Message string
	// Presence: "none", "managed_entity" (the users' presence) or
	// "roster" (also their contacts'). Key "presence".
	Presence string
	// IQ grants, by namespace: "none", "get", "set" or "both". Key
	// "iq".
	IQ map[string]string
}

// ListenerComponent is the listener of external components (XEP-0114);
// with components configured and no such listener, one listens on
// DefaultComponentAddress.
const ListenerComponent ListenerType = "component"

// DefaultComponentAddress is where components connect when no component
// listener is configured: the loopback address only.
const DefaultComponentAddress = "127.0.0.1:5347"

// nsDelegation is XEP-0355's own namespace, which may not be delegated
// (§10 rule 5); nsPrivilege is XEP-0356's, which only the server
// handles.
const (
	nsDelegation = "urn:xmpp:delegation:2"
	nsPrivilege  = "urn:xmpp:privilege:2"
)

// components decodes the components list.
func (d *decoder) components(at, n *yaml.Node, key string, c *Config) {
	list, before := []Component{}, len(d.errs)
	ok := d.sequence(at, n, key, func(_ int, it *yaml.Node, ik string) {
		comp := Component{Privileges: Privileges{Roster: AccessNone, Message: MessageNone, Presence: PresenceNone}}
		d.required(it, ik, []string{"domain", "secret"}, map[string]field{
			"domain": func(at, v *yaml.Node, k string) {
				var s string
				if !d.str(at, v, k, &s) {
					return
				}
				dom, err := NormalizeDomain(s)
				if err != nil {
					d.fail(at, k, "%v", err)
					return
				}
				comp.Domain = dom
			},
			"secret":      func(at, v *yaml.Node, k string) { d.str(at, v, k, &comp.Secret) },
			"privileges":  func(at, v *yaml.Node, k string) { d.privileges(at, v, k, &comp.Privileges) },
			"delegations": func(at, v *yaml.Node, k string) { d.stringList(at, v, k, &comp.Delegations) },
		})
		list = append(list, comp)
	})
	if ok && len(d.errs) == before {
		c.Components = list
	}
}

// privileges decodes a component's privileges.
func (d *decoder) privileges(at, n *yaml.Node, key string, p *Privileges) {
	push := -1 // unset
	d.mapping(at, n, key, map[string]field{
		"roster": func(at, v *yaml.Node, k string) {
			d.oneOf(at, v, k, &p.Roster, AccessNone, AccessGet, AccessSet, AccessBoth)
		},
		"roster_push": func(at, v *yaml.Node, k string) {
			var b bool
			d.boolean(at, v, k, &b)
			push = 0
			if b {
				push = 1
			}
		},
		"message": func(at, v *yaml.Node, k string) { d.oneOf(at, v, k, &p.Message, MessageNone, MessageOutgoing) },
		"presence": func(at, v *yaml.Node, k string) {
			d.oneOf(at, v, k, &p.Presence, PresenceNone, PresenceManaged, PresenceRoster)
		},
		"iq": func(at, v *yaml.Node, k string) {
			p.IQ = map[string]string{}
			d.mappingOr(at, v, k, nil, func(at, v *yaml.Node, k string) {
				var a string
				if d.oneOf(at, v, k, &a, AccessNone, AccessGet, AccessSet, AccessBoth) {
					p.IQ[at.Value] = a
				}
			})
		},
	})
	switch push {
	case -1:
		p.RosterPush = p.Roster == AccessGet || p.Roster == AccessBoth
	default:
		p.RosterPush = push == 1
	}
}

// oneOf decodes a string that must be one of values.
func (d *decoder) oneOf(at, n *yaml.Node, key string, out *string, values ...string) bool {
	var s string
	if !d.str(at, n, key, &s) {
		return false
	}
	if !slices.Contains(values, s) {
		d.fail(at, key, "must be one of %s, not %q", quoteList(values), s)
		return false
	}
	*out = s
	return true
}

// quoteList joins values as "a", "b" or "c".
func quoteList(values []string) string {
	out := ""
	for i, v := range values {
		switch {
		case i == 0:
		case i == len(values)-1:
			out += " or "
		default:
			out += ", "
		}
		out += strconv.Quote(v)
	}
	return out
}

// componentProblems validates the components against the rest.
func (c *Config) componentProblems(add func(key, format string, args ...any)) {
	seen := map[string]bool{}
	delegated := map[string]string{} // namespace → component
	for i, comp := range c.Components {
		key := "components[" + strconv.Itoa(i) + "]"
		switch {
		case slices.Contains(c.Domains, comp.Domain):
			add(key+".domain", "%q is a domain this server serves", comp.Domain)
		case seen[comp.Domain]:
			add(key+".domain", "%q is listed twice", comp.Domain)
		}
		seen[comp.Domain] = true
		if len(comp.Secret) < 8 {
			add(key+".secret", "must be at least 8 characters")
		}
		p := comp.Privileges
		// XEP-0356 §7.4: roster presence needs read access to rosters.
		if p.Presence == PresenceRoster && p.Roster != AccessGet && p.Roster != AccessBoth {
			add(key+".privileges.presence", "%q needs roster: get or both", PresenceRoster)
		}
		// §4.1: no pushes without read access.
		if p.RosterPush && p.Roster != AccessGet && p.Roster != AccessBoth {
			add(key+".privileges.roster_push", "roster pushes need roster: get or both")
		}
		for ns := range p.IQ {
			if ns == "" || ns == nsPrivilege {
				add(key+".privileges.iq", "%q cannot be granted", ns)
			}
		}
		for j, ns := range comp.Delegations {
			dk := key + ".delegations[" + strconv.Itoa(j) + "]"
			switch {
			case ns == "":
				add(dk, "must not be empty")
			case ns == nsDelegation || ns == nsPrivilege:
				// XEP-0355 §10 rule 5.
				add(dk, "%q cannot be delegated", ns)
			case delegated[ns] != "":
				add(dk, "%q is already delegated to %s", ns, delegated[ns])
			default:
				delegated[ns] = comp.Domain
			}
		}
	}
}
