package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/server/storage/sqlcommon"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// RosterItems returns the items of user sorted by contact, with the current
// roster version (0 if the roster was never written). Both are read by one
// statement, hence from one snapshot: a transaction around two statements
// cost as much as the reads themselves, and every login reads the roster.
// The statement yields one row with NULL item columns for an empty roster.
func (db *DB) RosterItems(ctx context.Context, user jid.JID) ([]storage.RosterItem, int64, error) {
	u := userKey(user)
	rows, err := db.query(ctx, `SELECT v.version, i.contact, i.name, i.groups, i.subscription, i.ask_out, i.pre_approved
		FROM (SELECT ? AS user) q
		LEFT JOIN roster_versions v ON v.user = q.user
		LEFT JOIN roster_items i ON i.user = q.user
		ORDER BY i.contact`, u)
	if err != nil {
		return nil, 0, fmt.Errorf("sqlite: roster of %s: %w", u, err)
	}
	defer rows.Close()
	var (
		items []storage.RosterItem
		ver   sql.NullInt64
	)
	for rows.Next() {
		var (
			contact, name, groups sql.NullString
			sub                   sql.NullInt64
			ask, pre              sql.NullBool
		)
		if err := rows.Scan(&ver, &contact, &name, &groups, &sub, &ask, &pre); err != nil {
			return nil, 0, fmt.Errorf("sqlite: roster of %s: %w", u, err)
		}
		if !contact.Valid {
			continue // the row of an empty roster
		}
		it, err := makeRosterItem(contact.String, name.String, groups.String, int(sub.Int64), ask.Bool, pre.Bool)
		if err != nil {
			return nil, 0, fmt.Errorf("sqlite: roster of %s: %w", u, err)
		}
		items = append(items, it)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("sqlite: roster of %s: %w", u, err)
	}
	return items, ver.Int64, nil
}

type scanner interface{ Scan(dest ...any) error }

func scanRosterItem(s scanner) (storage.RosterItem, error) {
	var (
		contact, name, groups string
		sub                   int
		ask, pre              bool
	)
	if err := s.Scan(&contact, &name, &groups, &sub, &ask, &pre); err != nil {
		return storage.RosterItem{}, err
	}
	return makeRosterItem(contact, name, groups, sub, ask, pre)
}

// makeRosterItem builds an item from its stored columns.
func makeRosterItem(contact, name, groups string, sub int, ask, pre bool) (storage.RosterItem, error) {
	it := storage.RosterItem{Name: name, Subscription: storage.Subscription(sub), AskOut: ask, PreApproved: pre}
	c, err := parseJID(contact, "roster contact")
	if err != nil {
		return it, err
	}
	it.Contact = c
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
		u, f, sqlcommon.NonNil(req.Stanza), nanos(req.At))
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
