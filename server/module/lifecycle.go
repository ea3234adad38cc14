package module

import (
	"context"
	"sync"
)

// Stopper is implemented by modules that have something to finish at
// shutdown. Stop is called once every session has ended, in the reverse
// order of registration, before the background work of modules (Host.Go)
// is cancelled and waited for, and before storage closes.
type Stopper interface {
	Stop(ctx context.Context) error
}

// Group runs the background work modules start with Host.Go under one
// context, so that shutdown can end it and wait for it before storage
// closes. The zero value is not usable; make one with NewGroup.
type Group struct {
	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex // guards stopped and the wg.Add that follows it
	// stopped is set by Stop: no work starts afterwards.
	stopped bool
	wg      sync.WaitGroup
}

// NewGroup returns a running group.
func NewGroup() *Group {
	ctx, cancel := context.WithCancel(context.Background())
	return &Group{ctx: ctx, cancel: cancel}
}

// Go runs fn in a goroutine with the group's context, which ends at
// shutdown; fn must return soon after it does. It reports false, and does
// not run fn, once the group is stopping.
func (g *Group) Go(fn func(ctx context.Context)) bool {
	g.mu.Lock()
	if g.stopped {
		g.mu.Unlock()
		return false
	}
	g.wg.Add(1)
	g.mu.Unlock()
	go func() {
		defer g.wg.Done()
		fn(g.ctx)
	}()
	return true
}

// Stop cancels the group's context and waits for its goroutines to
// return, at most until ctx ends (then it returns ctx's error).
func (g *Group) Stop(ctx context.Context) error {
	g.mu.Lock()
	g.stopped = true
	g.mu.Unlock()
	g.cancel()
	done := make(chan struct{})
	go func() { g.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Hook priorities (Registrar.Hook): lower values run first; hooks of one
// priority run in registration order (server/modules). A module uses the
// name of the role its hook plays, so the order of features reads here.
const (
	// PriorityBlock: XEP-0191 blocking refuses a stanza before any other
	// module sees it.
	PriorityBlock = -100
	// PriorityObserve: hooks that record or guard without consuming what
	// others need (XEP-0012 last activity).
	PriorityObserve = 0
	// PriorityStrip: removing what a client may not supply (XEP-0359
	// stanza ids in MAM's name) before anything stores or forwards it.
	PriorityStrip = 5
	// PriorityPEP: XEP-0163 presence-driven notifications and the IQs
	// PEP conversions watch.
	PriorityPEP = 50
	// PriorityPresence: RFC 6121 roster and presence processing.
	PriorityPresence = 100
	// PriorityOffline: storing an undeliverable message (RFC 6121
	// §8.5.2.1.1).
	PriorityOffline = 100
	// PriorityArchive: XEP-0313 archiving, after filters and before
	// copies and notifications.
	PriorityArchive = 800
	// PriorityNotify: copies and notifications of a message that was
	// delivered or archived (XEP-0280 carbons, XEP-0357 push).
	PriorityNotify = 900
)
