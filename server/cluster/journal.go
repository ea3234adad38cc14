package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/parley-xmpp/parley/server/session"
	smns "github.com/parley-xmpp/parley/xmpp/sm"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// hdrH is the header of a journal entry with its outbound number.
const hdrH = "Parley-H"

// jsess is what this node tracks of one of its resumable sessions.
type jsess struct {
	s       *session.Session
	timeout time.Duration
	inH     uint32 // last written to the resume bucket
	written bool
	acked   uint32 // the client's last h
	// sent are the journal entries not known acknowledged and trimmed,
	// oldest first; bounded by the journal's per-session bound.
	sent  []*sentEntry
	dirty bool // acked moved since the last trim
}

// sentEntry is a journal entry this node published.
type sentEntry struct {
	h   uint32
	ack jetstream.PubAckFuture
	// seq is the entry's stream sequence once confirmed (0: not stored).
	seq      uint64
	resolved bool
}

// resolve returns the entry's stream sequence (0 if it was not stored),
// or false while JetStream has not answered. Under r.mu.
func (e *sentEntry) resolve() (uint64, bool) {
	if !e.resolved {
		select {
		case a := <-e.ack.Ok():
			e.seq, e.resolved = a.Sequence, true
		case <-e.ack.Err():
			e.resolved = true
		default:
		}
	}
	return e.seq, e.resolved
}

// Enabled records a resumable session in the resume bucket
// (session.Resumer).
func (n *Node) Enabled(s *session.Session, id string, timeout time.Duration) {
	r := n.res
	if r == nil {
		return
	}
	js := &jsess{s: s, timeout: timeout}
	r.mu.Lock()
	r.sess[id] = js
	r.mu.Unlock()
	n.writeState(context.Background(), id, js, 0)
}

// writeState writes the resume state of id with inH.
func (n *Node) writeState(ctx context.Context, id string, js *jsess, inH uint32) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st := stateOf(js.s, n.self, n.inc, js.timeout, inH, js.s.Value(session.ArchiveSync{}) != nil)
	if _, err := n.res.kv.Put(ctx, id, st.marshal()); err != nil {
		n.log.Warn("cluster: resume state not written; the session cannot resume on another node", "session", js.s.JID(), "err", err)
		return
	}
	n.res.mu.Lock()
	js.inH, js.written = inH, true
	n.res.mu.Unlock()
}

// Journal appends a message delivered to the session id, numbered h, to
// its journal (session.Resumer). It does not wait for JetStream.
func (n *Node) Journal(id string, h uint32, st *stanza.Element) {
	r := n.res
	if r == nil || r.smq == nil {
		return
	}
	m := nats.NewMsg(n.journalSubject(id))
	m.Header.Set(hdrH, strconv.FormatUint(uint64(h), 10))
	m.Data = appendWrapped(make([]byte, 0, len(wrapOpen)+len(wrapClose)+len(st.Bytes())), st)
	f, err := r.js.PublishMsgAsync(m)
	if err != nil {
		n.log.Error("cluster: a message not journaled; lost if this node dies before it is acknowledged", "to", st.To(), "err", err)
		return
	}
	e := &sentEntry{h: h, ack: f}
	r.mu.Lock()
	if js := r.sess[id]; js != nil {
		if len(js.sent) >= n.opts.JournalPerSession {
			js.sent = js.sent[1:] // dropped by the stream too
		}
		js.sent = append(js.sent, e)
	}
	if len(r.inflight) >= maxInflight {
		r.inflight = r.inflight[1:]
		r.base++
	}
	r.inflight = append(r.inflight, e)
	r.mu.Unlock()
}

// maxInflight bounds the journal entries a node waits for.
const maxInflight = 1 << 16

// waitJournal waits until JetStream answered for every journal entry
// published before the call (not for those published meanwhile, which
// PublishAsyncComplete would, under steady traffic).
func (n *Node) waitJournal(ctx context.Context) { n.waitJournalTo(ctx, n.journalMark()) }

