package cluster

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// An external component (XEP-0114) connected to one node serves the
// users of every node: the node holding its connection writes an entry
// in the components bucket (key: the domain, value: the node and its
// incarnation), and the others route stanzas for the domain to that
// node. The entry is deleted when the component disconnects, when the
// node leaves, or by the survivors when the node dies.

// compEntry is the value of a components bucket entry.
type compEntry struct {
	Node string `json:"n"`
	Inc  string `json:"i"`
}

// compState is what this node knows of a component's entry.
type compState struct {
	e       compEntry
	rev     uint64
	created time.Time
	reaped  time.Time
}

// ComponentDeliverer delivers a stanza another node routed to a
// component connected here (its router route), returning what the route
// returns.
type ComponentDeliverer func(ctx context.Context, domain string, st *stanza.Element) error

// SetComponents sets where stanzas other nodes route to components
// connected here go; until it is set they bounce.
func (n *Node) SetComponents(d ComponentDeliverer) { n.deliverComp.Store(&d) }

// ComponentWatch is told, on the bucket's watch goroutine, when a
// component's entry changes: node is the live node (other than this one)
// it is connected to now, or "" when it left the node it was connected
// to (its entry was deleted).
type ComponentWatch func(domain, node string)

// SetComponentWatch sets what is told of components moving between
// nodes.
func (n *Node) SetComponentWatch(w ComponentWatch) { n.compWatch.Store(&w) }

// componentsBucket names the components bucket.
func (n *Node) componentsBucket() string { return n.opts.Name + "_components" }

// compKey is a domain's key in the components bucket.
func compKey(domain string) string { return base64.RawURLEncoding.EncodeToString([]byte(domain)) }

// domainOfKey is the inverse of compKey.
func domainOfKey(k string) (string, error) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(k)
	if err != nil || len(b) == 0 || len(b) > 1023 {
		return "", fmt.Errorf("cluster: component key %q", k)
	}
	return string(b), nil
}

// ComponentConnected records in the cluster that the component of domain
// is connected to this node: the other nodes route its stanzas here.
func (n *Node) ComponentConnected(ctx context.Context, domain string) {
	if n.compKV == nil || n.leaving.Load() {
		return
	}
	b, _ := json.Marshal(compEntry{Node: n.self, Inc: n.inc})
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rev, err := n.compKV.Put(ctx, compKey(domain), b)
	if err != nil {
		n.log.Error("cluster: component not registered; users on other nodes cannot reach it", "domain", domain, "err", err)
		return
	}
	n.mu.Lock()
	n.ownComps[domain] = rev
	n.mu.Unlock()
	n.log.Info("cluster: component registered", "domain", domain)
}

// ComponentDisconnected removes the component's entry, if this node
// wrote the last one.
func (n *Node) ComponentDisconnected(ctx context.Context, domain string) {
	n.mu.Lock()
	rev, ok := n.ownComps[domain]
	delete(n.ownComps, domain)
	n.mu.Unlock()
	if !ok || n.compKV == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := n.compKV.Delete(ctx, compKey(domain), jetstream.LastRevision(rev)); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		n.log.Warn("cluster: component entry not deleted", "domain", domain, "err", err)
	}
}

// ComponentNode returns the live node, other than this one, the
// component of domain is connected to, or "".
func (n *Node) ComponentNode(domain string) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := n.comps[domain]
	if c == nil || c.e.Node == n.self {
		return ""
	}
	if l := n.nodes[c.e.Node]; l == nil || !l.alive || l.Inc != c.e.Inc {
		return ""
	}
	return c.e.Node
}

// SendComponent routes st to the component of domain through node.
func (n *Node) SendComponent(node, domain string, st *stanza.Element) error {
	p := n.peer(node)
	if p == nil {
		return fmt.Errorf("cluster: component %s: no way to node %q", domain, node)
	}
	return p.enqueue(componentMsg(p.subject, n.self, domain, st))
}

// compUpdate follows the components bucket, and tells the watch.
func (n *Node) compUpdate(kve jetstream.KeyValueEntry) {
	domain, changed := n.compUpdated(kve)
	w := n.compWatch.Load()
	if !changed || w == nil {
		return
	}
	switch kve.Operation() {
	case jetstream.KeyValuePut:
		if node := n.ComponentNode(domain); node != "" {
			(*w)(domain, node)
		}
	default:
		(*w)(domain, "")
	}
}

