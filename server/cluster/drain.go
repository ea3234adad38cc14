package cluster

import (
	"context"
	"slices"
	"sort"
	"time"

	"github.com/nats-io/nats.go"
)

// leaveWait bounds how long a leaving node waits for each other node to
// forget its sessions and send what it queued for it (leaveOthers), and
// how long that node waits for its queue to empty.
const leaveWait = 2 * time.Second

// SetAdvertise sets the addresses (host:port) this node's clients
// connect to, and writes them in its lease at once: a draining node
// sends its clients to another node's (OtherHost).
func (n *Node) SetAdvertise(ctx context.Context, addrs []string) {
	n.mu.Lock()
	n.advertise = slices.Clone(addrs)
	n.mu.Unlock()
	if n.nc == nil || n.leaving.Load() {
		return
	}
	if err := n.renew(ctx); err != nil {
		n.log.Warn("cluster: advertising the client addresses", "err", err)
	}
}

// OtherHost returns a client address of another live node, for
// <see-other-host/>, or "" when no other node is alive or advertises one.
// Successive calls go round the live nodes' addresses, so that a
// draining node spreads its clients.
func (n *Node) OtherHost() string {
	var addrs []string
	n.mu.Lock()
	names := make([]string, 0, len(n.nodes))
	for name, l := range n.nodes {
		if l.alive && len(l.C2S) > 0 {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		addrs = append(addrs, n.nodes[name].C2S[0])
	}
	n.mu.Unlock()
	if len(addrs) == 0 {
		return ""
	}
	return addrs[(n.rotate.Add(1)-1)%uint64(len(addrs))]
}

// leaveOthers tells every live node that this node leaves, once its
// sessions' entries are deleted: each drops this node's sessions from
// its directory (as when a node's lease ends), sends what it queued for
// this node, and answers. Since a node's answer follows on the same
// connection what it published for this node, this node, still
// subscribed, has received everything the others routed to its sessions
// when the answers are in: a message for a session that ended goes to
// another resource or offline storage (undelivered), none is lost in
// NATS.
func (n *Node) leaveOthers(ctx context.Context) {
	alive := n.aliveNodes()
	done := make(chan struct{}, len(alive))
	for _, name := range alive {
		go func() {
			defer func() { done <- struct{}{} }()
			rctx, cancel := context.WithTimeout(ctx, leaveWait+time.Second)
			defer cancel()
			if _, err := n.nc.RequestMsgWithContext(rctx, leaveMsg(nodeSubject(n.opts.Name, name), n.self)); err != nil {
				n.log.Warn("cluster: a node did not confirm that this node left; what it still routes here may be lost", "node", name, "err", err)
			}
		}()
	}
	for range alive {
		<-done
	}
}

// left handles another node's leave frame on the subscription's
// goroutine: its sessions leave the directory, what is queued for it is
// sent, then the node is answered.
func (n *Node) left(m *nats.Msg, node string) {
	var reap []*keyState
	n.mu.Lock()
	if l := n.nodes[node]; l != nil && l.alive {
		l.alive = false
		n.log.Info("cluster: node leaves", "node", node)
		reap = n.refreshNode(node)
	}
	n.mu.Unlock()
	n.nodesGone(node)
	n.reap(reap)
	if p := n.peer(node); p != nil {
		deadline := time.Now().Add(leaveWait)
		for time.Now().Before(deadline) {
			p.mu.Lock()
			busy := p.running
			p.mu.Unlock()
			if !busy {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if err := m.Respond(nil); err != nil {
		n.log.Warn("cluster: answering a leaving node", "node", node, "err", err)
	}
}
