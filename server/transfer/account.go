package transfer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// Account is everything stored for one account except its archive, which
// can be large and is paged separately (see ArchivePages).
type Account struct {
	User          jid.JID
	Keys          []storage.SCRAMKey
	Disabled      bool
	Roster        []storage.RosterItem
	RosterVersion int64
	Requests      []storage.SubscriptionRequest
	Offline       []storage.OfflineMessage
	VCard         []byte
	Private       map[string][]byte
	Blocked       []jid.JID
	// Last is the last activity; nil when none was recorded.
	Last *LastActivity
	// ArchivePrefs are the archiving preferences; nil when never set.
	ArchivePrefs *storage.ArchivePrefs
	// PEP holds the nodes of the account's PEP service, sorted by name.
	PEP  []Node
	Push []storage.PushRegistration
	// Fast holds the FAST tokens per client, sorted by client.
	Fast []FastClient
}

// LastActivity is a recorded logout (XEP-0012).
type LastActivity struct {
	At     time.Time
	Status string
}

// FastClient holds the FAST tokens of one client of an account.
type FastClient struct {
	Client string
	Tokens []storage.FastToken
}

// Node is a publish-subscribe node with all its data.
type Node struct {
	storage.PubSubNode
	// Items are oldest first, the order in which they are re-published.
	Items         []storage.PubSubItem
	Affiliations  []storage.PubSubAffiliation
	Subscriptions []storage.PubSubSubscription
}

// Service is a publish-subscribe service that is not an account's PEP
// service, such as pubsub.example.org.
type Service struct {
	JID   jid.JID
	Nodes []Node
}

// archivePage is how many archived messages are read at a time.
const archivePage = 500

// ReadAccount reads every datum of user except its archive through the
// storage interfaces.
func ReadAccount(ctx context.Context, s storage.Stores, user jid.JID) (*Account, error) {
	a := &Account{User: user, Private: map[string][]byte{}}
	var err error
	if a.Keys, err = s.Accounts.Keys(ctx, user); err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	if a.Disabled, err = s.Status.Disabled(ctx, user); err != nil {
		return nil, fmt.Errorf("disabled flag: %w", err)
	}
	if a.Roster, a.RosterVersion, err = s.Roster.RosterItems(ctx, user); err != nil {
		return nil, fmt.Errorf("roster: %w", err)
	}
	if a.Requests, err = s.Roster.SubscriptionRequests(ctx, user); err != nil {
		return nil, fmt.Errorf("subscription requests: %w", err)
	}
	if a.Offline, err = s.Offline.OfflineMessages(ctx, user); err != nil {
		return nil, fmt.Errorf("offline messages: %w", err)
	}
	if a.VCard, err = s.VCards.VCard(ctx, user); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return nil, fmt.Errorf("vCard: %w", err)
	}
	keys, err := s.Private.PrivateKeys(ctx, user)
	if err != nil {
		return nil, fmt.Errorf("private XML: %w", err)
	}
	for _, k := range keys {
		if a.Private[k], err = s.Private.PrivateXML(ctx, user, k); err != nil {
			return nil, fmt.Errorf("private XML %q: %w", k, err)
		}
	}
	if a.Blocked, err = s.Blocking.BlockList(ctx, user); err != nil {
		return nil, fmt.Errorf("block list: %w", err)
	}
	switch at, status, err := s.Last.LastActivity(ctx, user); {
	case err == nil:
		a.Last = &LastActivity{At: at, Status: status}
	case !errors.Is(err, storage.ErrNotFound):
		return nil, fmt.Errorf("last activity: %w", err)
	}
	switch p, err := s.Archive.ArchivePrefs(ctx, user); {
	case err == nil:
		a.ArchivePrefs = &p
	case !errors.Is(err, storage.ErrNotFound):
		return nil, fmt.Errorf("archive preferences: %w", err)
	}
	if a.PEP, err = readNodes(ctx, s, user); err != nil {
		return nil, err
	}
	if a.Push, err = s.Push.PushRegistrations(ctx, user); err != nil {
		return nil, fmt.Errorf("push registrations: %w", err)
	}
	l, ok := s.Accounts.(storage.Lister)
	if !ok {
		return nil, fmt.Errorf("the backend %T cannot list FAST clients", s.Accounts)
	}
	clients, err := l.FastClients(ctx, user)
	if err != nil {
		return nil, fmt.Errorf("FAST clients: %w", err)
	}
	for _, c := range clients {
		toks, err := s.Fast.FastTokens(ctx, user, c)
		if err != nil {
			return nil, fmt.Errorf("FAST tokens of %q: %w", c, err)
		}
		a.Fast = append(a.Fast, FastClient{Client: c, Tokens: toks})
	}
	return a, nil
}

