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
}

// ListenerComponent is the listener of external components (XEP-0114);
// with components configured and no such listener, one listens on
// DefaultComponentAddress.
const ListenerComponent ListenerType = "component"

// DefaultComponentAddress is where components connect when no component
// listener is configured: the loopback address only.
const DefaultComponentAddress = "127.0.0.1:5347"

// components decodes the components list.
func (d *decoder) components(at, n *yaml.Node, key string, c *Config) {
	list, before := []Component{}, len(d.errs)
	ok := d.sequence(at, n, key, func(_ int, it *yaml.Node, ik string) {
		var comp Component
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
			"secret": func(at, v *yaml.Node, k string) { d.str(at, v, k, &comp.Secret) },
		})
		list = append(list, comp)
	})
	if ok && len(d.errs) == before {
		c.Components = list
	}
}

// componentProblems validates the components against the rest.
func (c *Config) componentProblems(add func(key, format string, args ...any)) {
	seen := map[string]bool{}
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
	}
}
