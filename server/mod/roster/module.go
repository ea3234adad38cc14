package roster

import (
	"context"
	"encoding/xml"
	"hash/maphash"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/session"
	"github.com/parley-xmpp/parley/xmpp/jid"
	xroster "github.com/parley-xmpp/parley/xmpp/roster"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// HookPriority is the priority of the module's presence hooks; modules
// that filter presence (blocking, privacy) should register lower values so
// they run first.
const HookPriority = module.PriorityPresence

const lockStripes = 64

// Options configure the module.
type Options struct {
	// MaxItems bounds the items of one roster; 0 means no bound.
	MaxItems int
	// MaxPending bounds the unanswered inbound subscription requests kept
	// for one user; 0 means no bound.
	MaxPending int
	// Components are the external components and their privileges
	// (XEP-0356): roster access, roster pushes and presence.
	Components module.Components
}

// Module implements rosters, subscriptions and presence (RFC 6121).
type Module struct {
	opts Options
	host module.Host
	log  *slog.Logger

	seed    maphash.Seed
	locks   [lockStripes]sync.Mutex
	pushSeq atomic.Uint64
	cache   *cache
	// presences keeps one copy of each distinct stored presence.
	presences *session.PresenceShare
	// forwarded dedups contacts' presence sent to privileged components.
	forwarded forwardedPresence
}

// New returns the roster and presence module.
func New(opts Options) module.Module {
	return &Module{opts: opts, seed: maphash.MakeSeed(), cache: newCache()}
}

// Name implements module.Module.
func (m *Module) Name() string { return "roster" }

// Register implements module.Module.
func (m *Module) Register(r module.Registrar) error {
	m.host = r.Host()
	m.log = m.host.Logger()
	if m.host.Stores().Roster == nil {
		return errNoStore
	}
	m.presences = session.NewPresenceShare(m.host.Limits().SharedPresences)
	query := xml.Name{Space: xroster.NS, Local: "query"}
	r.HandleIQ(module.IQKey{Type: stanza.TypeGet, Name: query, Target: module.TargetAccount}, m.handleGet)
	r.HandleIQ(module.IQKey{Type: stanza.TypeSet, Name: query, Target: module.TargetAccount}, m.handleSet)
	r.Hook(module.PhaseOutbound, stanza.KindPresence, HookPriority, m.outbound)
	r.Hook(module.PhaseInbound, stanza.KindPresence, HookPriority, m.inbound)
	r.OnSession(module.SessionEnded, m.sessionEnded)
	r.OnAccountDeleted(func(_ context.Context, user jid.JID) { m.invalidate(user) })
	// Another node of a cluster wrote a roster: its copy here is stale.
	r.OnInvalidate(cacheTopic, func(_ context.Context, user jid.JID) { m.cache.invalidate(user) })
	r.ProvideRoster(service{m})
	r.StreamFeature(stanza.New(xroster.NSVersioning, "ver"))
	r.StreamFeature(stanza.New(xroster.NSPreApproval, "sub"))
	return nil
}

// cacheTopic names the roster cache's invalidations between the nodes of
// a cluster (module.Host.Invalidate).
const cacheTopic = "roster"

// invalidate drops user's cached roster here and on the other nodes of a
// cluster, after a write (or its attempt).
func (m *Module) invalidate(user jid.JID) {
	m.cache.invalidate(user)
	m.host.Invalidate(cacheTopic, user)
}

type moduleError string

func (e moduleError) Error() string { return string(e) }

const errNoStore = moduleError("roster: the storage backend has no roster store")

// lock takes the lock stripe of a user's roster and returns its unlock.
func (m *Module) lock(user jid.JID) func() {
	mu := &m.locks[maphash.String(m.seed, user.String())%lockStripes]
	mu.Lock()
	return mu.Unlock
}

// interestedFlag marks, in a session's flags, a session that requested
// the roster: an interested resource (RFC 6121 §2.1.6), which gets roster
// pushes. A flag, not a value, so that a cluster's other nodes push to it
// too.
const interestedFlag = "roster"

// push sends a roster push with one item to every interested resource of
// the user (RFC 6121 §2.1.6), carrying the new roster version.
func (m *Module) push(user jid.JID, it xroster.Item, ver int64) {
	q := &xroster.Query{Ver: strconv.FormatInt(ver, 10), HasVer: true, Items: []xroster.Item{it}}
	payload := q.Element()
	m.pushToComponents(context.Background(), user, payload)
	for _, s := range m.host.Sessions().Sessions(user) {
		if !s.Flag(interestedFlag) {
			continue
		}
		id := "push" + strconv.FormatUint(m.pushSeq.Add(1), 36)
		iq := stanza.NewIQ(stanza.TypeSet, id, s.JID().String(), payload.Clone())
		if err := s.Deliver(iq); err != nil {
			m.log.Debug("roster: push not delivered", "to", s.JID(), "err", err)
		}
	}
}

// route sends a presence stanza of the given type from one entity to
// another through the router.
func (m *Module) route(ctx context.Context, typ string, from, to jid.JID) {
	p := stanza.New(stanza.NSClient, "presence", "from", from.String(), "to", to.String())
	p.Set("type", typ)
	m.host.Route(ctx, p)
}
