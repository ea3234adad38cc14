package offline

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/session"
	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// Namespaces and features used by the module.
const (
	// NSDelay is the delayed delivery namespace (XEP-0203).
	NSDelay = "urn:xmpp:delay"
	// Feature is the disco feature of offline storage (XEP-0160 §5).
	Feature = "msgoffline"
	// nsChatStates is the chat state notification namespace (XEP-0085).
	nsChatStates = "http://jabber.org/protocol/chatstates"
)

// stampLayout is the XEP-0082 DateTime profile, in UTC.
const stampLayout = "2006-01-02T15:04:05.000Z"

// Options configure the module.
type Options struct {
	// MaxBytes bounds the total size of the messages stored for one
	// account (their stored form); 0 means no bound. The number of
	// messages is bounded by the host's Limits().OfflineMessages.
	MaxBytes int64
}

// Module implements offline message storage.
type Module struct {
	opts Options
	host module.Host
	log  *slog.Logger

	// mu guards flushing: the users whose stored messages a goroutine is
	// delivering (one entry per user being flushed, so bounded by the
	// users online). No lock is held while delivering.
	mu       sync.Mutex
	flushing map[jid.JID]*flush
}

// flush is a delivery of a user's stored messages in progress; next is a
// session that asked for them meanwhile, served by the same goroutine.
type flush struct{ next *session.Session }

// New returns the offline message module.
func New(opts Options) module.Module {
	return &Module{opts: opts, flushing: make(map[jid.JID]*flush)}
}

// Name implements module.Module.
func (m *Module) Name() string { return "offline" }

type moduleError string

func (e moduleError) Error() string { return string(e) }

const errNoStore = moduleError("offline: the storage backend has no offline store")

// Register implements module.Module.
func (m *Module) Register(r module.Registrar) error {
	m.host = r.Host()
	m.log = m.host.Logger()
	if m.host.Stores().Offline == nil {
		return errNoStore
	}
	r.Hook(module.PhaseUndeliverable, stanza.KindMessage, module.PriorityOffline, m.undeliverable)
	r.OnSession(module.SessionAvailable, m.flushTo)
	r.Feature(module.TargetServer, Feature)
	return nil
}

// storable reports whether XEP-0160 §3 says a message should be kept.
func storable(st *stanza.Element) bool {
	switch st.MessageType() {
	case stanza.TypeNormal:
		return true
	case stanza.TypeChat:
		// A chat message with only chat state content is not stored.
		for _, c := range st.Elements() {
			if c.Name.Space != nsChatStates {
				return true
			}
		}
		return false
	}
	return false
}

// Stamp returns a copy of st carrying a <delay/> from domain at t
// (XEP-0203), replacing any delay the server itself added before.
func Stamp(st *stanza.Element, domain string, t time.Time) *stanza.Element {
	c := st.Clone() // a fresh clone has no cached serialisation to drop
	kept := c.Children[:0]
	for _, n := range c.Children {
		if n.Elem != nil && n.Elem.Name.Space == NSDelay && n.Elem.Name.Local == "delay" && n.Elem.Get("from") == domain {
			continue
		}
		kept = append(kept, n)
	}
	c.Children = kept
	d := stanza.New(NSDelay, "delay", "from", domain, "stamp", t.UTC().Format(stampLayout))
	d.AppendText("Offline Storage")
	return c.Append(d)
}

// undeliverable stores a message no session could take.
func (m *Module) undeliverable(ctx context.Context, p *module.Packet) module.Verdict {
	st := p.Stanza
	if !storable(st) {
		if st.MessageType() == stanza.TypeChat {
			return module.Handled // chat states only: dropped quietly
		}
		return module.Continue
	}
	user := p.To.Bare()
	stamped := Stamp(st, p.To.Domain(), m.host.Now())
	// RFC 6121 §8.5.2.2.1: a message the server cannot store is
	// bounced, never dropped silently.
	q := storage.Quota{Count: m.host.Limits().OfflineMessages, Bytes: m.opts.MaxBytes}
	b := stamped.AppendXML(nil, "")
	err := m.host.Stores().Offline.StoreOfflineWithin(ctx, user, b, q)
	switch {
	case errors.Is(err, storage.ErrQuota):
		m.log.Info("offline: store full, message bounced", "user", user, "from", p.From,
			"bytes", len(b), "max_messages", q.Count, "max_bytes", q.Bytes)
		m.bounce(ctx, p)
		return module.Handled
	case err != nil:
		m.log.Error("offline: cannot store a message", "user", user, "err", err)
		return module.Continue // the router refuses it
	}
	// A resource may have become available while the message was stored.
	for _, s := range m.host.Sessions().Available(user) {
		if s.Priority() >= 0 {
			m.flushTo(ctx, s)
			break
		}
	}
	return module.Handled
}

