package router

import (
	"fmt"

	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// discoKey names a disco node of a target.
type discoKey struct {
	target module.Target
	node   string
}

// discoExtras are the service discovery nodes and extended information
// forms (XEP-0128) modules registered; filled during registration,
// read-only afterwards.
type discoExtras struct {
	nodes        map[discoKey]module.DiscoNode
	forms        map[module.Target][]*stanza.Element
	accountItems []module.AccountItemsFunc
}

func (g *registration) AccountItems(fn module.AccountItemsFunc) {
	g.r.disco.accountItems = append(g.r.disco.accountItems, fn)
}

// AccountItems returns what modules add to an account's disco#items.
func (r *Router) AccountItems() []module.AccountItemsFunc { return r.disco.accountItems }

func (g *registration) DiscoForm(t module.Target, form *stanza.Element) {
	d := &g.r.disco
	if d.forms == nil {
		d.forms = make(map[module.Target][]*stanza.Element)
	}
	d.forms[t] = append(d.forms[t], form)
}

func (g *registration) DiscoNode(t module.Target, node string, n module.DiscoNode) {
	d := &g.r.disco
	if d.nodes == nil {
		d.nodes = make(map[discoKey]module.DiscoNode)
	}
	k := discoKey{t, node}
	if _, dup := d.nodes[k]; dup || node == "" {
		g.r.regErrs = append(g.r.regErrs, fmt.Errorf("disco node %q for target %d registered twice or empty", node, t))
		return
	}
	d.nodes[k] = n
}

// DiscoForms returns the extended information forms of a target.
func (r *Router) DiscoForms(t module.Target) []*stanza.Element { return r.disco.forms[t] }

// DiscoNode returns the handler of a disco node of a target.
func (r *Router) DiscoNode(t module.Target, node string) (module.DiscoNode, bool) {
	n, ok := r.disco.nodes[discoKey{t, node}]
	return n, ok
}
