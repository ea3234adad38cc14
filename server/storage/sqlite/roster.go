package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// RosterItems returns the items of user sorted by contact, with the current
// roster version (0 if the roster was never written). Both are read from one
// snapshot.
func (db *DB) RosterItems(ctx context.Context, user jid.JID) ([]storage.RosterItem, int64, error) {
	u := userKey(user)
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, fmt.Errorf("sqlite: roster of %s: %w", u, err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only

	verStmt, err := db.txStmt(ctx, tx, `SELECT version FROM roster_versions WHERE user = ?`)
	if err != nil {
		return nil, 0, fmt.Errorf("sqlite: roster version of %s: %w", u, err)
	}
	var ver int64
	err = verStmt.QueryRowContext(ctx, u).Scan(&ver)
	if err != nil && err != sql.ErrNoRows {
		return nil, 0, fmt.Errorf("sqlite: roster version of %s: %w", u, err)
	}
	itemsStmt, err := db.txStmt(ctx, tx, `SELECT contact, name, groups, subscription, ask_out, pre_approved
		FROM roster_items WHERE user = ? ORDER BY contact`)
	if err != nil {
		return nil, 0, fmt.Errorf("sqlite: roster of %s: %w", u, err)
	}
	rows, err := itemsStmt.QueryContext(ctx, u)
	if err != nil {
		return nil, 0, fmt.Errorf("sqlite: roster of %s: %w", u, err)
	}
	defer rows.Close()
	var items []storage.RosterItem
	for rows.Next() {
		it, err := scanRosterItem(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("sqlite: roster of %s: %w", u, err)
		}
		items = append(items, it)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("sqlite: roster of %s: %w", u, err)
	}
	return items, ver, nil
}

type scanner interface{ Scan(dest ...any) error }

func scanRosterItem(s scanner) (storage.RosterItem, error) {
	var (
		contact, groups string
		sub             int
		it              storage.RosterItem
	)
	if err := s.Scan(&contact, &it.Name, &groups, &sub, &it.AskOut, &it.PreApproved); err != nil {
		return it, err
	}
	c, err := parseJID(contact, "roster contact")
	if err != nil {
		return it, err
	}
	it.Contact = c
	it.Subscription = storage.Subscription(sub)
	if err := json.Unmarshal([]byte(groups), &it.Groups); err != nil {
		return it, fmt.Errorf("stored groups of %s: %w", contact, err)
	}
	return it, nil
}

// RosterItem returns the item of contact in user's roster;
// storage.ErrNotFound if absent.
func (db *DB) RosterItem(ctx context.Context, user, contact jid.JID) (storage.RosterItem, error) {
	u, c := userKey(user), userKey(contact)
	row := db.queryRow(ctx, `SELECT contact, name, groups, subscription, ask_out, pre_approved
		FROM roster_items WHERE user = ? AND contact = ?`, u, c)
	it, err := scanRosterItem(row)
	if err == sql.ErrNoRows {
		return it, fmt.Errorf("sqlite: roster item %s of %s: %w", c, u, storage.ErrNotFound)
	}
	if err != nil {
		return it, fmt.Errorf("sqlite: roster item %s of %s: %w", c, u, err)
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
	g, err := json.Marshal(groups)
	if err != nil {
		return 0, fmt.Errorf("sqlite: put roster item %s of %s: %w", c, u, err)
	}
	var ver int64
	err = db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO roster_items(user, contact, name, groups, subscription, ask_out, pre_approved)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT(user, contact) DO UPDATE SET name = excluded.name, groups = excluded.groups,
				subscription = excluded.subscription, ask_out = excluded.ask_out, pre_approved = excluded.pre_approved`,
			u, c, item.Name, string(g), int(item.Subscription), item.AskOut, item.PreApproved)
		if err != nil {
			return fmt.Errorf("sqlite: put roster item %s of %s: %w", c, u, err)
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
	err := db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM roster_items WHERE user = ? AND contact = ?`, u, c)
		if err != nil {
			return fmt.Errorf("sqlite: delete roster item %s of %s: %w", c, u, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("sqlite: delete roster item %s of %s: %w", c, u, err)
		} else if n == 0 {
			return fmt.Errorf("sqlite: delete roster item %s of %s: %w", c, u, storage.ErrNotFound)
		}
		ver, err = bumpRosterVersion(ctx, tx, u)
		return err
	})
	return ver, err
}

func bumpRosterVersion(ctx context.Context, tx *sql.Tx, u string) (int64, error) {
	var ver int64
	err := tx.QueryRowContext(ctx, `INSERT INTO roster_versions(user, version) VALUES (?, 1)
		ON CONFLICT(user) DO UPDATE SET version = version + 1 RETURNING version`, u).Scan(&ver)
	if err != nil {
		return 0, fmt.Errorf("sqlite: bump roster version of %s: %w", u, err)
	}
	return ver, nil
}

// AddSubscriptionRequest records, or replaces, a pending inbound
// subscription request from req.From.
func (db *DB) AddSubscriptionRequest(ctx context.Context, user jid.JID, req storage.SubscriptionRequest) error {
	u, f := userKey(user), userKey(req.From)
	_, err := db.exec(ctx, `INSERT INTO subscription_requests(user, from_jid, stanza, at) VALUES (?, ?, ?, ?)
		ON CONFLICT(user, from_jid) DO UPDATE SET stanza = excluded.stanza, at = excluded.at`,
		u, f, nonNil(req.Stanza), nanos(req.At))
	if err != nil {
		return fmt.Errorf("sqlite: add subscription request from %s to %s: %w", f, u, err)
	}
	return nil
}

// SubscriptionRequests lists the pending inbound requests of user, oldest
// first.
func (db *DB) SubscriptionRequests(ctx context.Context, user jid.JID) ([]storage.SubscriptionRequest, error) {
	u := userKey(user)
	rows, err := db.query(ctx, `SELECT from_jid, stanza, at FROM subscription_requests
		WHERE user = ? ORDER BY at, rowid`, u)
	if err != nil {
		return nil, fmt.Errorf("sqlite: subscription requests of %s: %w", u, err)
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
			return nil, fmt.Errorf("sqlite: subscription requests of %s: %w", u, err)
		}
		if r.From, err = parseJID(from, "subscription requester"); err != nil {
			return nil, err
		}
		r.At = fromNanos(at)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: subscription requests of %s: %w", u, err)
	}
	return out, nil
}

// DeleteSubscriptionRequest removes the pending request from from; no error
// if there is none.
func (db *DB) DeleteSubscriptionRequest(ctx context.Context, user, from jid.JID) error {
	u, f := userKey(user), userKey(from)
	_, err := db.exec(ctx, `DELETE FROM subscription_requests WHERE user = ? AND from_jid = ?`, u, f)
	if err != nil {
		return fmt.Errorf("sqlite: delete subscription request from %s to %s: %w", f, u, err)
	}
	return nil
}
