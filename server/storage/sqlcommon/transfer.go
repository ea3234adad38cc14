package sqlcommon

import (
	"context"
	"fmt"

	"github.com/parley-xmpp/parley/xmpp/jid"
)

// Transfer is the SQL of the listings that exports and imports read
// (storage.Importer's and storage.Lister's), but ImportOffline, which each
// backend writes its own way.
type Transfer struct {
	D Dialect
	R Querier // reads
}

// scanString reads a row of one text column.
func scanString(row Row) (string, error) {
	var s string
	err := row.Scan(&s)
	return s, err
}

// PrivateKeys lists the keys under which user has private XML, sorted.
func (t Transfer) PrivateKeys(ctx context.Context, user jid.JID) ([]string, error) {
	u := UserKey(user)
	out, err := Collect(ctx, t.R, scanString, t.D.SQL(`SELECT key FROM private_xml WHERE {user} = ? ORDER BY key`), u)
	if err != nil {
		return nil, fmt.Errorf("%s: private xml keys of %s: %w", t.D.Name, u, err)
	}
	return out, nil
}

// PubSubServices lists every service that has nodes, sorted.
func (t Transfer) PubSubServices(ctx context.Context) ([]jid.JID, error) {
	out, err := Collect(ctx, t.R, t.D.ScanJID("pubsub service"), t.D.SQL(`SELECT DISTINCT {user} FROM pubsub_nodes ORDER BY {user}`))
	if err != nil {
		return nil, fmt.Errorf("%s: pubsub services: %w", t.D.Name, err)
	}
	return out, nil
}

// FastClients lists the clients user has FAST tokens for, sorted.
func (t Transfer) FastClients(ctx context.Context, user jid.JID) ([]string, error) {
	u := UserKey(user)
	out, err := Collect(ctx, t.R, scanString, t.D.SQL(`SELECT DISTINCT client FROM fast_tokens WHERE {user} = ? ORDER BY client`), u)
	if err != nil {
		return nil, fmt.Errorf("%s: FAST clients of %s: %w", t.D.Name, u, err)
	}
	return out, nil
}
