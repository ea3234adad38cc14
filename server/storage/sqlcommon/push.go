package sqlcommon

import (
	"context"
	"fmt"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// Push is the part of storage.Push whose SQL is the same in every
// backend; the backend keeps PutPush, which checks the account in its own
// transaction.
type Push struct {
	D Dialect
	R Querier // reads
	W Execer  // writes
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
