package postgres

import (
	"github.com/parley-xmpp/parley/server/storage"
)

var (
	_ storage.Archive         = (*DB)(nil)
	_ storage.ArchiveRewriter = (*DB)(nil)
)

// archiveSchema is the migration adding message archives (XEP-0313) and
// their preferences (XEP-0441). seq gives the archive order; with_bare
// serves 'with' filters on a bare JID and with_full those on a full JID.
const archiveSchema = `
CREATE TABLE archive (
	seq       BIGSERIAL PRIMARY KEY,
	username  TEXT COLLATE "C" NOT NULL,
	id        TEXT COLLATE "C" NOT NULL,
	with_bare TEXT COLLATE "C" NOT NULL,
	with_full TEXT COLLATE "C" NOT NULL,
	outgoing  BOOLEAN NOT NULL,
	at        BIGINT NOT NULL,
	origin_id TEXT NOT NULL,
	stanza    BYTEA NOT NULL,
	UNIQUE (username, id)
);
CREATE INDEX archive_user_at ON archive(username, at);
CREATE INDEX archive_user_with_at ON archive(username, with_bare, at);
CREATE INDEX archive_at ON archive(at);

CREATE TABLE archive_prefs (
	username     TEXT COLLATE "C" PRIMARY KEY,
	default_mode TEXT NOT NULL,
	always       TEXT[] NOT NULL,
	never        TEXT[] NOT NULL
);
`
