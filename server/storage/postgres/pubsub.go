package postgres

import (
	"github.com/parley-xmpp/parley/server/storage"
)

// pubsubSchema holds publish-subscribe services (XEP-0060, XEP-0163). The
// column "username" is the service's JID: an account's bare JID for its
// PEP service, so that DeleteAccount removes it with the account's other
// rows; the domain of a pubsub service otherwise. The trigger removes the
// deleted account's subscriptions and affiliations on every other service.
const pubsubSchema = `
CREATE TABLE pubsub_nodes (
	username TEXT COLLATE "C" NOT NULL,
	node     TEXT COLLATE "C" NOT NULL,
	config   TEXT NOT NULL,
	created  BIGINT NOT NULL,
	PRIMARY KEY (username, node)
);

CREATE SEQUENCE pubsub_item_seq;

CREATE TABLE pubsub_items (
	username  TEXT COLLATE "C" NOT NULL,
	node      TEXT COLLATE "C" NOT NULL,
	id        TEXT COLLATE "C" NOT NULL,
	seq       BIGINT NOT NULL,
	publisher TEXT NOT NULL,
	payload   BYTEA NOT NULL,
	published BIGINT NOT NULL,
	PRIMARY KEY (username, node, id)
);
CREATE INDEX pubsub_items_seq ON pubsub_items(username, node, seq);

CREATE TABLE pubsub_affiliations (
	username    TEXT COLLATE "C" NOT NULL,
	node        TEXT COLLATE "C" NOT NULL,
	jid         TEXT COLLATE "C" NOT NULL,
	affiliation TEXT NOT NULL,
	PRIMARY KEY (username, node, jid)
);
CREATE INDEX pubsub_affiliations_jid ON pubsub_affiliations(jid);

CREATE TABLE pubsub_subscriptions (
	username TEXT COLLATE "C" NOT NULL,
	node     TEXT COLLATE "C" NOT NULL,
	jid      TEXT COLLATE "C" NOT NULL,
	subid    TEXT COLLATE "C" NOT NULL,
	state    TEXT NOT NULL,
	PRIMARY KEY (username, node, jid, subid)
);
CREATE INDEX pubsub_subscriptions_jid ON pubsub_subscriptions(jid);

CREATE FUNCTION pubsub_account_deleted() RETURNS trigger AS $$
BEGIN
	DELETE FROM pubsub_subscriptions
		WHERE jid = OLD.username OR left(jid, length(OLD.username) + 1) = OLD.username || '/';
	DELETE FROM pubsub_affiliations WHERE jid = OLD.username;
	RETURN OLD;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER pubsub_account_deleted AFTER DELETE ON accounts
	FOR EACH ROW EXECUTE FUNCTION pubsub_account_deleted();
`

var _ storage.PubSub = (*DB)(nil)
