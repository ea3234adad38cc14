package cluster

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// Sessions of a dead node that nobody resumes. Their messages are in the
// journal, not in any node's memory: once their resumption time is over,
// one surviving node (the one whose conditional deletion of the resume
// state wins) routes every message the journal still holds to the
// account's bare JID — another resource, or offline storage — with a
// delay stamp, as a node does for a session that ends with messages it
// never had acknowledged. The journal is trimmed about every second as
// clients acknowledge, so a message acknowledged in the last second before
// the death may be stored a second time.

// reapResume schedules the end of node's resumable sessions that nobody
// resumes: node died (or restarted: the states of its earlier runs).
func (n *Node) reapResume(node string) {
	r := n.res
	if r == nil {
		return
	}
	n.wg.Go(func() {
		ctx := n.ctx
		// Every state: a session resumed on node has the id its first
		// node gave it.
		lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		lister, err := r.kv.ListKeys(lctx)
		var ids []string
		if err == nil {
			for k := range lister.Keys() {
				ids = append(ids, k)
			}
		}
		cancel()
		if err != nil && !errors.Is(err, jetstream.ErrNoKeysFound) {
			n.log.Warn("cluster: listing the resumable sessions of a gone node", "node", node, "err", err)
			return
		}
		type due struct {
			id  string
			rev uint64
			at  time.Time
		}
		var list []due
		for _, id := range ids {
			gctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			kve, err := r.kv.Get(gctx, id)
			cancel()
			if err != nil {
				continue
			}
			st, _, _, err := parseState(kve.Value())
			if err != nil || n.holds(st) {
				continue
			}
			list = append(list, due{id, kve.Revision(), kve.Created().Add(time.Duration(st.Timeout) * time.Second)})
		}
		sort.Slice(list, func(i, j int) bool { return list[i].at.Before(list[j].at) })
		for _, d := range list {
			t := time.NewTimer(time.Until(d.at))
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			n.endOrphan(d.id, d.rev)
		}
	})
}

// holds reports whether the node and incarnation of st are alive: the
// session lives (perhaps resumed there).
func (n *Node) holds(st resumeState) bool {
	if st.Node == n.self {
		return st.Inc == n.inc
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	l := n.nodes[st.Node]
	return l != nil && l.alive && l.Inc == st.Inc
}

// endOrphan ends the session id of a gone node if its state is still the
// revision rev (nobody resumed it, no other node ended it): what its
// journal holds goes back to the router.
func (n *Node) endOrphan(id string, rev uint64) {
	r := n.res
	ctx, cancel := context.WithTimeout(n.ctx, time.Minute)
	defer cancel()
	kve, err := r.kv.Get(ctx, id)
	if err != nil || kve.Revision() != rev {
		return
	}
	st, full, _, err := parseState(kve.Value())
	if err != nil || n.holds(st) {
		return
	}
	if err := r.kv.Delete(ctx, id, jetstream.LastRevision(rev)); err != nil {
		return // resumed or ended by another node meanwhile
	}
	entries, err := n.readJournal(ctx, id)
	if err != nil {
		n.log.Error("cluster: reading the journal of a session nobody resumed; its messages may be lost", "session", full, "err", err)
	}
	since := kve.Created()
	routed := 0
	for _, e := range entries {
		if st.Sync && archived(e.st, full.Bare()) {
			continue // the client catches up from its archive
		}
		c := delayed(e.st, full.Domain(), since)
		c.Set("to", full.Bare().String())
		n.router.Route(n.ctx, c)
		routed++
	}
	n.purgeJournal(ctx, id)
	n.log.Info("cluster: session of a gone node not resumed in time; its messages go back to the router",
		"session", full, "node", st.Node, "messages", routed)
}

// archived reports whether st carries a XEP-0359 stanza-id by bare: it
// is in the account's archive.
func archived(st *stanza.Element, bare jid.JID) bool {
	for _, sid := range st.ChildrenNamed("urn:xmpp:sid:0", "stanza-id") {
		if sid.Get("by") == bare.String() {
			return true
		}
	}
	return false
}

// delayed returns a copy of st with a XEP-0203 delay stamp from domain,
// unless it has one.
func delayed(st *stanza.Element, domain string, at time.Time) *stanza.Element {
	c := st.Clone()
	if st.Child("urn:xmpp:delay", "delay") != nil {
		return c
	}
	d := stanza.New("urn:xmpp:delay", "delay", "from", domain, "stamp", at.UTC().Format("2006-01-02T15:04:05.000Z"))
	return c.Append(d.AppendText("Resent after the session ended"))
}
