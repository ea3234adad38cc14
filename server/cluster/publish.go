package cluster

import (
	"context"
	"errors"
	"hash/maphash"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/parley-xmpp/parley/server/session"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// local is the state of a session bound on this node in the sessions
// bucket.
type local struct {
	s     *session.Session
	key   string
	rev   uint64 // of this node's last write of the entry; 0 before
	ended bool
	w     *worker
}

// publishWorkers write the entries of local sessions; a session's
// writes all go through one of them, in order.
const publishWorkers = 4

// worker writes the entries of the local sessions hashed to it. dirty
// holds those with a change not written yet: one slot per session,
// however many changes it had, so it is bounded by the sessions.
type worker struct {
	dirty map[*local]struct{} // guarded by Node.mu
	busy  bool                // writing a batch; guarded by Node.mu
	wake  chan struct{}
}

var workerSeed = maphash.MakeSeed()

// Bound publishes a session bound on this node (module.SessionBound).
func (n *Node) Bound(s *session.Session) {
	key := keyOf(s.JID())
	n.mu.Lock()
	l := &local{s: s, key: key, w: &n.workers[maphash.String(workerSeed, key)%publishWorkers]}
	n.locals[s] = l
	ks := n.keys[key]
	if ks == nil {
		ks = &keyState{key: key, full: s.JID()}
		n.keys[key] = ks
	}
	ks.local = l
	n.markDirty(l)
	n.mu.Unlock()
	s.SetObserver(n.changed)
}

// changed is the observer of local sessions: their presence or flags
// changed.
func (n *Node) changed(s *session.Session) {
	n.mu.Lock()
	if l := n.locals[s]; l != nil {
		n.markDirty(l)
	}
	n.mu.Unlock()
}

// Ended removes a session that ended on this node (module.SessionEnded)
// from the directory.
func (n *Node) Ended(s *session.Session) {
	s.SetObserver(nil)
	n.mu.Lock()
	if l := n.locals[s]; l != nil {
		delete(n.locals, s)
		l.ended = true
		if ks := n.keys[l.key]; ks != nil && ks.local == l {
			ks.local = nil
			if ks.rev == 0 {
				delete(n.keys, l.key)
			}
		}
		n.markDirty(l)
	}
	n.mu.Unlock()
}

// markDirty schedules l's entry to be written. n.mu is held.
func (n *Node) markDirty(l *local) {
	l.w.dirty[l] = struct{}{}
	select {
	case l.w.wake <- struct{}{}:
	default:
	}
}

// work writes the entries of w's sessions until the node closes, retrying
// what failed every second.
func (n *Node) work(w *worker) {
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	for {
		select {
		case <-w.wake:
		case <-retry.C:
		case <-n.ctx.Done():
			return
		}
		n.mu.Lock()
		batch := make([]*local, 0, len(w.dirty))
		for l := range w.dirty {
			batch = append(batch, l)
		}
		clear(w.dirty)
		w.busy = len(batch) > 0
		n.mu.Unlock()
		failed := false
		for _, l := range batch {
			if err := n.write(l); err != nil {
				if n.ctx.Err() != nil {
					return
				}
				n.log.Warn("cluster: session entry not written; retrying", "session", l.s.JID(), "err", err)
				n.mu.Lock()
				if l.ended || n.locals[l.s] == l {
					n.markDirty(l)
				}
				n.mu.Unlock()
				failed = true
			}
		}
		n.mu.Lock()
		w.busy = false
		n.mu.Unlock()
		if failed {
			retry.Reset(time.Second)
		}
	}
}

// write brings l's entry up to date: written while the session lives,
// deleted once it ended (unless another session took the key since).
func (n *Node) write(l *local) error {
	ctx, cancel := context.WithTimeout(n.ctx, 5*time.Second)
	defer cancel()
	n.mu.Lock()
	ended, rev := l.ended, l.rev
	n.mu.Unlock()
	if ended {
		if rev == 0 {
			return nil
		}
		err := n.sessKV.Delete(ctx, l.key, jetstream.LastRevision(rev))
		if errors.Is(err, jetstream.ErrKeyExists) {
			return nil // rewritten since: another session's now
		}
		return err
	}
	val := entryOf(l.s, n.self, n.inc).marshal()
	var err error
	if rev == 0 {
		// A new session wins over any other of its full JID.
		rev, err = n.sessKV.Put(ctx, l.key, val)
	} else {
		rev, err = n.sessKV.Update(ctx, l.key, val, rev)
		if errors.Is(err, jetstream.ErrKeyExists) {
			// Written by another node since: that session is newer, and
			// the watch ends this one; or deleted, and the watch writes
			// it again.
			return nil
		}
	}
	if err != nil {
		return err
	}
	var conflict bool
	n.mu.Lock()
	l.rev = rev
	if ks := n.keys[l.key]; ks != nil && ks.rev > rev && ks.e.Node != n.self && ks.e.Node != "" && !l.ended {
		conflict = true // a newer session elsewhere was seen before this write returned
	}
	n.mu.Unlock()
	if conflict {
		n.log.Info("cluster: resource bound on another node; ending this node's session", "session", l.s.JID())
		l.s.Conn().Close(&stream.Error{Condition: stream.Conflict})
	}
	return nil
}

// flush waits until the workers wrote what is dirty, at most until ctx
// ends (at shutdown).
func (n *Node) flush(ctx context.Context) {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		n.mu.Lock()
		idle := true
		for i := range n.workers {
			idle = idle && len(n.workers[i].dirty) == 0 && !n.workers[i].busy
		}
		n.mu.Unlock()
		if idle {
			return
		}
		select {
		case <-ctx.Done():
			n.log.Warn("cluster: session entries left unwritten at shutdown; the other nodes drop them when this node's lease ends")
			return
		case <-t.C:
		}
	}
}
