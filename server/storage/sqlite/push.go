package sqlite

import (
	"github.com/parley-xmpp/parley/server/storage"
)

// pushSchema stores XEP-0357 push registrations.
const pushSchema = `
CREATE TABLE push_registrations (
	user         TEXT NOT NULL REFERENCES accounts(user) ON DELETE CASCADE,
	service      TEXT NOT NULL,
	node         TEXT NOT NULL,
	resource     TEXT NOT NULL,
	options      BLOB,
	include_body INTEGER NOT NULL,
	created      INTEGER NOT NULL,
	PRIMARY KEY (user, service, node)
);
`

var _ storage.Push = (*DB)(nil)
