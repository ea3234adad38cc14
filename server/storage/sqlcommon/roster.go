package sqlcommon

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// Roster is the SQL of storage.Roster. A roster item's groups are a text
// array where the dialect has arrays, a JSON array otherwise.
type Roster struct {
	D    Dialect
	R    Querier  // reads
	W    Execer   // writes of one statement
	Tx   Transact // writes of several
	Snap Snapshot // reads that must agree
}

// RosterItems returns the items of user sorted by contact, with the
// current roster version (0 if the roster was never written), both read
// from one snapshot.
func (r Roster) RosterItems(ctx context.Context, user jid.JID) ([]storage.RosterItem, int64, error) {
	var (
		items []storage.RosterItem
		ver   int64
	)
	err := r.Snap(ctx, func(q Querier) error {
		var err error
		items, ver, err = r.ReadRoster(ctx, q, UserKey(user))
		return err
	})
	return items, ver, err
}

// RosterColumns are the columns of a roster item, in the order of
// ScanRosterItem.
const RosterColumns = `contact, name, groups, subscription, ask_out, pre_approved`

// ScanRosterItem reads a row of RosterColumns. Scan's own error is
// returned as it is.
func (d Dialect) ScanRosterItem(row Row) (storage.RosterItem, error) {
	var (
		it                    storage.RosterItem
		contact, name, groups string
		sub                   int
		ask, pre              bool
	)
	if !d.Arrays {
		if err := row.Scan(&contact, &name, &groups, &sub, &ask, &pre); err != nil {
			return it, err
		}
		return d.RosterItem(contact, name, groups, sub, ask, pre)
	}
	if err := row.Scan(&contact, &it.Name, &it.Groups, &sub, &it.AskOut, &it.PreApproved); err != nil {
		return it, err
	}
	c, err := d.ParseJID(contact, "roster contact")
	it.Contact, it.Subscription = c, storage.Subscription(sub)
	return it, err
}

// RosterItem builds an item of its stored columns, groups being the
// JSON array a dialect without arrays stores.
func (d Dialect) RosterItem(contact, name, groups string, sub int, ask, pre bool) (storage.RosterItem, error) {
	it := storage.RosterItem{Name: name, Subscription: storage.Subscription(sub), AskOut: ask, PreApproved: pre}
	c, err := d.ParseJID(contact, "roster contact")
	if err != nil {
		return it, err
	}
	it.Contact = c
	if err := json.Unmarshal([]byte(groups), &it.Groups); err != nil {
		return it, fmt.Errorf("stored groups of %s: %w", contact, err)
	}
	return it, nil
}

// groupsArg is how groups are stored: a text array, or its JSON.
func (d Dialect) groupsArg(groups []string) (any, error) {
	if groups == nil {
		groups = []string{}
	}
	if d.Arrays {
		return groups, nil
	}
	g, err := json.Marshal(groups)
	return string(g), err
}

// ReadRoster reads the items of u, sorted by contact, and the roster
// version (0 if the roster was never written), with two statements of
// q: the caller gives it one snapshot.
func (r Roster) ReadRoster(ctx context.Context, q Querier, u string) ([]storage.RosterItem, int64, error) {
	var ver int64
	err := q.QueryRow(ctx, r.D.SQL(`SELECT version FROM roster_versions WHERE {user} = ?`), u).Scan(&ver)
	if err != nil && !q.NoRows(err) {
		return nil, 0, fmt.Errorf("%s: roster version of %s: %w", r.D.Name, u, err)
	}
	items, err := Collect(ctx, q, r.D.ScanRosterItem, r.D.SQL(`SELECT `+RosterColumns+` FROM roster_items WHERE {user} = ? ORDER BY contact`), u)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: roster of %s: %w", r.D.Name, u, err)
	}
	return items, ver, nil
}

// RosterItem returns the item of contact in user's roster;
// storage.ErrNotFound if absent.
func (r Roster) RosterItem(ctx context.Context, user, contact jid.JID) (storage.RosterItem, error) {
	u, c := UserKey(user), UserKey(contact)
	row := r.R.QueryRow(ctx, r.D.SQL(`SELECT `+RosterColumns+` FROM roster_items WHERE {user} = ? AND contact = ?`), u, c)
	it, err := r.D.ScanRosterItem(row)
	if r.R.NoRows(err) {
		return it, fmt.Errorf("%s: roster item %s of %s: %w", r.D.Name, c, u, storage.ErrNotFound)
	}
	if err != nil {
		return it, fmt.Errorf("%s: roster item %s of %s: %w", r.D.Name, c, u, err)
	}
	return it, nil
}

