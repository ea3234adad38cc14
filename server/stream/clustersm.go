package stream

// Stream management (XEP-0198) across the nodes of a cluster. With
// StreamManagement.Cluster set, the engine tells the cluster what it
// needs to let another node resume a session of this one:
//
//   - a resumable session's id comes from the cluster (Resumer.NewID), and
//     the cluster records the session when it becomes resumable (Enabled);
//   - every message that would go back to the router if the session ended
//     unacknowledged is journaled at delivery, under the outbound h it
//     will have (Journal), and the client's acks are reported (Acked);
//   - before the server acknowledges the client's stanzas (<a h/>), the
//     cluster makes durable what they caused (Checkpoint);
//   - a session that ends for good is forgotten (Forget);
//   - a <resume/> naming no session of this node asks the cluster
//     (Resume), which hands it over from its node, alive, or rebuilds it
//     from what that node recorded, dead.
//
// Without a cluster none of this runs: a nil check on the paths above.

import (
	"context"
	"errors"
	"time"

	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/session"
	"github.com/parley-xmpp/parley/xmpp/jid"
	smns "github.com/parley-xmpp/parley/xmpp/sm"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	xstream "github.com/parley-xmpp/parley/xmpp/stream"
)

// Resumer is stream management across the nodes of a cluster
// (session.Resumer).
type Resumer = session.Resumer

// Resumed is a session handed over from another node (session.Resumed).
type Resumed = session.Resumed

// ErrNotResumable is returned by HandOver for a session that is not (or
// no longer) resumable here.
var ErrNotResumable = errors.New("c2s: no resumable session")

// Journaled reports whether a stanza is what the cluster journals: a
// message the session's end would hand back to the router, with content
// that would reach an inactive client at once (so that it is never held
// back, and its outbound number is known at delivery).
func Journaled(st *stanza.Element) bool {
	if stanza.KindOf(st) != stanza.KindMessage || st.From() == "" {
		return false
	}
	switch st.MessageType() {
	case stanza.TypeError, stanza.TypeGroupchat, stanza.TypeHeadline:
		return false
	}
	return urgentMessage(st, 0)
}

// journalHLocked returns the outbound number of the last stanza queued
// (the one just appended to items). q.mu is held.
func (q *outQueue) journalHLocked() uint32 {
	n := q.ack.acked + uint32(len(q.ack.unacked))
	for _, it := range q.items {
		if isStanza(it) {
			n++
		}
	}
	return n
}

// journalLocked journals st, just queued, if the cluster keeps it.
// q.mu is held, and released.
func (c *conn) journalLocked(st *stanza.Element) {
	q := &c.out
	if !Journaled(st) {
		q.mu.Unlock()
		return
	}
	id, h := q.ack.id, q.journalHLocked()
	q.mu.Unlock()
	c.cfg.SM.Cluster.Journal(id, h, st)
}

// smCluster returns the cluster's resumer when the session is
// resumable across nodes.
func (c *conn) smCluster() Resumer {
	if c.cfg.SM.Cluster == nil || c.sm.id == "" {
		return nil
	}
	return c.cfg.SM.Cluster
}

// resumeRemote resumes, on this stream, a session another node held
// (the cluster hands it over or rebuilds it): see resumeSM.
func (c *conn) resumeRemote(ctx context.Context, r smns.Resume, first func(*stanza.Element) *stanza.Element) (*stanza.Element, error) {
	res, err := c.cfg.SM.Cluster.Resume(ctx, c.user, r.PrevID, r.H)
	if err != nil {
		var se *xstream.Error
		if errors.As(err, &se) {
			return nil, se
		}
		c.log.Info("c2s: no session to resume in the cluster", "previd", r.PrevID, "err", err)
		return smns.Failed{Condition: stanza.ItemNotFound}.Element(), nil
	}
	s := session.NewSession(res.Full, c)
	for _, f := range res.Flags {
		s.SetFlag(f, true)
	}
	if res.ArchiveSync {
		s.SetValue(module.ArchiveSync{}, true)
	}
	if res.Presence != nil {
		s.SetPresence(res.Presence, res.Priority)
	}
	replaced, err := c.cfg.Sessions.Bind(s)
	if err != nil {
		// Rebuilt but not bound: what it held goes back to the router.
		c.log.Warn("c2s: resumed session not bound", "jid", res.Full, "err", err)
		c.session = s
		c.reroute(ctx, res.Pending, time.Time{})
		c.session = nil
		return smns.Failed{Condition: stanza.ResourceConstraint}.Element(), nil
	}
	if replaced != nil {
		replaced.Conn().Close(&xstream.Error{Condition: xstream.Conflict, Text: "replaced by a resumed session"})
	}
	c.sm = smReader{enabled: true, id: r.PrevID, inH: res.InH, timeoutMS: millis(res.Timeout)}
	c.enterSession(s)
	cost := 0
	for _, st := range res.Pending {
		cost += stanzaCost(st)
	}
	q := &c.out
	q.mu.Lock()
	q.bytes += cost
	q.ack.on, q.ack.resumable, q.ack.acked, q.ack.id = true, true, r.H, r.PrevID
	resumed := smns.Resume{PrevID: r.PrevID, H: res.InH}.ResumedElement()
	if first != nil {
		resumed = first(resumed)
	}
	q.items = append(q.items, resumed)
	q.items = append(q.items, res.Pending...)
	c.kickLocked()
	q.mu.Unlock()
	rs := c.cfg.SM.Cluster
	c.cfg.Sessions.AddResumable(r.PrevID, s)
	rs.Enabled(s, r.PrevID, res.Timeout)
	// The journal numbers what is sent again from the client's h on.
	for i, st := range res.Pending {
		if Journaled(st) {
			rs.Journal(r.PrevID, r.H+uint32(i)+1, st)
		}
	}
	c.cfg.Router.Emit(ctx, module.SessionBound, s)
	if res.Rebroadcast && res.Presence != nil {
		p := res.Presence.Clone()
		p.Set("from", res.Full.String())
		p.Set("to", "")
		c.cfg.Router.RouteFrom(ctx, s, p)
	}
	c.log.Info("c2s: session resumed from another node", "resent", len(res.Pending), "h", res.InH)
	return nil, nil
}

