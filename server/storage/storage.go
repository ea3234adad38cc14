package storage

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/parley-xmpp/parley/xmpp/jid"
)

// Errors shared by every backend; backends wrap them so errors.Is works.
var (
	ErrNotFound = errors.New("storage: not found")
	ErrExists   = errors.New("storage: already exists")
	ErrQuota    = errors.New("storage: quota exceeded")
)

// Quota bounds what one account may keep of one kind of data: at most
// Count entries and Bytes bytes of their stored form. A zero or negative
// field sets no bound.
type Quota struct {
	Count int
	Bytes int64
}

// Bounds returns q's bounds with "no bound" as math.MaxInt64, for SQL
// comparisons.
func (q Quota) Bounds() (count, bytes int64) {
	count, bytes = math.MaxInt64, math.MaxInt64
	if q.Count > 0 {
		count = int64(q.Count)
	}
	if q.Bytes > 0 {
		bytes = q.Bytes
	}
	return count, bytes
}

// Usage is how much one account keeps of one kind of data.
type Usage struct {
	Count int
	Bytes int64
}

// Exceeds reports whether u is over q.
func (u Usage) Exceeds(q Quota) bool {
	c, b := q.Bounds()
	return int64(u.Count) > c || u.Bytes > b
}

// SCRAMKey is the salted SCRAM verifier of one hash function (RFC 5802 §3):
// the only form in which a password is ever stored.
type SCRAMKey struct {
	Hash       string // "SHA-1", "SHA-256" or "SHA-512"
	Salt       []byte
	Iterations int
	StoredKey  []byte
	ServerKey  []byte
}

// Accounts stores local accounts and their credentials.
type Accounts interface {
	// CreateAccount creates user (a bare JID) with the given keys; ErrExists
	// if it exists.
	CreateAccount(ctx context.Context, user jid.JID, keys []SCRAMKey) error
	// SetKeys replaces the user's keys; ErrNotFound if there is no account.
	SetKeys(ctx context.Context, user jid.JID, keys []SCRAMKey) error
	// Keys returns the user's keys; ErrNotFound if there is no account.
	Keys(ctx context.Context, user jid.JID) ([]SCRAMKey, error)
	// DeleteAccount removes the account and every datum stored for it in
	// every store of the backend; ErrNotFound if there is no account.
	DeleteAccount(ctx context.Context, user jid.JID) error
	// AccountExists reports whether user has an account.
	AccountExists(ctx context.Context, user jid.JID) (bool, error)
	// ListAccounts lists the accounts of a domain, sorted; all domains when
	// domain is empty.
	ListAccounts(ctx context.Context, domain string) ([]jid.JID, error)
}

// Subscription is the subscription state of a roster item (RFC 6121 §2.1.2.5).
type Subscription uint8

// Subscription states.
const (
	SubNone Subscription = iota
	SubTo
	SubFrom
	SubBoth
)

// String returns the value of the roster item's subscription attribute.
func (s Subscription) String() string {
	switch s {
	case SubTo:
		return "to"
	case SubFrom:
		return "from"
	case SubBoth:
		return "both"
	}
	return "none"
}

// RosterItem is one contact in a user's roster.
type RosterItem struct {
	Contact      jid.JID // a bare JID
	Name         string
	Groups       []string
	Subscription Subscription
	AskOut       bool // pending-out: the user asked for a subscription (ask="subscribe")
	PreApproved  bool // the user pre-approved the contact's subscription (RFC 6121 §3.4)
}

// SubscriptionRequest is an inbound subscription request the user has not
// answered (the pending-in state, RFC 6121 §3.1.3), kept across sessions.
type SubscriptionRequest struct {
	From   jid.JID // bare JID of the requester
	Stanza []byte  // the presence stanza as received (our serialisation)
	At     time.Time
}

// Roster stores rosters (RFC 6121 §2) and pending inbound subscription
// requests. Every change increments the user's roster version (XEP-0237).
type Roster interface {
	// RosterItems returns the user's items, sorted by contact, and the
	// current roster version (0 for a roster never written).
	RosterItems(ctx context.Context, user jid.JID) ([]RosterItem, int64, error)
	// RosterItem returns one item; ErrNotFound if absent.
	RosterItem(ctx context.Context, user, contact jid.JID) (RosterItem, error)
	// PutRosterItem creates or replaces an item and returns the new version.
	PutRosterItem(ctx context.Context, user jid.JID, item RosterItem) (int64, error)
	// DeleteRosterItem removes an item and returns the new version;
	// ErrNotFound if absent.
	DeleteRosterItem(ctx context.Context, user, contact jid.JID) (int64, error)
	// AddSubscriptionRequest records (or replaces) a pending-in request.
	AddSubscriptionRequest(ctx context.Context, user jid.JID, req SubscriptionRequest) error
	// SubscriptionRequests lists pending-in requests, oldest first.
	SubscriptionRequests(ctx context.Context, user jid.JID) ([]SubscriptionRequest, error)
	// DeleteSubscriptionRequest removes a pending-in request; no error if absent.
	DeleteSubscriptionRequest(ctx context.Context, user, from jid.JID) error
}

// OfflineMessage is a message stored for a user with no available resource
// (XEP-0160).
type OfflineMessage struct {
	ID     int64
	Stanza []byte
	At     time.Time
}

