package sqlcommon

import (
	"context"
	"fmt"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// Push is the SQL of storage.Push.
type Push struct {
	D  Dialect
	R  Querier  // reads
	W  Execer   // writes of one statement
	Tx Transact // writes of several
}

// DeletePush disables a service's node, or all its nodes.
func (p Push) DeletePush(ctx context.Context, user, service jid.JID, node string) error {
	u := UserKey(user)
	var err error
	if node == "" {
		_, err = p.W.Exec(ctx, p.D.SQL(`DELETE FROM push_registrations WHERE {user} = ? AND service = ?`), u, service.String())
	} else {
		_, err = p.W.Exec(ctx, p.D.SQL(`DELETE FROM push_registrations WHERE {user} = ? AND service = ? AND node = ?`), u, service.String(), node)
	}
	if err != nil {
		return fmt.Errorf("%s: disable push for %s: %w", p.D.Name, u, err)
	}
	return nil
}

// PushRegistrations lists user's registrations.
func (p Push) PushRegistrations(ctx context.Context, user jid.JID) ([]storage.PushRegistration, error) {
	u := UserKey(user)
	scan := func(row Row) (storage.PushRegistration, error) {
		var (
			r       storage.PushRegistration
			service string
			created int64
		)
		if err := row.Scan(&service, &r.Node, &r.Resource, &r.Options, &r.IncludeBody, &created); err != nil {
			return r, err
		}
		var err error
		if r.Service, err = jid.Parse(service); err != nil {
			return r, fmt.Errorf("service %q: %w", service, err)
		}
		r.Created = FromNanos(created)
		return r, nil
	}
	out, err := Collect(ctx, p.R, scan, p.D.SQL(`SELECT service, node, resource, options, include_body, created
		FROM push_registrations WHERE {user} = ? ORDER BY service, node`), u)
	if err != nil {
		return nil, fmt.Errorf("%s: push registrations of %s: %w", p.D.Name, u, err)
	}
	return out, nil
}

// PutPush enables a push service and node for user; storage.ErrNotFound
// if user has no account.
func (p Push) PutPush(ctx context.Context, user jid.JID, reg storage.PushRegistration) error {
	u := UserKey(user)
	return p.Tx(ctx, func(tx Tx) error {
		var one int
		err := tx.QueryRow(ctx, p.D.SQL(`SELECT 1 FROM accounts WHERE {user} = ?`), u).Scan(&one)
		if tx.NoRows(err) {
			return fmt.Errorf("%s: enable push for %s: %w", p.D.Name, u, storage.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("%s: enable push for %s: %w", p.D.Name, u, err)
		}
		_, err = tx.Exec(ctx, p.D.SQL(`INSERT INTO push_registrations({user}, service, node, resource, options, include_body, created)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT({user}, service, node) DO UPDATE SET resource = excluded.resource, options = excluded.options,
				include_body = excluded.include_body, created = excluded.created`),
			u, reg.Service.String(), reg.Node, reg.Resource, reg.Options, reg.IncludeBody, Nanos(reg.Created))
		if err != nil {
			// Where writers run concurrently, a concurrent account
			// deletion shows as a foreign key violation.
			return fmt.Errorf("%s: enable push for %s: %w", p.D.Name, u, err)
		}
		return nil
	})
}
