package pubsub

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
	xpubsub "github.com/parley-xmpp/parley/xmpp/pubsub"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// canAccess applies the node's access model to who, for subscribing and
// retrieving items (XEP-0060 §4.5, §6.1.3, §6.5.9); nil means allowed.
func (m *Module) canAccess(ctx context.Context, rq *request, n *node, who jid.JID) error {
	switch rq.affiliation(n, who) {
	case affOwner, affPublisher, affMember:
		return nil
	case affOutcast:
		return stanza.Errorf(stanza.Forbidden, "blocked from node %q", n.name)
	}
	switch n.cfg.AccessModel {
	case xpubsub.AccessOpen:
		return nil
	case xpubsub.AccessPresence:
		ok, err := m.inRoster(ctx, rq.owners(n), who, nil)
		if err != nil {
			return err
		}
		if !ok {
			return xpubsub.Error(stanza.NotAuthorized, xpubsub.CondPresenceSubscriptionRequired, "")
		}
		return nil
	case xpubsub.AccessRoster:
		groups := n.cfg.RosterGroupsAllowed
		ok, err := m.inRoster(ctx, rq.owners(n), who, func(it storage.RosterItem) bool {
			for _, g := range it.Groups {
				if slices.Contains(groups, g) {
					return true
				}
			}
			return false
		})
		if err != nil {
			return err
		}
		if !ok {
			return xpubsub.Error(stanza.NotAuthorized, xpubsub.CondNotInRosterGroup, "")
		}
		return nil
	}
	return xpubsub.Error(stanza.NotAllowed, xpubsub.CondClosedNode, "")
}

// inRoster reports whether one of owners has who in its roster with a
// presence subscription from who (from or both) and, when match is not
// nil, an item match accepts.
func (m *Module) inRoster(ctx context.Context, owners []jid.JID, who jid.JID, match func(storage.RosterItem) bool) (bool, error) {
	for _, o := range owners {
		it, err := m.stores.Roster.RosterItem(ctx, o, who.Bare())
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("pubsub: roster of %s: %w", o, err)
		}
		if it.Subscription != storage.SubFrom && it.Subscription != storage.SubBoth {
			continue
		}
		if match == nil || match(it) {
			return true, nil
		}
	}
	return false, nil
}

// canPublish applies the node's publish model (XEP-0060 §4.1, §7.1.3.1).
func (m *Module) canPublish(rq *request, n *node, who jid.JID, subscribed bool) error {
	switch rq.affiliation(n, who) {
	case affOwner, affPublisher, affPublishOnly:
		return nil
	case affOutcast:
		return stanza.Errorf(stanza.Forbidden, "blocked from node %q", n.name)
	}
	if rq.pep {
		return stanza.Errorf(stanza.Forbidden, "only the account publishes to its PEP nodes")
	}
	switch n.cfg.PublishModel {
	case xpubsub.PublishOpen:
		return nil
	case xpubsub.PublishSubscribers:
		if subscribed {
			return nil
		}
	}
	return stanza.Errorf(stanza.Forbidden, "not a publisher of node %q", n.name)
}
