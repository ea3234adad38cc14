package postgres

import (
	"github.com/parley-xmpp/parley/server/storage"
)

// fastSchema stores XEP-0484 tokens. Replacing or deleting an account's
// SCRAM keys (a password change, an account deletion) removes its tokens,
// by trigger, in the same transaction.
const fastSchema = `
CREATE TABLE fast_tokens (
	username  TEXT COLLATE "C" NOT NULL REFERENCES accounts(username) ON DELETE CASCADE,
	client    TEXT COLLATE "C" NOT NULL,
	id        BYTEA NOT NULL,
	key       BYTEA NOT NULL,
	mechanism TEXT NOT NULL,
	expiry    BIGINT NOT NULL,
	count     BIGINT NOT NULL,
	slot      SMALLINT NOT NULL,
	PRIMARY KEY (username, client, slot)
);
CREATE FUNCTION fast_tokens_on_keys() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM fast_tokens WHERE username = OLD.username;
	RETURN NULL;
END
$$;
CREATE TRIGGER fast_tokens_on_keys AFTER DELETE ON scram_keys
	FOR EACH ROW EXECUTE FUNCTION fast_tokens_on_keys();
`

var _ storage.FastTokens = (*DB)(nil)
