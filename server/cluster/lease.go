package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// lease is a node's entry in the nodes bucket: renewed every third of
// the node TTL by the node, it says that the node is alive.
type lease struct {
	Inc     string    `json:"i"`
	Started time.Time `json:"s"`
	// Sessions is how many sessions the node held at its last renewal.
	Sessions int `json:"n"`
	// C2S are the addresses (host:port) the node's clients connect to:
	// where a draining node sends its clients (<see-other-host/>).
	C2S []string `json:"c,omitempty"`
	// Web are the URIs of the node's WebSocket and BOSH endpoints: where
	// a draining node sends its web clients (OtherWeb).
	Web []string `json:"w,omitempty"`

	seen  time.Time // when this node last saw it renewed
	alive bool
}

// renew writes this node's lease.
func (n *Node) renew(ctx context.Context) error {
	n.mu.Lock()
	c2s, web := n.advertise, n.advertiseWeb
	n.mu.Unlock()
	b, _ := json.Marshal(lease{Inc: n.inc, Started: n.started, Sessions: n.table.Count(), C2S: c2s, Web: web})
	ctx, cancel := context.WithTimeout(ctx, n.opts.NodeTTL/3)
	defer cancel()
	if _, err := n.nodesKV.Put(ctx, n.self, b); err != nil {
		return fmt.Errorf("cluster: renewing the lease of %s: %w", n.self, err)
	}
	return nil
}

// keepLease renews the lease and looks for dead nodes until the node
// closes.
func (n *Node) keepLease() {
	renew := time.NewTicker(n.opts.NodeTTL / 3)
	defer renew.Stop()
	check := time.NewTicker(max(n.opts.NodeTTL/10, 100*time.Millisecond))
	defer check.Stop()
	failing := false
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-renew.C:
			if n.leaving.Load() {
				continue
			}
			if err := n.renew(n.ctx); err != nil {
				if !failing {
					n.log.Error("cluster: lease not renewed; the other nodes will drop this node's sessions after node_ttl", "err", err)
				}
				failing = true
			} else if failing {
				n.log.Info("cluster: lease renewed again")
				failing = false
			}
		case <-check.C:
			n.sweep()
		}
	}
}

// leaseUpdate follows the nodes bucket.
func (n *Node) leaseUpdate(e jetstream.KeyValueEntry) {
	name := e.Key()
	if name == n.self {
		return
	}
	var l lease
	if e.Operation() == jetstream.KeyValuePut {
		if err := json.Unmarshal(e.Value(), &l); err != nil || l.Inc == "" {
			n.log.Warn("cluster: bad lease", "node", name, "err", err)
			return
		}
	}
	var reap []*keyState
	var gone []string
	n.mu.Lock()
	old := n.nodes[name]
	switch e.Operation() {
	case jetstream.KeyValuePut:
		// A lease loaded at start counts from when it was written;
		// afterwards from when this node saw it.
		l.seen = time.Now()
		if created := e.Created(); e.Delta() > 0 && created.Before(l.seen) {
			l.seen = created
		}
		l.alive = time.Since(l.seen) < n.opts.NodeTTL
		n.nodes[name] = &l
		if old != nil && old.Inc != l.Inc {
			gone = append(gone, name) // it restarted: its earlier run is gone
		}
		if old == nil || !old.alive || old.Inc != l.Inc {
			if l.alive {
				n.log.Info("cluster: node alive", "node", name, "incarnation", l.Inc)
			}
			reap = n.refreshNode(name)
			if old != nil && old.Inc != l.Inc {
				defer n.reapResume(name) // its earlier run's sessions (reap.go)
			}
		}
	default: // deleted: the node left
		if old != nil {
			old.alive = false
			n.log.Info("cluster: node left", "node", name)
			reap = n.refreshNode(name)
			gone = append(gone, name)
		}
	}
	n.mu.Unlock()
	n.reap(reap)
	n.nodesGone(gone...)
}

