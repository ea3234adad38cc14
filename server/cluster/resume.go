package cluster

// Stream management (XEP-0198) across nodes: the node implements
// session.Resumer. See docs/cluster.md, "Stream management across nodes".

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/parley-xmpp/parley/server/session"
	"github.com/parley-xmpp/parley/xmpp/jid"
	smns "github.com/parley-xmpp/parley/xmpp/sm"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// handoverWait bounds a handover: the node holding the session waits up
// to ten seconds for its old connection's reader to stop.
const handoverWait = 12 * time.Second

// resumer is a node's state for stream management across nodes.
type resumer struct {
	kv  jetstream.KeyValue
	js  jetstream.JetStream
	smq jetstream.Stream
	sub *nats.Subscription

	mu   sync.Mutex
	sess map[string]*jsess // this node's resumable sessions, by id
	// inflight are the journal entries published, oldest first, until
	// JetStream answered; base counts those gone from its front.
	inflight []*sentEntry
	base     uint64
}

// resumeBucket, journalStream and the subjects of stream management
// across nodes.
func (n *Node) resumeBucket() string            { return n.opts.Name + "_resume" }
func (n *Node) journalStream() string           { return n.opts.Name + "_smq" }
func (n *Node) journalSubject(id string) string { return n.opts.Name + ".smq." + id }
func resumeSubject(cluster, node string) string { return cluster + ".resume." + node }

// startResume makes the resume bucket and the journal, and answers the
// other nodes' handover requests. Called by Start.
func (n *Node) startResume(ctx context.Context, js jetstream.JetStream) error {
	if n.opts.ResumeTimeout <= 0 {
		return nil
	}
	r := &resumer{js: js, sess: make(map[string]*jsess)}
	var err error
	r.kv, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: n.resumeBucket(), Description: "Parley cluster stream management resumption", History: 1,
		MaxValueSize: maxStateBytes, MaxBytes: n.opts.JournalBytes,
	})
	if err != nil {
		return fmt.Errorf("cluster: bucket %s: %w", n.resumeBucket(), err)
	}
	if !n.opts.NoJournal {
		r.smq, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
			Name: n.journalStream(), Description: "Parley cluster stream management journal",
			Subjects: []string{n.opts.Name + ".smq.>"}, Storage: jetstream.FileStorage,
			MaxAge: 2 * n.opts.ResumeTimeout, MaxBytes: n.opts.JournalBytes, MaxMsgsPerSubject: int64(n.opts.JournalPerSession),
			MaxMsgSize: int32(n.opts.MaxStanzaBytes + 1024), Discard: jetstream.DiscardOld,
		})
		if err != nil {
			return fmt.Errorf("cluster: stream %s: %w", n.journalStream(), err)
		}
	}
	r.sub, err = n.nc.Subscribe(resumeSubject(n.opts.Name, n.self), n.handoverRequest)
	if err != nil {
		return fmt.Errorf("cluster: subscribing to handovers: %w", err)
	}
	n.res = r
	n.wg.Go(n.trimJournal)
	n.reapResume(n.self) // sessions of this node's earlier runs (reap.go)
	return nil
}

// Resumer returns the node as the stream engine's resumer, or nil when
// resumption across nodes is off.
func (n *Node) Resumer() session.Resumer {
	if n.opts.ResumeTimeout <= 0 {
		return nil
	}
	return n
}

// NewID returns a resumption id naming this node (session.Resumer).
func (n *Node) NewID() string { return resumeID(n.self, rand.Text()) }

// handoverReq asks the node holding a session to hand it over.
type handoverReq struct {
	ID   string `json:"id"`
	User string `json:"u"`
	H    uint32 `json:"h"`
}

// handoverResp is the answer: the session's state and what its client
// did not acknowledge, or Err.
type handoverResp struct {
	Err     string   `json:"e,omitempty"`
	Full    string   `json:"j,omitempty"`
	InH     uint32   `json:"h"`
	Timeout int      `json:"t,omitempty"`
	State   string   `json:"x,omitempty"` // a resumeState, for presence and flags
	Pending []string `json:"q,omitempty"`
}

// handoverRequest hands a local session over to the node that asks,
// on a goroutine of its own (a handover waits for the old connection).
func (n *Node) handoverRequest(m *nats.Msg) {
	n.wg.Go(func() {
		resp := n.handOver(m.Data)
		b, _ := json.Marshal(resp)
		if err := m.Respond(b); err != nil {
			n.log.Warn("cluster: answering a handover", "err", err)
		}
	})
}