// readNodes reads every node of a service with its items, affiliations
// and subscriptions.
func readNodes(ctx context.Context, s storage.Stores, service jid.JID) ([]Node, error) {
	nodes, err := s.PubSub.PubSubNodes(ctx, service)
	if err != nil {
		return nil, fmt.Errorf("pubsub nodes of %s: %w", service, err)
	}
	out := make([]Node, 0, len(nodes))
	for _, n := range nodes {
		nd := Node{PubSubNode: n}
		if nd.Items, err = s.PubSub.PubSubItems(ctx, service, n.Node, 0); err != nil {
			return nil, fmt.Errorf("items of %q of %s: %w", n.Node, service, err)
		}
		slices.Reverse(nd.Items)
		if nd.Affiliations, err = s.PubSub.Affiliations(ctx, service, n.Node); err != nil {
			return nil, fmt.Errorf("affiliations of %q of %s: %w", n.Node, service, err)
		}
		if nd.Subscriptions, err = s.PubSub.Subscriptions(ctx, service, n.Node); err != nil {
			return nil, fmt.Errorf("subscriptions of %q of %s: %w", n.Node, service, err)
		}
		out = append(out, nd)
	}
	return out, nil
}

// ReadService reads a publish-subscribe service.
func ReadService(ctx context.Context, s storage.Stores, service jid.JID) (*Service, error) {
	nodes, err := readNodes(ctx, s, service)
	if err != nil {
		return nil, err
	}
	return &Service{JID: service, Nodes: nodes}, nil
}

// WriteAccount creates a.User in s with its keys and then writes its data
// (WriteAccountData); storage.ErrExists if the account exists.
func WriteAccount(ctx context.Context, s storage.Stores, a *Account) error {
	if err := s.Accounts.CreateAccount(ctx, a.User, a.Keys); err != nil {
		return fmt.Errorf("creating the account: %w", err)
	}
	return writeData(ctx, s, a)
}

// WriteAccountData writes the data of a into the existing account a.User:
// its keys when a has any, then every other store. Versions, times,
// stanza ids and orders are kept.
func WriteAccountData(ctx context.Context, s storage.Stores, a *Account) error {
	if len(a.Keys) > 0 {
		if err := s.Accounts.SetKeys(ctx, a.User, a.Keys); err != nil {
			return fmt.Errorf("keys: %w", err)
		}
	}
	return writeData(ctx, s, a)
}

// writeData writes everything but the keys.
func writeData(ctx context.Context, s storage.Stores, a *Account) error {
	im, ok := s.Accounts.(storage.Importer)
	if !ok {
		return fmt.Errorf("the backend %T cannot import data", s.Accounts)
	}
	u := a.User
	if a.Disabled {
		if err := s.Status.SetDisabled(ctx, u, true); err != nil {
			return fmt.Errorf("disabled flag: %w", err)
		}
	}
	for _, it := range a.Roster {
		if _, err := s.Roster.PutRosterItem(ctx, u, it); err != nil {
			return fmt.Errorf("roster item %s: %w", it.Contact, err)
		}
	}
	if a.RosterVersion > 0 {
		if err := im.SetRosterVersion(ctx, u, a.RosterVersion); err != nil {
			return fmt.Errorf("roster version: %w", err)
		}
	}
	for _, r := range a.Requests {
		if err := s.Roster.AddSubscriptionRequest(ctx, u, r); err != nil {
			return fmt.Errorf("subscription request from %s: %w", r.From, err)
		}
	}
	if len(a.Offline) > 0 {
		if err := im.ImportOffline(ctx, u, a.Offline); err != nil {
			return fmt.Errorf("offline messages: %w", err)
		}
	}
	if len(a.VCard) > 0 {
		if err := s.VCards.SetVCard(ctx, u, a.VCard); err != nil {
			return fmt.Errorf("vCard: %w", err)
		}
	}
	for _, k := range sortedKeys(a.Private) {
		if err := s.Private.SetPrivateXML(ctx, u, k, a.Private[k]); err != nil {
			return fmt.Errorf("private XML %q: %w", k, err)
		}
	}
	if len(a.Blocked) > 0 {
		if err := s.Blocking.Block(ctx, u, a.Blocked); err != nil {
			return fmt.Errorf("block list: %w", err)
		}
	}
	if a.Last != nil {
		if err := s.Last.SetLastActivity(ctx, u, a.Last.At, a.Last.Status); err != nil {
			return fmt.Errorf("last activity: %w", err)
		}
	}
	if a.ArchivePrefs != nil {
		if err := s.Archive.SetArchivePrefs(ctx, u, *a.ArchivePrefs); err != nil {
			return fmt.Errorf("archive preferences: %w", err)
		}
	}
	if err := writeNodes(ctx, s, a.PEP); err != nil {
		return err
	}
	for _, p := range a.Push {
		if err := s.Push.PutPush(ctx, u, p); err != nil {
			return fmt.Errorf("push registration %s %q: %w", p.Service, p.Node, err)
		}
	}
	for _, c := range a.Fast {
		if err := writeFast(ctx, s, u, c); err != nil {
			return err
		}
	}
	return nil
}

