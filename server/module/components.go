package module

import (
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/privilege"
)

// Component is an external component (XEP-0114) as the modules that
// honour its grants see it: what it may do for the users of the served
// domains (XEP-0356) and the namespaces delegated to it (XEP-0355).
type Component struct {
	Domain      string
	Grants      privilege.Grants
	Delegations []string
}

// Components are the configured components.
type Components []Component

// Of returns the component whose domain from belongs to: what a
// component sends carries its domain, which its stream authenticated.
func (cs Components) Of(from jid.JID) (Component, bool) { return cs.Named(from.Domain()) }

// Named returns the component of a domain.
func (cs Components) Named(domain string) (Component, bool) {
	for _, c := range cs {
		if c.Domain == domain {
			return c, true
		}
	}
	return Component{}, false
}

// Grants returns the grants of the component from belongs to; none when
// from is no component's.
func (cs Components) Grants(from jid.JID) privilege.Grants {
	c, _ := cs.Of(from)
	return c.Grants
}
