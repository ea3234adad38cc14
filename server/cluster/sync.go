package cluster

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
)

// Confirmed delivery between nodes. A frame published on a node's subject
// is lost if that node dies before handling it: NATS keeps nothing for a
// subscriber that is gone. With stream management across nodes, a node
// therefore keeps the stanza frames it published to another node until
// that node confirms it handled them (and stored what it journaled for
// them): a sync request on its subject, which follows the frames on the
// same connection. Checkpoint (before the server acknowledges a client's
// stanzas) and the journal's trimmer, every second, ask for it. When the
// node is gone (no responders on its subject), it is taken as dead at once
// and the messages it did not confirm are routed again as to their bare
// JIDs: to another resource, the session resumed on another node, or
// offline storage. They may then arrive twice (once from the dead node's
// journal), never not at all.

// syncWait bounds a sync request.
const syncWait = 2 * time.Second

// keepLocked keeps the frames of batch, just published, until the node
// confirms them; the oldest are forgotten past the queue's bound. p.mu is
// held.
func (p *peer) keepLocked(batch []*nats.Msg) {
	if p.n.res == nil {
		return
	}
	for _, m := range batch {
		if m.Header.Get(hdrOp) != opDeliver {
			continue
		}
		p.unconfirmed = append(p.unconfirmed, m)
		p.unconfBytes += msgSize(m)
	}
	for p.unconfBytes > p.n.opts.QueueBytes && len(p.unconfirmed) > 0 {
		p.n.log.Warn("cluster: too much unconfirmed for a node; a stanza is no longer kept for its death", "node", p.name)
		p.unconfBytes -= msgSize(p.unconfirmed[0])
		p.unconfirmed[0] = nil
		p.unconfirmed = p.unconfirmed[1:]
	}
}

// synced answers a sync request, on the subscription's goroutine: every
// frame received before is handled; what they journaled is stored first.
func (n *Node) synced(m *nats.Msg) {
	// The frames before are handled (their journal entries published):
	// wait for JetStream off the subscription's goroutine.
	end := n.journalMark()
	n.wg.Go(func() {
		ctx, cancel := context.WithTimeout(n.ctx, syncWait)
		n.waitJournalTo(ctx, end)
		cancel()
		if err := m.Respond(nil); err != nil {
			n.log.Debug("cluster: answering a sync", "err", err)
		}
	})
}

// syncPeers asks every node this node published frames to since their
// last confirmation to confirm them.
func (n *Node) syncPeers(ctx context.Context) {
	n.peersMu.Lock()
	peers := make([]*peer, 0, len(n.peers))
	for _, p := range n.peers {
		peers = append(peers, p)
	}
	n.peersMu.Unlock()
	for _, p := range peers {
		p.mu.Lock()
		k := len(p.unconfirmed)
		p.mu.Unlock()
		if k == 0 {
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, syncWait)
		m := nats.NewMsg(p.subject)
		m.Header.Set(hdrOp, opSync)
		m.Header.Set(hdrFrom, n.self)
		_, err := n.nc.RequestMsgWithContext(rctx, m)
		cancel()
		if err != nil && !errors.Is(err, nats.ErrNoResponders) {
			n.log.Debug("cluster: a node did not confirm its frames", "node", p.name, "err", err)
			continue
		}
		p.mu.Lock()
		k = min(k, len(p.unconfirmed))
		done := p.unconfirmed[:k:k]
		p.unconfirmed = p.unconfirmed[k:]
		for _, f := range done {
			p.unconfBytes -= msgSize(f)
		}
		p.mu.Unlock()
		if err != nil {
			n.gone(p.name, done)
		}
	}
}

// gone takes node as dead (nothing listens on its subject) and routes
// again the messages it did not confirm.
func (n *Node) gone(node string, frames []*nats.Msg) {
	var reap []*keyState
	died := false
	n.mu.Lock()
	if l := n.nodes[node]; l != nil && l.alive {
		l.alive, died = false, true
		n.log.Warn("cluster: node gone (nothing listens on its subject); its sessions leave the directory", "node", node)
		reap = n.refreshNode(node)
	}
	n.mu.Unlock()
	n.reap(reap)
	if died {
		n.reapResume(node) // reap.go
	}
	again := 0
	for _, m := range frames {
		f, err := parseFrame(m, n.opts.MaxStanzaBytes)
		if err != nil || f.op != opDeliver || !n.opts.Journaled(f.st) {
			continue
		}
		c := f.st.Clone()
		c.Set("to", f.to.Bare().String())
		n.router.Route(n.ctx, c)
		again++
	}
	if again > 0 {
		n.log.Warn("cluster: messages a gone node did not confirm routed again", "node", node, "messages", again)
	}
}
