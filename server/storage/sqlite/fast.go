package sqlite

import (
	"github.com/parley-xmpp/parley/server/storage"
)

// fastSchema stores XEP-0484 tokens. Replacing or deleting an account's
// SCRAM keys (a password change, an account deletion) removes its tokens,
// by trigger, in the same transaction.
const fastSchema = `
CREATE TABLE fast_tokens (
	user      TEXT NOT NULL REFERENCES accounts(user) ON DELETE CASCADE,
	client    TEXT NOT NULL,
	id        BLOB NOT NULL,
	key       BLOB NOT NULL,
	mechanism TEXT NOT NULL,
	expiry    INTEGER NOT NULL,
	count     INTEGER NOT NULL,
	slot      INTEGER NOT NULL,
	PRIMARY KEY (user, client, slot)
);
CREATE TRIGGER fast_tokens_on_keys AFTER DELETE ON scram_keys FOR EACH ROW
BEGIN
	DELETE FROM fast_tokens WHERE user = OLD.user;
END;
`

var _ storage.FastTokens = (*DB)(nil)