// handOver detaches the session a handover request names.
func (n *Node) handOver(data []byte) handoverResp {
	req, user, err := parseHandoverReq(data)
	if err != nil {
		n.log.Warn("cluster: bad handover request", "err", err)
		return handoverResp{Err: "bad request"}
	}
	s := n.table.Resumable(req.ID)
	if s == nil {
		return handoverResp{Err: "not found"}
	}
	ctx, cancel := context.WithTimeout(n.ctx, handoverWait)
	defer cancel()
	res, err := n.opts.HandOver(ctx, s, user, req.H)
	if err != nil {
		return handoverResp{Err: err.Error()}
	}
	n.forget(req.ID, false)
	st := resumeState{Full: res.Full.String(), Node: n.self, Inc: n.inc, Timeout: int(res.Timeout / time.Second),
		InH: res.InH, Priority: res.Priority, Flags: res.Flags, Sync: res.ArchiveSync}
	if res.Presence != nil {
		st.Presence = string(res.Presence.Bytes())
	}
	out := handoverResp{Full: st.Full, InH: res.InH, Timeout: st.Timeout, State: string(st.marshal())}
	// What does not fit in one NATS message goes back to the router as
	// when a session ends: another resource, or offline storage.
	room := int(n.nc.MaxPayload()) - len(out.State) - 64<<10
	for i, p := range res.Pending {
		b := p.Bytes()
		if room-len(b)-16 < 0 {
			n.log.Warn("cluster: handover too large; the rest goes back to the router", "session", res.Full, "left", len(res.Pending)-i)
			n.rerouteLeft(res.Full, res.Pending[i:])
			break
		}
		room -= len(b) + 16
		out.Pending = append(out.Pending, string(b))
	}
	n.log.Info("cluster: session handed over to another node", "session", res.Full, "pending", len(out.Pending))
	return out
}

// rerouteLeft routes messages a session could not take along, as to its
// bare JID.
func (n *Node) rerouteLeft(full jid.JID, left []*stanza.Element) {
	for _, st := range left {
		if n.opts.Journaled(st) {
			c := st.Clone()
			c.Set("to", full.Bare().String())
			n.router.Route(n.ctx, c)
		}
	}
}

// Resume takes over the session id of another node (session.Resumer):
// handed over by its node if that node answers, else rebuilt from the
// resume bucket and the journal when the node is gone.
func (n *Node) Resume(ctx context.Context, user jid.JID, id string, h uint32) (*session.Resumed, error) {
	r := n.res
	if r == nil {
		return nil, errors.New("cluster: resumption across nodes is off")
	}
	node, err := nodeOfID(id)
	if err != nil {
		return nil, err
	}
	if node == n.self {
		return nil, errors.New("cluster: a session of this node that ended")
	}
	kve, err := r.kv.Get(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("cluster: resume state: %w", err)
	}
	st, full, _, err := parseState(kve.Value())
	if err != nil {
		return nil, err
	}
	if full.Bare() != user || st.Node != node {
		return nil, errors.New("cluster: the session is another account's")
	}
	res, err := n.askHandover(ctx, node, user, id, h)
	if err == nil || !errors.Is(err, errNodeGone) {
		return res, err
	}
	// The node is gone: this node takes the session if no other did
	// (the deletion is conditional on the state it read).
	if err := r.kv.Delete(ctx, id, jetstream.LastRevision(kve.Revision())); err != nil {
		return nil, fmt.Errorf("cluster: taking the session of a gone node: %w", err)
	}
	return n.rebuild(ctx, id, st, full, h)
}

// errNodeGone: the node holding a session is not running.
var errNodeGone = errors.New("cluster: the session's node is gone")

// askHandover asks node to hand over the session id.
func (n *Node) askHandover(ctx context.Context, node string, user jid.JID, id string, h uint32) (*session.Resumed, error) {
	b, _ := json.Marshal(handoverReq{ID: id, User: user.String(), H: h})
	rctx, cancel := context.WithTimeout(ctx, handoverWait)
	defer cancel()
	m, err := n.nc.RequestWithContext(rctx, resumeSubject(n.opts.Name, node), b)
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) || !n.nodeAlive(node) {
			return nil, fmt.Errorf("%w: %w", errNodeGone, err)
		}
		return nil, fmt.Errorf("cluster: asking %s for the session: %w", node, err)
	}
	out, refused, err := parseHandover(m.Data, n.opts.MaxStanzaBytes)
	if refused == "not found" && !n.nodeAlive(node) {
		return nil, errNodeGone
	}
	if refused != "" {
		return nil, fmt.Errorf("cluster: %s did not hand the session over: %s", node, refused)
	}
	if err != nil {
		return nil, err
	}
	if out.Full.Bare() != user {
		return nil, errors.New("cluster: a handover of another account's session")
	}
	if out.Bad > 0 {
		n.log.Error("cluster: stanzas of a handover could not be read and are lost", "node", node, "session", out.Full, "stanzas", out.Bad)
	}
	n.log.Info("cluster: session handed over by another node", "node", node, "session", out.Full, "pending", len(out.Pending))
	return &out.Resumed, nil
}

// handedOver is a decoded handover answer; Bad counts the stanzas that
// could not be read.
type handedOver struct {
	session.Resumed
	Bad int
}