// PutRosterItem creates or replaces an item and returns the new roster
// version.
func (r Roster) PutRosterItem(ctx context.Context, user jid.JID, item storage.RosterItem) (int64, error) {
	u, c := UserKey(user), UserKey(item.Contact)
	groups, err := r.D.groupsArg(item.Groups)
	if err != nil {
		return 0, fmt.Errorf("%s: put roster item %s of %s: %w", r.D.Name, c, u, err)
	}
	var ver int64
	err = r.Tx(ctx, func(tx Tx) error {
		_, err := tx.Exec(ctx, r.D.SQL(`INSERT INTO roster_items({user}, `+RosterColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT({user}, contact) DO UPDATE SET name = excluded.name, groups = excluded.groups,
				subscription = excluded.subscription, ask_out = excluded.ask_out, pre_approved = excluded.pre_approved`),
			u, c, item.Name, groups, int(item.Subscription), item.AskOut, item.PreApproved)
		if err != nil {
			return fmt.Errorf("%s: put roster item %s of %s: %w", r.D.Name, c, u, err)
		}
		ver, err = r.bumpVersion(ctx, tx, u)
		return err
	})
	return ver, err
}

// DeleteRosterItem removes an item and returns the new roster version;
// storage.ErrNotFound if absent.
func (r Roster) DeleteRosterItem(ctx context.Context, user, contact jid.JID) (int64, error) {
	u, c := UserKey(user), UserKey(contact)
	var ver int64
	err := r.Tx(ctx, func(tx Tx) error {
		n, err := tx.Exec(ctx, r.D.SQL(`DELETE FROM roster_items WHERE {user} = ? AND contact = ?`), u, c)
		if err != nil {
			return fmt.Errorf("%s: delete roster item %s of %s: %w", r.D.Name, c, u, err)
		}
		if n == 0 {
			return fmt.Errorf("%s: delete roster item %s of %s: %w", r.D.Name, c, u, storage.ErrNotFound)
		}
		ver, err = r.bumpVersion(ctx, tx, u)
		return err
	})
	return ver, err
}

// bumpVersion increments the roster version of u and returns it; where
// writers run concurrently, the upsert row-locks the version until the
// transaction ends.
func (r Roster) bumpVersion(ctx context.Context, tx Tx, u string) (int64, error) {
	var ver int64
	err := tx.QueryRow(ctx, r.D.SQL(`INSERT INTO roster_versions({user}, version) VALUES (?, 1)
		ON CONFLICT({user}) DO UPDATE SET version = roster_versions.version + 1 RETURNING version`), u).Scan(&ver)
	if err != nil {
		return 0, fmt.Errorf("%s: bump roster version of %s: %w", r.D.Name, u, err)
	}
	return ver, nil
}

// SetRosterVersion sets the roster version of user (for imports).
func (r Roster) SetRosterVersion(ctx context.Context, user jid.JID, version int64) error {
	u := UserKey(user)
	_, err := r.W.Exec(ctx, r.D.SQL(`INSERT INTO roster_versions({user}, version) VALUES (?, ?)
		ON CONFLICT({user}) DO UPDATE SET version = excluded.version`), u, version)
	if err != nil {
		return fmt.Errorf("%s: set roster version of %s: %w", r.D.Name, u, err)
	}
	return nil
}

// AddSubscriptionRequest records, or replaces, a pending inbound
// subscription request from req.From.
func (r Roster) AddSubscriptionRequest(ctx context.Context, user jid.JID, req storage.SubscriptionRequest) error {
	u, f := UserKey(user), UserKey(req.From)
	_, err := r.W.Exec(ctx, r.D.SQL(`INSERT INTO subscription_requests({user}, from_jid, stanza, at) VALUES (?, ?, ?, ?)
		ON CONFLICT({user}, from_jid) DO UPDATE SET stanza = excluded.stanza, at = excluded.at`),
		u, f, NonNil(req.Stanza), Nanos(req.At))
	if err != nil {
		return fmt.Errorf("%s: add subscription request from %s to %s: %w", r.D.Name, f, u, err)
	}
	return nil
}

// SubscriptionRequests lists the pending inbound requests of user,
// oldest first.
func (r Roster) SubscriptionRequests(ctx context.Context, user jid.JID) ([]storage.SubscriptionRequest, error) {
	u := UserKey(user)
	scan := func(row Row) (storage.SubscriptionRequest, error) {
		var (
			from string
			at   int64
			req  storage.SubscriptionRequest
		)
		if err := row.Scan(&from, &req.Stanza, &at); err != nil {
			return req, err
		}
		var err error
		req.From, err = r.D.ParseJID(from, "subscription requester")
		req.At = FromNanos(at)
		return req, err
	}
	out, err := Collect(ctx, r.R, scan, r.D.SQL(`SELECT from_jid, stanza, at FROM subscription_requests
		WHERE {user} = ? ORDER BY at, `+r.D.InsertOrder("seq")), u)
	if err != nil {
		return nil, fmt.Errorf("%s: subscription requests of %s: %w", r.D.Name, u, err)
	}
	return out, nil
}

// DeleteSubscriptionRequest removes the pending request from from; no
// error if there is none.
func (r Roster) DeleteSubscriptionRequest(ctx context.Context, user, from jid.JID) error {
	u, f := UserKey(user), UserKey(from)
	_, err := r.W.Exec(ctx, r.D.SQL(`DELETE FROM subscription_requests WHERE {user} = ? AND from_jid = ?`), u, f)
	if err != nil {
		return fmt.Errorf("%s: delete subscription request from %s to %s: %w", r.D.Name, f, u, err)
	}
	return nil
}