// writeFast restores the tokens of one client in their slots: the current
// token is put and used (which moves it to the current slot with its
// count), then the new one is put.
func writeFast(ctx context.Context, s storage.Stores, user jid.JID, c FastClient) error {
	order := slices.Clone(c.Tokens)
	slices.SortStableFunc(order, func(a, b storage.FastToken) int { return int(b.Slot) - int(a.Slot) })
	for _, t := range order {
		if err := s.Fast.PutFastToken(ctx, user, c.Client, t); err != nil {
			return fmt.Errorf("FAST token of %q: %w", c.Client, err)
		}
		if t.Slot == storage.FastCurrent {
			if err := s.Fast.UseFastToken(ctx, user, c.Client, t.ID, t.Count); err != nil {
				return fmt.Errorf("FAST token of %q: %w", c.Client, err)
			}
		}
	}
	return nil
}

// writeNodes creates nodes with their items (oldest first), affiliations
// and subscriptions.
func writeNodes(ctx context.Context, s storage.Stores, nodes []Node) error {
	for _, n := range nodes {
		if err := s.PubSub.CreateNode(ctx, n.PubSubNode); err != nil {
			return fmt.Errorf("pubsub node %q of %s: %w", n.Node, n.Service, err)
		}
		for _, it := range n.Items {
			if err := s.PubSub.PutItem(ctx, n.Service, n.Node, it, 0); err != nil {
				return fmt.Errorf("item %q of %q of %s: %w", it.ID, n.Node, n.Service, err)
			}
		}
		for _, af := range n.Affiliations {
			af.Node = n.Node
			if err := s.PubSub.SetAffiliation(ctx, n.Service, af); err != nil {
				return fmt.Errorf("affiliation of %s with %q of %s: %w", af.JID, n.Node, n.Service, err)
			}
		}
		for _, sub := range n.Subscriptions {
			sub.Node = n.Node
			if err := s.PubSub.SetSubscription(ctx, n.Service, sub); err != nil {
				return fmt.Errorf("subscription of %s to %q of %s: %w", sub.JID, n.Node, n.Service, err)
			}
		}
	}
	return nil
}

// WriteService creates the nodes of a service; existing nodes of the same
// names are an error (storage.ErrExists).
func WriteService(ctx context.Context, s storage.Stores, svc *Service) error {
	return writeNodes(ctx, s, svc.Nodes)
}

// DeleteService removes every node of a service.
func DeleteService(ctx context.Context, s storage.Stores, service jid.JID) (bool, error) {
	nodes, err := s.PubSub.PubSubNodes(ctx, service)
	if err != nil {
		return false, fmt.Errorf("pubsub nodes of %s: %w", service, err)
	}
	for _, n := range nodes {
		if err := s.PubSub.DeleteNode(ctx, service, n.Node); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return false, fmt.Errorf("deleting %q of %s: %w", n.Node, service, err)
		}
	}
	return len(nodes) > 0, nil
}

// ArchivePages calls fn with user's archived messages in archive order,
// page by page.
func ArchivePages(ctx context.Context, s storage.Archive, user jid.JID, fn func([]storage.ArchivedMessage) error) error {
	after := ""
	for {
		pg, err := s.QueryArchive(ctx, user, storage.ArchiveQuery{After: after, Index: -1, Max: archivePage})
		if err != nil {
			return fmt.Errorf("archive of %s: %w", user, err)
		}
		if len(pg.Messages) == 0 {
			return nil
		}
		if err := fn(pg.Messages); err != nil {
			return err
		}
		if pg.Complete {
			return nil
		}
		after = pg.Messages[len(pg.Messages)-1].ID
	}
}

// sortedKeys returns the keys of m, sorted.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
