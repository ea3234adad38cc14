package offline

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/sm"
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
type flush struct{ next *sm.Session }

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
	r.Hook(module.PhaseUndeliverable, stanza.KindMessage, 100, m.undeliverable)
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
// none goes out twice); a flush asked for meanwhile is left to it, which
// reads the store again for the latest session that asked.
func (m *Module) flushTo(ctx context.Context, s *sm.Session) {
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
	for {
		m.deliverStored(ctx, user, s)
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

// deliverStored delivers user's stored messages to s and deletes those it
// took; the caller is the user's only flusher.
func (m *Module) deliverStored(ctx context.Context, user jid.JID, s *sm.Session) {
	store := m.host.Stores().Offline
	msgs, err := store.OfflineMessages(ctx, user)
	if err != nil {
		m.log.Error("offline: cannot read stored messages", "user", user, "err", err)
		return
	}
	if len(msgs) == 0 {
		return
	}
	done := make([]int64, 0, len(msgs))
	for _, msg := range msgs {
		el, err := stream.ParseElement(msg.Stanza, stream.DefaultLimits())
		if err != nil {
			// Kept, not lost: an operator can look at it.
			m.log.Error("offline: stored message unreadable", "user", user, "id", msg.ID, "err", err)
			continue
		}
		if err := s.Deliver(el); err != nil {
			m.log.Warn("offline: delivery stopped", "to", s.JID(), "err", err)
			break
		}
		done = append(done, msg.ID)
	}
	if len(done) == 0 {
		return
	}
	if err := store.DeleteOffline(ctx, user, done); err != nil {
		m.log.Error("offline: cannot delete delivered messages", "user", user, "err", err)
	}
}
