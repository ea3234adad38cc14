package pubsub

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
	xpubsub "github.com/parley-xmpp/parley/xmpp/pubsub"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// Affiliations (XEP-0060 §4.1).
const (
	affOwner       = "owner"
	affPublisher   = "publisher"
	affPublishOnly = "publish-only"
	affMember      = "member"
	affNone        = "none"
	affOutcast     = "outcast"
)

const stateSubscribed = "subscribed"

// request is one pubsub request to a service.
type request struct {
	svc  jid.JID // the service: an account's bare JID (PEP) or a service domain
	pep  bool
	from jid.JID // the requester's full JID
	// after runs once the reply was sent (notifications that must follow
	// the result, such as the last item on subscription).
	after []func(ctx context.Context)
}

// defaults returns the default configuration of a new node of the service.
func (m *Module) defaults(pep bool) xpubsub.Config {
	if pep {
		return xpubsub.DefaultPEP()
	}
	return xpubsub.DefaultService()
}

// node is a loaded node.
type node struct {
	name string
	cfg  xpubsub.Config
	affs map[jid.JID]string // bare JID → affiliation
}

// loadNode returns a node, or <item-not-found/>.
func (m *Module) loadNode(ctx context.Context, rq *request, name string) (*node, error) {
	sn, err := m.stores.PubSub.PubSubNode(ctx, rq.svc, name)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, stanza.Errorf(stanza.ItemNotFound, "no node %q", name)
	}
	if err != nil {
		return nil, fmt.Errorf("pubsub: load node %q of %s: %w", name, rq.svc, err)
	}
	n := &node{name: name, cfg: xpubsub.ConfigFromValues(m.defaults(rq.pep), sn.Config), affs: map[jid.JID]string{}}
	affs, err := m.stores.PubSub.Affiliations(ctx, rq.svc, name)
	if err != nil {
		return nil, fmt.Errorf("pubsub: affiliations of %q of %s: %w", name, rq.svc, err)
	}
	for _, a := range affs {
		n.affs[a.JID] = a.Affiliation
	}
	return n, nil
}

// affiliation returns who's affiliation with n; on a PEP service the
// account is the owner of every node (XEP-0163 §3).
func (rq *request) affiliation(n *node, who jid.JID) string {
	if rq.pep && who.Bare() == rq.svc {
		return affOwner
	}
	if a, ok := n.affs[who.Bare()]; ok {
		return a
	}
	return affNone
}

// owners returns the bare JIDs owning n.
func (rq *request) owners(n *node) []jid.JID {
	if rq.pep {
		return []jid.JID{rq.svc}
	}
	var out []jid.JID
	for j, a := range n.affs {
		if a == affOwner {
			out = append(out, j)
		}
	}
	return out
}

// maxItems is how many items n keeps.
func (m *Module) maxItems(cfg xpubsub.Config) int {
	if !cfg.PersistItems {
		return 1 // the last item, for send_last_published_item
	}
	if cfg.MaxItems == xpubsub.MaxItemsMax || cfg.MaxItems > m.opts.MaxItems {
		return m.opts.MaxItems
	}
	return cfg.MaxItems
}

// checkConfig refuses configurations the service cannot honour.
func checkConfig(cfg xpubsub.Config) error {
	switch cfg.AccessModel {
	case xpubsub.AccessOpen, xpubsub.AccessPresence, xpubsub.AccessRoster, xpubsub.AccessWhitelist:
		return nil
	}
	return xpubsub.Error(stanza.NotAcceptable, xpubsub.CondUnsupportedAccessModel, "")
}

// createNode stores a new node with creator as owner (service nodes).
// The caller holds the service's lock, so the node count checked here
// cannot change before the node is stored.
func (m *Module) createNode(ctx context.Context, rq *request, name string, cfg xpubsub.Config) error {
	if err := m.checkNodeQuota(ctx, rq, name); err != nil {
		return err
	}
	err := m.stores.PubSub.CreateNode(ctx, storage.PubSubNode{Service: rq.svc, Node: name, Config: cfg.Values(), Created: m.host.Now()})
	if errors.Is(err, storage.ErrExists) {
		return stanza.Errorf(stanza.Conflict, "node %q exists", name)
	}
	if err != nil {
		return fmt.Errorf("pubsub: create %q on %s: %w", name, rq.svc, err)
	}
	if !rq.pep {
		if err := m.stores.PubSub.SetAffiliation(ctx, rq.svc, storage.PubSubAffiliation{Node: name, JID: rq.from.Bare(), Affiliation: affOwner}); err != nil {
			return fmt.Errorf("pubsub: owner of %q on %s: %w", name, rq.svc, err)
		}
	}
	m.log.DebugContext(ctx, "pubsub: node created", "service", rq.svc, "node", name)
	return nil
}

// checkNodeQuota refuses a new node when its owner already owns
// opts.MaxNodes: the nodes of a PEP service, or the nodes the requester
// owns on a pubsub service (so that no account can use up a shared
// service). XEP-0060 defines <max-nodes-exceeded/>; it goes with
// <not-allowed/>, as its sibling <max-items-exceeded/> does in the
// XEP's "Batch Processing" notes (and as §14 defines <not-allowed/>: an
// action the service implements but has disabled here).
func (m *Module) checkNodeQuota(ctx context.Context, rq *request, name string) error {
	if m.opts.MaxNodes <= 0 {
		return nil
	}
	owner := rq.svc
	n := 0
	if rq.pep {
		nodes, err := m.stores.PubSub.PubSubNodes(ctx, rq.svc)
		if err != nil {
			return fmt.Errorf("pubsub: count the nodes of %s: %w", rq.svc, err)
		}
		n = len(nodes)
	} else {
		owner = rq.from.Bare()
		affs, err := m.stores.PubSub.Affiliations(ctx, rq.svc, "")
		if err != nil {
			return fmt.Errorf("pubsub: count the nodes of %s on %s: %w", owner, rq.svc, err)
		}
		for _, a := range affs {
			if a.JID == owner && a.Affiliation == affOwner {
				n++
			}
		}
	}
	if n < m.opts.MaxNodes {
		return nil
	}
	m.log.InfoContext(ctx, "pubsub: node quota reached, node refused", "service", rq.svc, "owner", owner, "node", name, "nodes", n, "max", m.opts.MaxNodes)
	return xpubsub.Error(stanza.NotAllowed, xpubsub.CondMaxNodesExceeded, fmt.Sprintf("at most %d nodes per account", m.opts.MaxNodes))
}

// newID returns a random identifier for instant nodes, items and
// subscriptions.
func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
