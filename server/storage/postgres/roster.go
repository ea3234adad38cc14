package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/server/storage/sqlcommon"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// rosterColumns are the columns scanRosterItem reads, in order.
const rosterColumns = `contact, name, groups, subscription, ask_out, pre_approved`

// RosterItems returns the items of user sorted by contact, with the current
// roster version (0 if the roster was never written). Both are read from one
// snapshot.
func (db *DB) RosterItems(ctx context.Context, user jid.JID) ([]storage.RosterItem, int64, error) {
	u := userKey(user)
	var (
		items []storage.RosterItem
		ver   int64
	)
	err := db.txOpts(ctx, snapshot(), func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT version FROM roster_versions WHERE username = $1`, u).Scan(&ver)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("postgres: roster version of %s: %w", u, err)
		}
		rows, err := tx.Query(ctx, `SELECT `+rosterColumns+` FROM roster_items WHERE username = $1 ORDER BY contact`, u)
		if err != nil {
			return fmt.Errorf("postgres: roster of %s: %w", u, err)
		}
		defer rows.Close()
		for rows.Next() {
			it, err := scanRosterItem(rows)
			if err != nil {
				return fmt.Errorf("postgres: roster of %s: %w", u, err)
			}
			items = append(items, it)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("postgres: roster of %s: %w", u, err)
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return items, ver, nil
}

// scanRosterItem scans the rosterColumns of one row.
func scanRosterItem(row pgx.Row) (storage.RosterItem, error) {
	var (
		contact string
		sub     int16
		it      storage.RosterItem
	)
	if err := row.Scan(&contact, &it.Name, &it.Groups, &sub, &it.AskOut, &it.PreApproved); err != nil {
		return it, err
	}
	c, err := parseJID(contact, "roster contact")
	if err != nil {
		return it, err
	}
	it.Contact = c
	it.Subscription = storage.Subscription(sub)
	return it, nil
}

// RosterItem returns the item of contact in user's roster;
// storage.ErrNotFound if absent.
func (db *DB) RosterItem(ctx context.Context, user, contact jid.JID) (storage.RosterItem, error) {
	u, c := userKey(user), userKey(contact)
	row := db.pool.QueryRow(ctx, `SELECT `+rosterColumns+` FROM roster_items WHERE username = $1 AND contact = $2`, u, c)
	it, err := scanRosterItem(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return it, fmt.Errorf("postgres: roster item %s of %s: %w", c, u, storage.ErrNotFound)
	}
	if err != nil {
		return it, fmt.Errorf("postgres: roster item %s of %s: %w", c, u, err)
	}
	return it, nil
}

// PutRosterItem creates or replaces an item and returns the new roster
// version.
func (db *DB) PutRosterItem(ctx context.Context, user jid.JID, item storage.RosterItem) (int64, error) {
	u, c := userKey(user), userKey(item.Contact)
	groups := item.Groups
	if groups == nil {
		groups = []string{}
	}
	var ver int64
	err := db.tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO roster_items(username, contact, name, groups, subscription, ask_out, pre_approved)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (username, contact) DO UPDATE SET name = excluded.name, groups = excluded.groups,
				subscription = excluded.subscription, ask_out = excluded.ask_out, pre_approved = excluded.pre_approved`,
			u, c, item.Name, groups, int16(item.Subscription), item.AskOut, item.PreApproved)
		if err != nil {
			return fmt.Errorf("postgres: put roster item %s of %s: %w", c, u, err)
		}
		ver, err = bumpRosterVersion(ctx, tx, u)
		return err
	})
	return ver, err
}

// DeleteRosterItem removes an item and returns the new roster version;
// storage.ErrNotFound if absent.
func (db *DB) DeleteRosterItem(ctx context.Context, user, contact jid.JID) (int64, error) {
	u, c := userKey(user), userKey(contact)
	var ver int64
	err := db.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM roster_items WHERE username = $1 AND contact = $2`, u, c)
		if err != nil {
			return fmt.Errorf("postgres: delete roster item %s of %s: %w", c, u, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("postgres: delete roster item %s of %s: %w", c, u, storage.ErrNotFound)
		}
		ver, err = bumpRosterVersion(ctx, tx, u)
		return err
	})
	return ver, err
}

// bumpRosterVersion increments the roster version of u and returns it; the
// upsert row-locks the version until the transaction ends.
func bumpRosterVersion(ctx context.Context, tx pgx.Tx, u string) (int64, error) {
	var ver int64
	err := tx.QueryRow(ctx, `INSERT INTO roster_versions(username, version) VALUES ($1, 1)
		ON CONFLICT (username) DO UPDATE SET version = roster_versions.version + 1 RETURNING version`, u).Scan(&ver)
	if err != nil {
		return 0, fmt.Errorf("postgres: bump roster version of %s: %w", u, err)
	}
	return ver, nil
}

// AddSubscriptionRequest records, or replaces, a pending inbound
// subscription request from req.From.
func (db *DB) AddSubscriptionRequest(ctx context.Context, user jid.JID, req storage.SubscriptionRequest) error {
	u, f := userKey(user), userKey(req.From)
	_, err := db.pool.Exec(ctx, `INSERT INTO subscription_requests(username, from_jid, stanza, at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (username, from_jid) DO UPDATE SET stanza = excluded.stanza, at = excluded.at`,
		u, f, sqlcommon.NonNil(req.Stanza), nanos(req.At))
	if err != nil {
		return fmt.Errorf("postgres: add subscription request from %s to %s: %w", f, u, err)
	}
	return nil
}

// SubscriptionRequests lists the pending inbound requests of user, oldest
// first.
func (db *DB) SubscriptionRequests(ctx context.Context, user jid.JID) ([]storage.SubscriptionRequest, error) {
	u := userKey(user)
	rows, err := db.pool.Query(ctx, `SELECT from_jid, stanza, at FROM subscription_requests
		WHERE username = $1 ORDER BY at, seq`, u)
	if err != nil {
		return nil, fmt.Errorf("postgres: subscription requests of %s: %w", u, err)
	}
	defer rows.Close()
	var out []storage.SubscriptionRequest
	for rows.Next() {
		var (
			from string
			at   int64
			r    storage.SubscriptionRequest
		)
		if err := rows.Scan(&from, &r.Stanza, &at); err != nil {
			return nil, fmt.Errorf("postgres: subscription requests of %s: %w", u, err)
		}
		if r.From, err = parseJID(from, "subscription requester"); err != nil {
			return nil, err
		}
		r.At = fromNanos(at)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: subscription requests of %s: %w", u, err)
	}
	return out, nil
}

// DeleteSubscriptionRequest removes the pending request from from; no error
// if there is none.
func (db *DB) DeleteSubscriptionRequest(ctx context.Context, user, from jid.JID) error {
	u, f := userKey(user), userKey(from)
	_, err := db.pool.Exec(ctx, `DELETE FROM subscription_requests WHERE username = $1 AND from_jid = $2`, u, f)
	if err != nil {
		return fmt.Errorf("postgres: delete subscription request from %s to %s: %w", f, u, err)
	}
	return nil
}