func (m *Module) bounce(ctx context.Context, p *module.Packet) {
	if !stanza.MayBounce(p.Stanza) {
		return
	}
	reply := stanza.ErrorReply(p.Stanza, stanza.Err(stanza.ServiceUnavailable))
	if reply.From() == "" {
		reply.Set("from", p.To.String())
	}
	m.host.Route(ctx, reply)
}

// flushTo delivers the stored messages, oldest first, to a session that
// sent initial presence with a non-negative priority, and deletes those
// it delivered. One goroutine at a time delivers a user's messages (so
// none goes out twice), with no lock held; a flush asked for meanwhile is
// left to it, which reads the store again for the latest session that
// asked. The caller's goroutine delivers as long as the session can take
// the messages at once; when the session must first drain its backlog
// (which it does only while its reader, maybe the caller, goes on), a
// goroutine of its own takes over. Those goroutines are bounded by the
// users online.
func (m *Module) flushTo(ctx context.Context, s *session.Session) {
	if s.Priority() < 0 {
		return
	}
	user := s.JID().Bare()
	m.mu.Lock()
	if f := m.flushing[user]; f != nil {
		f.next = s
		m.mu.Unlock()
		return
	}
	f := &flush{}
	m.flushing[user] = f
	m.mu.Unlock()
	m.flushLoop(ctx, f, user, s, false)
}

// flushLoop delivers to s, then to each session that asked meanwhile,
// until none did. With mayWait false it hands over to a goroutine of its
// own, which may wait, as soon as delivering would have to wait.
func (m *Module) flushLoop(ctx context.Context, f *flush, user jid.JID, s *session.Session, mayWait bool) {
	for {
		if !m.deliverStored(ctx, user, s, mayWait) {
			// The flush outlives the request that started it (a
			// presence, a stored message); it ends when the session
			// stops taking messages, or at shutdown, which waits for it.
			m.host.Go(func(ctx context.Context) { m.flushLoop(ctx, f, user, s, true) })
			return
		}
		m.mu.Lock()
		if f.next == nil {
			delete(m.flushing, user)
			m.mu.Unlock()
			return
		}
		s, f.next = f.next, nil
		m.mu.Unlock()
	}
}

// Pacing of a flush: stored messages may be many and large (up to the
// account's quota), more than a session may hold at once. The flush
// waits while the session's backlog is above paceHigh of a limit until it
// is back under paceLow, polling every paceTick; when the backlog has not
// shrunk for paceStall, the client is not reading and the flush stops,
// leaving the rest stored for its next login.
const (
	paceHigh  = 0.5
	paceLow   = 0.25
	paceTick  = 20 * time.Millisecond
	paceStall = 30 * time.Second
)

// deliverStored delivers a user's stored messages to s at the pace its
// connection takes them, deleting them in batches once delivered. With
// mayWait false it returns false, having delivered only part, when the
// next message would have to wait for s to drain its backlog.
func (m *Module) deliverStored(ctx context.Context, user jid.JID, s *session.Session, mayWait bool) (finished bool) {
	store := m.host.Stores().Offline
	msgs, err := store.OfflineMessages(ctx, user)
	if err != nil {
		m.log.Error("offline: cannot read stored messages", "user", user, "err", err)
		return true
	}
	if len(msgs) == 0 {
		return true
	}
	done := make([]int64, 0, min(len(msgs), deleteBatch))
	remove := func() {
		if len(done) == 0 {
			return
		}
		if err := store.DeleteOffline(ctx, user, done); err != nil {
			m.log.Error("offline: cannot delete delivered messages", "user", user, "err", err)
		}
		done = done[:0]
	}
	defer remove()
	for _, msg := range msgs {
		if b, ok := s.Backlog(); ok && b.Above(paceHigh) {
			if !mayWait {
				return false
			}
			if !m.pace(ctx, s) {
				m.log.Warn("offline: the session takes no more; the rest stays stored", "to", s.JID())
				return true
			}
		}
		el, err := stream.ParseElement(msg.Stanza, stream.DefaultLimits())
		if err != nil {
			// Kept, not lost: an operator can look at it.
			m.log.Error("offline: stored message unreadable", "user", user, "id", msg.ID, "err", err)
			continue
		}
		if err := s.Deliver(el); err != nil {
			m.log.Warn("offline: delivery stopped", "to", s.JID(), "err", err)
			return true
		}
		done = append(done, msg.ID)
		if len(done) >= deleteBatch {
			remove()
		}
	}
	return true
}

// deleteBatch is how many delivered messages are deleted at once.
const deleteBatch = 100

// pace waits until s can take another stored message without being taken
// for a slow consumer. It reports false when s stopped taking them (its
// backlog did not shrink for paceStall) or ctx ended.
func (m *Module) pace(ctx context.Context, s *session.Session) bool {
	return s.AwaitBacklog(ctx, paceLow, paceTick, paceStall)
}
