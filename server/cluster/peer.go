package cluster

import (
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// peer is the way to another node: a queue bounded in bytes, written to
// the node's subject by a goroutine that runs only while the queue holds
// something. One writer per node keeps the order in which stanzas were
// queued, so what one sender sends one recipient arrives in order.
type peer struct {
	n       *Node
	name    string
	subject string

	mu      sync.Mutex
	q       []*nats.Msg
	bytes   int
	running bool
	// unconfirmed are the messages published to the node since it last
	// confirmed it had handled them (sync.go).
	unconfirmed []*nats.Msg
	unconfBytes int
}

// msgSize is what a queued message counts against the queue's bound.
func msgSize(m *nats.Msg) int {
	n := len(m.Data) + len(m.Subject) + 64
	for k, vs := range m.Header {
		n += len(k)
		for _, v := range vs {
			n += len(v)
		}
	}
	return n
}

// enqueue queues m, or fails with <resource-constraint/> when the queue
// is full.
func (p *peer) enqueue(m *nats.Msg) error {
	size := msgSize(m)
	p.mu.Lock()
	if p.bytes+size > p.n.opts.QueueBytes {
		p.mu.Unlock()
		p.n.log.Warn("cluster: queue to a node full, stanza not sent", "node", p.name, "bytes", p.bytes)
		return stanza.Errorf(stanza.ResourceConstraint, "the queue to cluster node %s is full", p.name)
	}
	p.q = append(p.q, m)
	p.bytes += size
	start := !p.running
	p.running = true
	p.mu.Unlock()
	if start {
		p.n.wg.Add(1)
		go p.write()
	}
	return nil
}

// write publishes what is queued until the queue is empty.
func (p *peer) write() {
	defer p.n.wg.Done()
	for {
		p.mu.Lock()
		batch := p.q
		p.q = nil
		if len(batch) == 0 {
			p.running = false
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
		size := 0
		for _, m := range batch {
			size += msgSize(m)
			if err := p.n.nc.PublishMsg(m); err != nil {
				p.n.log.Error("cluster: a stanza for another node was lost", "node", p.name, "op", m.Header.Get(hdrOp), "to", m.Header.Get(hdrTo), "err", err)
			}
		}
		p.mu.Lock()
		p.bytes -= size
		p.keepLocked(batch)
		p.mu.Unlock()
	}
}

// peer returns the way to node, made on first use; nil for this node
// itself.
func (n *Node) peer(node string) *peer {
	if node == n.self {
		return nil
	}
	n.peersMu.Lock()
	defer n.peersMu.Unlock()
	p := n.peers[node]
	if p == nil {
		p = &peer{n: n, name: node, subject: nodeSubject(n.opts.Name, node)}
		n.peers[node] = p
	}
	return p
}

// nodeSubject is the subject a node receives its frames on.
func nodeSubject(cluster, node string) string { return cluster + ".node." + node }
