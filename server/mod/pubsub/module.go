package pubsub

import (
	"context"
	"encoding/xml"
	"errors"
	"hash/maphash"
	"log/slog"
	"sync"

	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/xmpp/jid"
	xpubsub "github.com/parley-xmpp/parley/xmpp/pubsub"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// DefaultPrefix is the label prepended to each served domain to name its
// pubsub service.
const DefaultPrefix = "pubsub"

// HookPriority orders the module's presence hooks: after blocking, before
// the roster module broadcasts presence (so the XEP-0153 hash is in it).
const HookPriority = module.PriorityPEP

// Options configure the module.
type Options struct {
	// Prefix names the service domain "<Prefix>.<domain>"; empty means
	// DefaultPrefix, "-" disables the services (PEP stays).
	Prefix string
	// MaxItems is the service's limit on items per node, what max_items
	// "max" means; 0 means 1000.
	MaxItems int
	// MaxPayload is the limit on the serialised size of one item; 0 means
	// 512 KiB.
	MaxPayload int
	// MaxNodes bounds the nodes one account owns: all the nodes of its
	// PEP service, and the nodes it created on a pubsub service; 0 means
	// no bound.
	MaxNodes int
	// MaxBytes bounds the item payloads in the nodes one account owns
	// (the same nodes as MaxNodes); 0 means no bound.
	MaxBytes int64
}

// Module is the PEP and pubsub service module.
type Module struct {
	opts   Options
	host   module.Host
	log    *slog.Logger
	stores module.Stores

	seed  maphash.Seed
	locks [64]sync.Mutex

	caps     *capsCache
	presence *presenceTracker
	avatars  *avatarCache
}

// New returns the module.
func New(opts Options) *Module {
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.MaxItems <= 0 {
		opts.MaxItems = 1000
	}
	if opts.MaxPayload <= 0 {
		opts.MaxPayload = 512 << 10
	}
	return &Module{
		opts:     opts,
		seed:     maphash.MakeSeed(),
		caps:     newCapsCache(),
		presence: newPresenceTracker(),
		avatars:  newAvatarCache(),
	}
}

var (
	_ module.Module = (*Module)(nil)
)

// Name implements module.Module.
func (*Module) Name() string { return "pubsub" }

// pepFeatures are the XEP-0060 features of both kinds of service.
var pepFeatures = []string{
	"access-open", "access-presence", "access-roster", "access-whitelist",
	"auto-create", "auto-subscribe", "config-node", "create-and-configure", "create-nodes",
	"delete-items", "delete-nodes", "filtered-notifications", "instant-nodes", "item-ids",
	"last-published", "manage-subscriptions", "member-affiliation", "modify-affiliations",
	"multi-items", "persistent-items", "presence-notifications", "presence-subscribe",
	"publish", "publish-options", "publisher-affiliation", "purge-nodes", "retract-items",
	"retrieve-affiliations", "retrieve-default", "retrieve-items", "retrieve-subscriptions",
	"subscribe",
}

// Register implements module.Module.
func (m *Module) Register(r module.Registrar) error {
	m.host = r.Host()
	m.log = m.host.Logger()
	m.stores = m.host.Stores()
	if m.stores.PubSub == nil || m.stores.Roster == nil {
		return errors.New("pubsub: the storage backend has no pubsub or roster store")
	}
	r.Identity(module.TargetAccount, module.Identity{Category: "pubsub", Type: "pep"})
	r.Feature(module.TargetAccount, xpubsub.NS)
	for _, f := range pepFeatures {
		r.Feature(module.TargetAccount, xpubsub.Feature(f))
	}
	r.Feature(module.TargetServer, xpubsub.Feature("publish-options"))
	r.Feature(module.TargetAccount, nsPEPVCardConversion)
	r.Feature(module.TargetAccount, nsBookmarksCompat)

	for _, typ := range []string{stanza.TypeGet, stanza.TypeSet} {
		for _, ns := range []string{xpubsub.NS, xpubsub.NSOwner} {
			key := module.IQKey{Type: typ, Name: xml.Name{Space: ns, Local: "pubsub"}, Target: module.TargetAccount}
			r.HandleIQ(key, m.pepIQ)
		}
	}
	if m.opts.Prefix != "-" {
		for _, d := range m.host.Domains() {
			svc, err := jid.New("", m.opts.Prefix+"."+d, "")
			if err != nil {
				return err
			}
			r.ServiceDomain(svc.String(), m.serviceHook(svc))
		}
	}
	r.Hook(module.PhaseOutbound, stanza.KindPresence, HookPriority, m.outboundPresence)
	r.Hook(module.PhaseInbound, stanza.KindPresence, HookPriority, m.inboundPresence)
	r.Hook(module.PhaseOutbound, stanza.KindIQ, HookPriority, m.outboundIQ)
	r.OnSession(module.SessionEnded, m.sessionEnded)
	r.AccountItems(m.pepItems)
	r.OnAccountDeleted(func(_ context.Context, user jid.JID) { m.avatars.forget(user) })
	return nil
}

// goBackground runs fn in a goroutine the server waits for at shutdown
// (module.Host.Go).
func (m *Module) goBackground(fn func(ctx context.Context)) { m.host.Go(fn) }

// lock takes the lock stripe of a service and returns its unlock.
func (m *Module) lock(service jid.JID) func() {
	mu := &m.locks[maphash.String(m.seed, service.String())%uint64(len(m.locks))]
	mu.Lock()
	return mu.Unlock
}
