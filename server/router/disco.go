package router

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/xmpp/form"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// discoKey names a disco node of a target.
type discoKey struct {
	target module.Target
	node   string
}

// discoExtras are the service discovery nodes and extended information
// forms (XEP-0128) modules registered, and what is nested in the
// targets' disco#info at run time (module.Host.NestDisco).
type discoExtras struct {
	// Filled during registration, read-only afterwards.
	nodes        map[discoKey]module.DiscoNode
	accountItems []module.AccountItemsFunc

	// mu guards what the views are built from: the modules' identities,
	// features and forms (written during registration) and the nested
	// entries (written at any time). Readers never take it: they load
	// views, rebuilt whole under mu on every change.
	mu     sync.Mutex
	forms  map[module.Target][]*stanza.Element
	nested map[discoKey]*module.NestedDisco // node: the namespace
	gen    uint64
	views  atomic.Pointer[map[module.Target]*module.DiscoView]
}

func (g *registration) AccountItems(fn module.AccountItemsFunc) {
	g.r.disco.accountItems = append(g.r.disco.accountItems, fn)
}

// AccountItems returns what modules add to an account's disco#items.
func (r *Router) AccountItems() []module.AccountItemsFunc { return r.disco.accountItems }

func (g *registration) Feature(t module.Target, feature string) {
	r := g.r
	r.disco.mu.Lock()
	defer r.disco.mu.Unlock()
	if !slices.Contains(r.features[t], feature) {
		r.features[t] = append(r.features[t], feature)
		sort.Strings(r.features[t])
		r.rebuildDisco()
	}
}

func (g *registration) Identity(t module.Target, id module.Identity) {
	r := g.r
	r.disco.mu.Lock()
	defer r.disco.mu.Unlock()
	r.identities[t] = append(r.identities[t], id)
	r.rebuildDisco()
}

func (g *registration) DiscoForm(t module.Target, form *stanza.Element) {
	d := &g.r.disco
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.forms == nil {
		d.forms = make(map[module.Target][]*stanza.Element)
	}
	d.forms[t] = append(d.forms[t], form)
	g.r.rebuildDisco()
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

// DiscoNode returns the handler of a disco node of a target.
func (r *Router) DiscoNode(t module.Target, node string) (module.DiscoNode, bool) {
	n, ok := r.disco.nodes[discoKey{t, node}]
	return n, ok
}

// DiscoView returns what a target's disco#info lists now
// (module.Host.DiscoView).
func (r *Router) DiscoView(t module.Target) *module.DiscoView {
	if views := r.disco.views.Load(); views != nil {
		if v := (*views)[t]; v != nil {
			return v
		}
	}
	return &module.DiscoView{}
}

// DiscoInfo returns the identities and features a target's disco#info
// lists now.
func (r *Router) DiscoInfo(t module.Target) ([]module.Identity, []string) {
	v := r.DiscoView(t)
	return v.Identities, v.Features
}

// DiscoForms returns the extended information forms a target's
// disco#info lists now.
func (r *Router) DiscoForms(t module.Target) []*stanza.Element { return r.DiscoView(t).Forms }

// NestDisco replaces what a target's disco#info lists for a namespace
// (module.Host.NestDisco).
func (r *Router) NestDisco(t module.Target, namespace string, n *module.NestedDisco) {
	d := &r.disco
	d.mu.Lock()
	defer d.mu.Unlock()
	k := discoKey{t, namespace}
	if n == nil {
		if _, ok := d.nested[k]; !ok {
			return
		}
		delete(d.nested, k)
	} else {
		if d.nested == nil {
			d.nested = make(map[discoKey]*module.NestedDisco)
		}
		d.nested[k] = n
	}
	r.rebuildDisco()
}

// rebuildDisco builds every target's view afresh and publishes them;
// d.mu is held.
func (r *Router) rebuildDisco() {
	d := &r.disco
	d.gen++
	targets := map[module.Target]bool{}
	for t := range r.features {
		targets[t] = true
	}
	for t := range r.identities {
		targets[t] = true
	}
	for t := range d.forms {
		targets[t] = true
	}
	for k := range d.nested {
		targets[k.target] = true
	}
	views := make(map[module.Target]*module.DiscoView, len(targets))
	for t := range targets {
		views[t] = r.buildView(t)
	}
	d.views.Store(&views)
}

// buildView merges the modules' disco#info of a target with what is
// nested in it, in namespace order; d.mu is held.
func (r *Router) buildView(t module.Target) *module.DiscoView {
	d := &r.disco
	var spaces []string
	for k := range d.nested {
		if k.target == t {
			spaces = append(spaces, k.node)
		}
	}
	sort.Strings(spaces)
	nestedBy := func(feature string) bool {
		for _, ns := range spaces {
			if feature == ns || strings.HasPrefix(feature, ns+"#") {
				return true
			}
		}
		return false
	}
	v := &module.DiscoView{Gen: d.gen}
	for _, id := range r.identities[t] {
		v.Identities = appendNew(v.Identities, id)
	}
	for _, f := range r.features[t] {
		if !nestedBy(f) {
			v.Features = append(v.Features, f)
		}
	}
	typed := map[string]bool{}
	addForm := func(x *stanza.Element) {
		typ := formType(x)
		if typ != "" && typed[typ] {
			return // XEP-0115 §5.4: one form of a FORM_TYPE
		}
		typed[typ] = typ != ""
		v.Forms = append(v.Forms, x)
	}
	for _, x := range d.forms[t] {
		if typ := formType(x); typ == "" || !slices.Contains(spaces, typ) {
			addForm(x)
		}
	}
	for _, ns := range spaces {
		n := d.nested[discoKey{t, ns}]
		for _, id := range n.Identities {
			v.Identities = appendNew(v.Identities, id)
		}
		for _, f := range n.Features {
			v.Features = appendNew(v.Features, f)
		}
		for _, x := range n.Forms {
			addForm(x)
		}
	}
	sort.Strings(v.Features)
	return v
}

// appendNew appends x to s unless s has it.
func appendNew[T comparable](s []T, x T) []T {
	if slices.Contains(s, x) {
		return s
	}
	return append(s, x)
}

// formType returns the FORM_TYPE of a data form element, or "".
func formType(x *stanza.Element) string {
	for _, fl := range x.Elements() {
		if fl.Name.Local == "field" && fl.Get("var") == form.FormTypeVar {
			for _, val := range fl.Elements() {
				if val.Name.Local == "value" {
					return val.Text()
				}
			}
		}
	}
	return ""
}