// parseHandoverReq decodes a handover request.
func parseHandoverReq(b []byte) (handoverReq, jid.JID, error) {
	var req handoverReq
	if len(b) > 4096 {
		return req, jid.JID{}, fmt.Errorf("cluster: handover request of %d bytes", len(b))
	}
	if err := json.Unmarshal(b, &req); err != nil {
		return req, jid.JID{}, fmt.Errorf("cluster: handover request: %w", err)
	}
	user, err := jid.Parse(req.User)
	if err != nil || user.Local() == "" || user.Resource() != "" {
		return req, jid.JID{}, fmt.Errorf("cluster: handover request for %q: not a bare JID", req.User)
	}
	if _, err := nodeOfID(req.ID); err != nil {
		return req, jid.JID{}, err
	}
	return req, user, nil
}

// parseHandover decodes a handover answer: the session, or the reason
// it was refused.
func parseHandover(b []byte, maxStanza int) (*handedOver, string, error) {
	var resp handoverResp
	if err := json.Unmarshal(b, &resp); err != nil {
		return nil, "", fmt.Errorf("cluster: handover answer: %w", err)
	}
	if resp.Err != "" {
		return nil, resp.Err, nil
	}
	st, full, pres, err := parseState([]byte(resp.State))
	if err != nil {
		return nil, "", err
	}
	out := &handedOver{Resumed: session.Resumed{Full: full, InH: resp.InH, Timeout: time.Duration(st.Timeout) * time.Second,
		Presence: pres, Priority: st.Priority, Flags: st.Flags, ArchiveSync: st.Sync}}
	for _, p := range resp.Pending {
		// The session is handed over already: a bad stanza is left out,
		// not the session.
		el, err := parseStanza([]byte(p), maxStanza)
		if err != nil || stanza.KindOf(el) == stanza.KindOther {
			out.Bad++
			continue
		}
		out.Pending = append(out.Pending, el)
	}
	return out, "", nil
}

// nodeAlive reports whether node's lease is current.
func (n *Node) nodeAlive(node string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	l := n.nodes[node]
	return l != nil && l.alive
}

// rebuild makes the session of a gone node again from its resume state
// and journal: what the journal holds past the client's h is sent again.
func (n *Node) rebuild(ctx context.Context, id string, st resumeState, full jid.JID, h uint32) (*session.Resumed, error) {
	out := &session.Resumed{Full: full, InH: st.InH, Timeout: time.Duration(st.Timeout) * time.Second,
		Priority: st.Priority, Flags: st.Flags, ArchiveSync: st.Sync}
	// The directory entry, while it lives, has the freshest presence.
	n.mu.Lock()
	ks := n.keys[keyOf(full)]
	var pres *stanza.Element
	if ks != nil && ks.e.Node == st.Node {
		out.Priority, out.Flags, pres = ks.e.Priority, ks.e.Flags, ks.pres
	}
	n.mu.Unlock()
	if pres == nil && st.Presence != "" {
		_, _, pres, _ = parseState(st.marshal())
		out.Rebroadcast = ks == nil || ks.e.Node != st.Node // the contacts were told it went away
	}
	out.Presence = pres
	entries, err := n.readJournal(ctx, id)
	if err != nil {
		n.log.Error("cluster: reading the journal of a resumed session; what it held may be lost", "session", full, "err", err)
	}
	for _, e := range entries {
		if d := smns.Delta(e.h, h); d > 0 && d < 1<<31 {
			out.Pending = append(out.Pending, e.st)
		}
	}
	n.purgeJournal(ctx, id)
	n.log.Info("cluster: session of a gone node resumed", "node", st.Node, "session", full, "resent", len(out.Pending), "client_h", h)
	return out, nil
}

// journalEntry is a message of a session's journal.
type journalEntry struct {
	h  uint32
	st *stanza.Element
}

// readJournal returns the journal of id, in outbound order, one entry
// per number (the last written).
func (n *Node) readJournal(ctx context.Context, id string) ([]journalEntry, error) {
	r := n.res
	if r.smq == nil {
		return nil, nil
	}
	cons, err := r.js.OrderedConsumer(ctx, n.journalStream(), jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{n.journalSubject(id)},
	})
	if err != nil {
		return nil, err
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return nil, err
	}
	left := int(info.NumPending)
	byH := make(map[uint32]*stanza.Element, left)
	for left > 0 {
		batch, err := cons.Fetch(min(left, 100), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return nil, err
		}
		got := 0
		for m := range batch.Messages() {
			got++
			e, err := parseJournal(m.Headers().Get(hdrH), m.Data(), n.opts.MaxStanzaBytes)
			if err != nil {
				n.log.Warn("cluster: bad journal entry", "err", err)
				continue
			}
			byH[e.h] = e.st
		}
		if err := batch.Error(); err != nil {
			return nil, err
		}
		if got == 0 {
			break
		}
		left -= got
	}
	out := make([]journalEntry, 0, len(byH))
	for h, st := range byH {
		out = append(out, journalEntry{h: h, st: st})
	}
	sort.Slice(out, func(i, j int) bool { return int32(out[i].h-out[j].h) < 0 })
	return out, nil
}