// compUpdated records a change of the components bucket, reporting the
// domain and whether the entry changed.
func (n *Node) compUpdated(kve jetstream.KeyValueEntry) (string, bool) {
	domain, err := domainOfKey(kve.Key())
	if err != nil {
		n.log.Warn("cluster: bad key in the components bucket", "key", kve.Key(), "err", err)
		return "", false
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if kve.Operation() != jetstream.KeyValuePut {
		delete(n.comps, domain)
		if _, ok := n.ownComps[domain]; ok && !n.leaving.Load() {
			// Deleted by another node while the component is still
			// connected here (this node lost NATS for longer than the
			// TTL): write it again.
			n.log.Warn("cluster: the entry of a component connected here was deleted; writing it again", "domain", domain)
			n.wg.Go(func() { n.ComponentConnected(n.ctx, domain) })
		}
		return domain, true
	}
	var e compEntry
	if err := json.Unmarshal(kve.Value(), &e); err != nil || e.Node == "" || e.Inc == "" {
		n.log.Warn("cluster: bad entry in the components bucket", "domain", domain, "err", err)
		return domain, false
	}
	if c := n.comps[domain]; c != nil && kve.Revision() <= c.rev {
		return domain, false
	}
	n.comps[domain] = &compState{e: e, rev: kve.Revision(), created: kve.Created()}
	if e.Node != n.self {
		if _, ok := n.ownComps[domain]; ok {
			n.log.Warn("cluster: the component is connected to another node too; the others route to that node", "domain", domain, "node", e.Node)
			delete(n.ownComps, domain)
		}
	}
	return domain, true
}

// componentsToReap lists the entries of components whose node is gone:
// dead, left, or an earlier run of this node. n.mu is held.
func (n *Node) componentsToReap() map[string]uint64 {
	out := map[string]uint64{}
	for domain, c := range n.comps {
		l := n.nodes[c.e.Node]
		var gone bool
		switch {
		case c.e.Node == n.self:
			gone = c.e.Inc != n.inc
		case l == nil:
			gone = time.Since(c.created) >= n.opts.NodeTTL
		default:
			gone = !l.alive || l.Inc != c.e.Inc
		}
		if !gone || (!c.reaped.IsZero() && time.Since(c.reaped) < n.opts.NodeTTL) {
			continue
		}
		c.reaped = time.Now()
		out[domain] = c.rev
	}
	return out
}

// reapComponents deletes entries of components whose node is gone, each
// conditional on the revision seen.
func (n *Node) reapComponents(list map[string]uint64) {
	if len(list) == 0 {
		return
	}
	n.wg.Go(func() {
		for domain, rev := range list {
			ctx, cancel := context.WithTimeout(n.ctx, 5*time.Second)
			err := n.compKV.Delete(ctx, compKey(domain), jetstream.LastRevision(rev))
			cancel()
			if err == nil {
				n.log.Info("cluster: component entry of a gone node deleted", "domain", domain)
			}
		}
	})
}

// leaveComponents deletes the entries of the components connected here,
// when the node leaves.
func (n *Node) leaveComponents(ctx context.Context) {
	n.mu.Lock()
	var domains []string
	for d := range n.ownComps {
		domains = append(domains, d)
	}
	n.mu.Unlock()
	for _, d := range domains {
		n.ComponentDisconnected(ctx, d)
	}
}

// deliverComponent hands a stanza another node routed to a component to
// the component's route here; when it does not take it, the stanza
// bounces as on one node.
func (n *Node) deliverComponent(f frame) {
	err := errors.New("no components on this node")
	if d := n.deliverComp.Load(); d != nil {
		err = (*d)(n.ctx, f.to.Domain(), f.st)
	}
	if err == nil {
		return
	}
	n.log.Info("cluster: stanza from another node for a component not taken", "domain", f.to.Domain(), "node", f.node, "err", err)
	if stanza.MayBounce(f.st) {
		var se *stanza.Error
		if !errors.As(err, &se) {
			se = stanza.Errorf(stanza.ServiceUnavailable, "%s is not connected", f.to.Domain())
		}
		n.router.Route(n.ctx, stanza.ErrorReply(f.st, se))
	}
}

// Components returns, by domain, the node each component of the cluster
// is connected to as this node knows it: this node's own components, and
// those whose entry names a live node in its current incarnation.
func (n *Node) Components() map[string]string {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make(map[string]string, len(n.comps)+len(n.ownComps))
	for domain := range n.ownComps {
		out[domain] = n.self
	}
	for domain, c := range n.comps {
		if c.e.Node == n.self {
			continue
		}
		if l := n.nodes[c.e.Node]; l != nil && l.alive && l.Inc == c.e.Inc {
			out[domain] = c.e.Node
		}
	}
	return out
}