// Offline stores messages for users who are offline.
type Offline interface {
	// StoreOffline appends a message; ErrQuota when the user already has
	// limit messages stored (limit <= 0: no limit).
	StoreOffline(ctx context.Context, user jid.JID, stanza []byte, limit int) error
	// StoreOfflineWithin appends a message unless it would take the
	// user's stored messages beyond q (in count or in bytes of their
	// stored form); then ErrQuota. The check and the insert are atomic.
	StoreOfflineWithin(ctx context.Context, user jid.JID, stanza []byte, q Quota) error
	// OfflineMessages returns the stored messages in arrival order.
	OfflineMessages(ctx context.Context, user jid.JID) ([]OfflineMessage, error)
	// DeleteOffline removes the given messages (after they were delivered).
	DeleteOffline(ctx context.Context, user jid.JID, ids []int64) error
	// OfflineCount returns how many messages are stored.
	OfflineCount(ctx context.Context, user jid.JID) (int, error)
}

// VCards stores vcard-temp documents (XEP-0054).
type VCards interface {
	// VCard returns the stored vCard element; ErrNotFound if none.
	VCard(ctx context.Context, user jid.JID) ([]byte, error)
	// SetVCard stores a vCard element; an empty value deletes it.
	SetVCard(ctx context.Context, user jid.JID, vcard []byte) error
}

// PrivateElement is one element of private XML storage and its key.
type PrivateElement struct {
	Key  string
	Data []byte
}

// Private stores private XML (XEP-0049), keyed by the element's namespace
// and local name joined by a space.
type Private interface {
	// PrivateXML returns the stored element; ErrNotFound if none.
	PrivateXML(ctx context.Context, user jid.JID, key string) ([]byte, error)
	// SetPrivateXML stores an element under key.
	SetPrivateXML(ctx context.Context, user jid.JID, key string, data []byte) error
	// SetPrivateXMLWithin stores elements, each under its key, unless the
	// user's elements would then exceed q (in number of keys or in bytes);
	// then ErrQuota and nothing changes. Replacing an element counts its
	// new size only. The check and the writes are atomic.
	SetPrivateXMLWithin(ctx context.Context, user jid.JID, elems []PrivateElement, q Quota) error
	// PrivateKeys lists the keys the user has elements under, sorted.
	PrivateKeys(ctx context.Context, user jid.JID) ([]string, error)
}

// Blocking stores block lists (XEP-0191).
type Blocking interface {
	// BlockList returns the blocked JIDs, sorted.
	BlockList(ctx context.Context, user jid.JID) ([]jid.JID, error)
	// Block adds JIDs (duplicates ignored).
	Block(ctx context.Context, user jid.JID, items []jid.JID) error
	// Unblock removes JIDs; none means all.
	Unblock(ctx context.Context, user jid.JID, items []jid.JID) error
}

// LastActivity stores when a user was last seen and the status they left
// with (XEP-0012).
type LastActivity interface {
	// SetLastActivity records a logout time and status.
	SetLastActivity(ctx context.Context, user jid.JID, at time.Time, status string) error
	// LastActivity returns the recorded time and status; ErrNotFound if none.
	LastActivity(ctx context.Context, user jid.JID) (time.Time, string, error)
}

// Importer loads data copied from another backend (parley migrate) with
// its original versions and times, which the ordinary write methods
// would assign afresh. Every backend implements it on the same value as
// its stores.
type Importer interface {
	// SetRosterVersion sets the user's roster version, creating it if
	// needed; the items are put first with PutRosterItem.
	SetRosterVersion(ctx context.Context, user jid.JID, version int64) error
	// ImportOffline appends messages, in the given order, keeping their
	// At times (their IDs are ignored and assigned anew); there is no
	// quota.
	ImportOffline(ctx context.Context, user jid.JID, msgs []OfflineMessage) error
}

// Lister enumerates what the per-user and per-service methods cannot find
// by themselves, for exports and migrations. Every backend implements it
// on the same value as its stores.
type Lister interface {
	// PubSubServices lists every publish-subscribe service that has at
	// least one node (service domains and accounts' PEP services), sorted.
	PubSubServices(ctx context.Context) ([]jid.JID, error)
	// FastClients lists the clients (SASL2 user-agent ids) user has FAST
	// tokens for, sorted.
	FastClients(ctx context.Context, user jid.JID) ([]string, error)
}

// Transactor runs a function against all the stores of a backend inside
// one transaction: everything the function wrote is committed if it
// returns nil and nothing is if it fails, so an import either happens
// whole or leaves the data as it was. Every backend implements it on the
// same value as its stores.
type Transactor interface {
	// InTx calls fn with stores whose writes all belong to one
	// transaction, committed when fn returns nil and rolled back
	// otherwise. Each store call still succeeds or fails as a whole (a
	// failed call leaves nothing of itself behind; fn may go on after an
	// ErrExists or ErrNotFound). The stores are for fn's goroutine only
	// and only until fn returns. Reads inside fn need not see fn's own
	// earlier writes (SQLite's reads see the data as committed before
	// InTx began), and other writers of the backend wait until InTx
	// returns: it is meant for offline work such as imports.
	InTx(ctx context.Context, fn func(Stores) error) error
}

// Stores bundles the stores of one backend. Each field is an interface so
// that a feature depends only on the kind of data it needs.
type Stores struct {
	Accounts Accounts
	Roster   Roster
	Offline  Offline
	VCards   VCards
	Private  Private
	Blocking Blocking
	Last     LastActivity
	Archive  Archive
	Status   AccountStatus
	Invites  Invites
	PubSub   PubSub
	Fast     FastTokens
	Push     Push
	MUC      MUC
}
