package sqlite

import (
	"github.com/parley-xmpp/parley/server/storage"
)

// pubsubSchema holds publish-subscribe services (XEP-0060, XEP-0163). The
// column "user" is the service's JID: an account's bare JID for its PEP
// service, so that DeleteAccount removes it with the account's other rows;
// the domain of a pubsub service otherwise. The trigger removes the deleted
// account's subscriptions and affiliations on every other service.
const pubsubSchema = `
CREATE TABLE pubsub_nodes (
	user    TEXT NOT NULL,
	node    TEXT NOT NULL,
	config  TEXT NOT NULL,
	created INTEGER NOT NULL,
	PRIMARY KEY (user, node)
);

CREATE TABLE pubsub_items (
	user      TEXT NOT NULL,
	node      TEXT NOT NULL,
	id        TEXT NOT NULL,
	seq       INTEGER NOT NULL,
	publisher TEXT NOT NULL,
	payload   BLOB NOT NULL,
	published INTEGER NOT NULL,
	PRIMARY KEY (user, node, id)
);
CREATE INDEX pubsub_items_seq ON pubsub_items(user, node, seq);

CREATE TABLE pubsub_affiliations (
	user        TEXT NOT NULL,
	node        TEXT NOT NULL,
	jid         TEXT NOT NULL,
	affiliation TEXT NOT NULL,
	PRIMARY KEY (user, node, jid)
);

CREATE TABLE pubsub_subscriptions (
	user  TEXT NOT NULL,
	node  TEXT NOT NULL,
	jid   TEXT NOT NULL,
	subid TEXT NOT NULL,
	state TEXT NOT NULL,
	PRIMARY KEY (user, node, jid, subid)
);

CREATE TRIGGER pubsub_account_deleted AFTER DELETE ON accounts BEGIN
	DELETE FROM pubsub_subscriptions
		WHERE jid = OLD.user OR substr(jid, 1, length(OLD.user) + 1) = OLD.user || '/';
	DELETE FROM pubsub_affiliations WHERE jid = OLD.user;
END;
`

var _ storage.PubSub = (*DB)(nil)