// journalMark returns the count of journal entries published so far.
func (n *Node) journalMark() uint64 {
	r := n.res
	if r == nil {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.base + uint64(len(r.inflight))
}

// waitJournalTo waits until JetStream answered for the first end journal
// entries.
func (n *Node) waitJournalTo(ctx context.Context, end uint64) {
	r := n.res
	if r == nil || r.smq == nil {
		return
	}
	for {
		r.mu.Lock()
		for len(r.inflight) > 0 {
			if _, ok := r.inflight[0].resolve(); !ok {
				break
			}
			r.inflight[0] = nil
			r.inflight = r.inflight[1:]
			r.base++
		}
		done := r.base >= end
		r.mu.Unlock()
		if done {
			return
		}
		select {
		case <-ctx.Done():
			n.log.Warn("cluster: journal not confirmed in time")
			return
		case <-time.After(200 * time.Microsecond):
		}
	}
}

// Acked records the client's h (session.Resumer); the journal is trimmed
// about every second.
func (n *Node) Acked(id string, h uint32) {
	r := n.res
	if r == nil {
		return
	}
	r.mu.Lock()
	if js := r.sess[id]; js != nil {
		js.acked, js.dirty = h, true
	}
	r.mu.Unlock()
}

// checkpointWait bounds a checkpoint.
const checkpointWait = 5 * time.Second

// Checkpoint makes durable what a session's stanzas caused before the
// server acknowledges them (session.Resumer): the stanzas queued for other
// nodes are published and confirmed by those nodes (sync.go), the journal
// entries are stored, and inH is written in the resume state.
func (n *Node) Checkpoint(ctx context.Context, id string, inH uint32) {
	ctx, cancel := context.WithTimeout(ctx, checkpointWait)
	defer cancel()
	n.peersMu.Lock()
	peers := make([]*peer, 0, len(n.peers))
	for _, p := range n.peers {
		peers = append(peers, p)
	}
	n.peersMu.Unlock()
	for _, p := range peers {
		for ctx.Err() == nil {
			p.mu.Lock()
			busy := p.running
			p.mu.Unlock()
			if !busy {
				break
			}
			time.Sleep(200 * time.Microsecond)
		}
	}
	r := n.res
	if r == nil {
		if err := n.nc.FlushWithContext(ctx); err != nil {
			n.log.Warn("cluster: checkpoint: flushing to NATS", "err", err)
		}
		return
	}
	n.syncPeers(ctx) // the other nodes handled what was sent them (sync.go)
	n.waitJournal(ctx)
	if id == "" {
		return
	}
	r.mu.Lock()
	js := r.sess[id]
	stale := js != nil && (!js.written || js.inH != inH)
	r.mu.Unlock()
	if stale {
		n.writeState(ctx, id, js, inH)
	}
}

// Forget forgets a session that ended for good (session.Resumer): its
// resume state and journal are deleted.
func (n *Node) Forget(id string) { n.forget(id, true) }

// forget stops tracking id; with drop, its state and journal are
// deleted (not after a handover: the other node uses them).
func (n *Node) forget(id string, drop bool) {
	r := n.res
	if r == nil {
		return
	}
	r.mu.Lock()
	_, ok := r.sess[id]
	delete(r.sess, id)
	r.mu.Unlock()
	if !ok || !drop {
		return
	}
	n.wg.Go(func() {
		ctx, cancel := context.WithTimeout(n.ctx, 5*time.Second)
		defer cancel()
		if err := r.kv.Delete(ctx, id); err != nil && n.ctx.Err() == nil {
			n.log.Debug("cluster: resume state not deleted", "id", id, "err", err)
		}
		n.purgeJournal(ctx, id)
	})
}

// purgeJournal deletes the journal of id.
func (n *Node) purgeJournal(ctx context.Context, id string) {
	if n.res.smq == nil {
		return
	}
	if err := n.res.smq.Purge(ctx, jetstream.WithPurgeSubject(n.journalSubject(id))); err != nil && n.ctx.Err() == nil {
		n.log.Debug("cluster: journal not purged", "id", id, "err", err)
	}
}

// trimInterval is how often acknowledged journal entries are purged.
const trimInterval = time.Second

// trimJournal purges, every trimInterval, the journal entries the
// clients acknowledged: one purge per session whose client acknowledged
// something, up to its first unacknowledged entry.
func (n *Node) trimJournal() {
	t := time.NewTicker(trimInterval)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
		n.syncPeers(n.ctx)
		type trim struct {
			id  string
			seq uint64
		}
		var todo []trim
		r := n.res
		r.mu.Lock()
		for id, js := range r.sess {
			if !js.dirty || r.smq == nil {
				continue
			}
			seq, keep, ok := js.trimPoint()
			if !ok {
				continue // not confirmed yet: next time
			}
			js.sent, js.dirty = js.sent[keep:], false
			if seq > 0 {
				todo = append(todo, trim{id, seq})
			}
		}
		r.mu.Unlock()
		for _, tr := range todo {
			ctx, cancel := context.WithTimeout(n.ctx, 5*time.Second)
			err := r.smq.Purge(ctx, jetstream.WithPurgeSubject(n.journalSubject(tr.id)), jetstream.WithPurgeSequence(tr.seq))
			cancel()
			if err != nil && n.ctx.Err() == nil {
				n.log.Debug("cluster: journal not trimmed", "id", tr.id, "err", err)
			}
		}
	}
}

// trimPoint returns the stream sequence up to which (excluded) js's
// journal can be purged, and how many of its entries that drops; ok is
// false while the entries it needs are not confirmed. Under r.mu.
func (js *jsess) trimPoint() (seq uint64, keep int, ok bool) {
	i := 0
	for i < len(js.sent) {
		if d := smns.Delta(js.acked, js.sent[i].h); d >= 1<<31 {
			break // not acknowledged
		}
		i++
	}
	if i == 0 {
		return 0, 0, true
	}
	// Purge below the first entry kept, or past the last one dropped.
	if i < len(js.sent) {
		seq, done := js.sent[i].resolve()
		if !done {
			return 0, 0, false
		}
		if seq == 0 {
			return 0, i, true // not stored: trimmed next time
		}
		return seq, i, true
	}
	seq, done := js.sent[i-1].resolve()
	if !done {
		return 0, 0, false
	}
	if seq == 0 {
		return 0, i, true
	}
	return seq + 1, i, true
}

// parseJournal decodes a journal entry.
func parseJournal(h string, data []byte, maxStanza int) (journalEntry, error) {
	v, err := strconv.ParseUint(h, 10, 32)
	if err != nil {
		return journalEntry{}, fmt.Errorf("cluster: journal entry number %q: %w", h, err)
	}
	st, err := parseStanza(data, maxStanza)
	if err != nil {
		return journalEntry{}, err
	}
	if stanza.KindOf(st) != stanza.KindMessage {
		return journalEntry{}, errors.New("cluster: journal entry is not a message")
	}
	return journalEntry{h: uint32(v), st: st}, nil
}