// sweep declares dead the nodes whose lease was not renewed for the node
// TTL, and reaps the entries of dead nodes and of this node's earlier
// runs.
func (n *Node) sweep() {
	var reap []*keyState
	var gone []string
	n.mu.Lock()
	for name, l := range n.nodes {
		if l.alive && time.Since(l.seen) >= n.opts.NodeTTL {
			l.alive = false
			n.log.Warn("cluster: node lease expired; its sessions leave the directory", "node", name, "last_renewed", l.seen)
			gone = append(gone, name)
			reap = append(reap, n.refreshNode(name)...)
		}
	}
	for node := range n.byNode {
		if l := n.nodes[node]; l == nil || !l.alive {
			reap = append(reap, n.refreshNode(node)...)
		}
	}
	for _, ks := range n.keys {
		if ks.e.Node == n.self && ks.e.Inc != n.inc && ks.rev != 0 && n.mayReap(ks) {
			reap = append(reap, ks)
		}
	}
	comps := n.componentsToReap()
	n.mu.Unlock()
	n.nodesGone(gone...)
	for _, name := range gone {
		n.reapResume(name) // resume.go: sessions nobody resumes
	}
	n.reap(reap)
	n.reapComponents(comps)
	n.flushLeft()
}

// reap deletes entries of sessions that are gone with their node (if
// they were not written since), and for each that was available routes,
// in its name, the unavailable presence its node can no longer send: its
// contacts learn it is offline. Each entry is deleted by one node only
// (the deletion is conditional on its revision), which sends the
// presence.
func (n *Node) reap(list []*keyState) {
	if len(list) == 0 {
		return
	}
	type gone struct {
		key  string
		rev  uint64
		e    entry
		pres *stanza.Element
		ks   *keyState
	}
	var gs []gone
	n.mu.Lock()
	for _, ks := range list {
		gs = append(gs, gone{key: ks.key, rev: ks.rev, e: ks.e, pres: ks.pres, ks: ks})
	}
	n.mu.Unlock()
	n.wg.Go(func() {
		for _, g := range gs {
			ctx, cancel := context.WithTimeout(n.ctx, 5*time.Second)
			err := n.sessKV.Delete(ctx, g.key, jetstream.LastRevision(g.rev))
			cancel()
			if err != nil {
				if !errors.Is(err, jetstream.ErrKeyExists) && n.ctx.Err() == nil {
					n.log.Debug("cluster: entry of a gone session not deleted", "key", g.key, "err", err)
				}
				continue
			}
			full, err := jidOfKey(g.key)
			if err != nil || !g.e.Available {
				continue
			}
			n.log.Debug("cluster: session gone with its node", "session", full, "node", g.e.Node)
			s := n.remoteSession(full, g.e, g.pres)
			p := stanza.New(stanza.NSClient, "presence", "from", full.String(), "type", stanza.TypeUnavailable)
			n.router.RouteFrom(n.ctx, s, p)
		}
	})
}

// NodeInfo describes a node of the cluster.
type NodeInfo struct {
	Name string
	// Self is this node.
	Self bool
	// Alive: its lease is current.
	Alive bool
	// Started is when it started; Renewed when this node last saw its
	// lease renewed.
	Started, Renewed time.Time
	// Sessions is the number of its sessions in this node's directory
	// (for this node, bound here).
	Sessions int
	// Rooms is the number of chat rooms whose lease it holds.
	Rooms int
}

// Nodes lists the nodes this node knows of, sorted by name.
func (n *Node) Nodes() []NodeInfo {
	rooms := n.roomCounts()
	out := []NodeInfo{{Name: n.self, Self: true, Alive: true, Started: n.started, Renewed: time.Now(), Sessions: n.table.Count(), Rooms: rooms[n.self]}}
	n.mu.Lock()
	for name, l := range n.nodes {
		c := 0
		for _, ks := range n.byNode[name] {
			if ks.remote != nil {
				c++
			}
		}
		out = append(out, NodeInfo{Name: name, Alive: l.alive, Started: l.Started, Renewed: l.seen, Sessions: c, Rooms: rooms[name]})
	}
	n.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
