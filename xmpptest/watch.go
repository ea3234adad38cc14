package xmpptest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/session"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// watcher is a module registered after every other one: its
// SessionEnded callback therefore runs after theirs, and tells the test
// that a session's end has been fully handled.
type watcher struct {
	mu    sync.Mutex
	ended map[string]int // full JID -> sessions of it that ended
	wake  chan struct{}  // closed and replaced on every end
}

func newWatcher() *watcher { return &watcher{ended: make(map[string]int), wake: make(chan struct{})} }

// Name implements module.Module.
func (w *watcher) Name() string { return "xmpptest" }

// Register implements module.Module.
func (w *watcher) Register(r module.Registrar) error {
	r.OnSession(module.SessionEnded, func(_ context.Context, s *session.Session) {
		w.mu.Lock()
		w.ended[s.JID().String()]++
		close(w.wake)
		w.wake = make(chan struct{})
		w.mu.Unlock()
	})
	return nil
}

// WaitSessionEnded waits until a session of the full JID j has ended and
// every module's SessionEnded callback for it has run, failing the test
// after Wait. A session that ended before the call counts.
func (s *Server) WaitSessionEnded(t testing.TB, j jid.JID) {
	t.Helper()
	timeout := time.After(Wait)
	for {
		s.watch.mu.Lock()
		n, wake := s.watch.ended[j.String()], s.watch.wake
		s.watch.mu.Unlock()
		if n > 0 {
			return
		}
		select {
		case <-wake:
		case <-timeout:
			t.Fatalf("xmpptest: the session of %s did not end", j)
		}
	}
}