// HandOver detaches the resumable session s of this node for a
// resumption on another node by user, whose client received h stanzas:
// the old stream (if still open) ends with <conflict/>, the session is
// forgotten here without its unavailable presence (it goes on
// elsewhere), and what the client did not acknowledge is returned with
// the session's state.
func HandOver(ctx context.Context, s *session.Session, user jid.JID, h uint32) (*Resumed, error) {
	if s == nil || s.JID().Bare() != user {
		return nil, ErrNotResumable
	}
	old, ok := s.Conn().(*conn)
	if !ok {
		return nil, ErrNotResumable
	}
	q := &old.out
	q.mu.Lock()
	was := q.ack.phase
	if !q.ack.resumable || (was != smLive && was != smDetached) {
		q.mu.Unlock()
		return nil, ErrNotResumable
	}
	q.ack.phase = smTaken
	if t := q.ack.expiry; t != nil {
		t.Stop()
	}
	q.mu.Unlock()
	if was == smLive {
		old.Close(&xstream.Error{Condition: xstream.Conflict, Text: "the session was resumed on another node"})
	}
	wait := time.NewTimer(resumeWait)
	defer wait.Stop()
	select {
	case <-old.done:
	case <-wait.C:
		old.log.Error("c2s: the connection handed over did not stop in time")
		old.expireTaken(ctx)
		return nil, ErrNotResumable
	}
	// The other node reports inH in <resumed h/>: what the stanzas it
	// counts left to be made durable here (the archive's writes) is,
	// first.
	old.cfg.Router.Barrier(ctx, s)
	inH := old.sm.inH
	q.mu.Lock()
	if se := q.ackLocked(h); se != nil {
		q.mu.Unlock()
		old.log.Warn("c2s: resumption on another node acknowledged more than was sent", "h", h)
		go old.endSession(context.WithoutCancel(ctx))
		return nil, se
	}
	pending := append([]*stanza.Element(nil), q.ack.unacked...)
	pending = appendStanzas(pending, q.items)
	pending = appendStanzas(pending, q.csi.held)
	q.ack.unacked, q.items, q.csi.held = nil, nil, nil
	q.bytes = 0
	q.closed = true
	q.ack.phase = smEnded
	old.stopTimersLocked()
	q.mu.Unlock()
	res := &Resumed{
		Full: s.JID(), InH: inH, Timeout: old.sm.timeout(), Priority: s.Priority(), Flags: s.Flags(),
		ArchiveSync: s.Value(module.ArchiveSync{}) != nil, Pending: pending,
	}
	if s.Available() {
		res.Presence = s.Presence()
	}
	// Forgotten here without its unavailable presence: it is not
	// available from the modules' point of view when it ends.
	table := old.cfg.Sessions
	table.RemoveResumable(old.sm.id, s)
	table.Unbind(s)
	s.SetObserver(nil)
	s.SetPresence(nil, 0)
	s.SetDetached(false)
	old.cfg.Router.Emit(context.WithoutCancel(ctx), module.SessionEnded, s)
	old.log.Info("c2s: session handed over to another node", "pending", len(pending), "h", inH)
	return res, nil
}

// waitMoved waits, when this server's streams were sent to another node
// of a cluster (<see-other-host/>), until their resumable sessions are
// resumed there (HandOver), for at most StreamManagement.DrainWait or
// until ctx ends; the rest then end here (endDetached).
func (s *Server) waitMoved(ctx context.Context) {
	cfg := s.cfg.Load()
	if cfg.SM.Cluster == nil || cfg.SM.DrainWait <= 0 {
		return
	}
	t := time.NewTimer(cfg.SM.DrainWait)
	defer t.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for s.movingLeft() > 0 {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			cfg.Log.Info("c2s: sessions not resumed on another node in time end here", "sessions", s.movingLeft())
			return
		case <-tick.C:
		}
	}
}

// movingLeft counts this server's detached sessions whose stream was
// sent to another node.
func (s *Server) movingLeft() int {
	n := 0
	for _, ss := range s.cfg.Load().Sessions.All() {
		if !ss.Detached() {
			continue
		}
		if c, ok := ss.Conn().(*conn); ok && c.srv == s && c.moving.Load() {
			n++
		}
	}
	return n
}
