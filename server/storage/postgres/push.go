package postgres

import (
	"github.com/parley-xmpp/parley/server/storage"
)

// pushSchema stores XEP-0357 push registrations.
const pushSchema = `
CREATE TABLE push_registrations (
	username     TEXT COLLATE "C" NOT NULL REFERENCES accounts(username) ON DELETE CASCADE,
	service      TEXT COLLATE "C" NOT NULL,
	node         TEXT COLLATE "C" NOT NULL,
	resource     TEXT NOT NULL,
	options      BYTEA,
	include_body BOOLEAN NOT NULL,
	created      BIGINT NOT NULL,
	PRIMARY KEY (username, service, node)
);
`

var _ storage.Push = (*DB)(nil)
