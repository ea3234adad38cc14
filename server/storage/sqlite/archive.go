package sqlite

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
	seq       INTEGER PRIMARY KEY AUTOINCREMENT,
	user      TEXT NOT NULL,
	id        TEXT NOT NULL,
	with_bare TEXT NOT NULL,
	with_full TEXT NOT NULL,
	outgoing  INTEGER NOT NULL,
	at        INTEGER NOT NULL,
	origin_id TEXT NOT NULL,
	stanza    BLOB NOT NULL,
	UNIQUE (user, id)
);
CREATE INDEX archive_user_at ON archive(user, at);
CREATE INDEX archive_user_with_at ON archive(user, with_bare, at);
CREATE INDEX archive_at ON archive(at);

CREATE TABLE archive_prefs (
	user         TEXT PRIMARY KEY,
	default_mode TEXT NOT NULL,
	always       TEXT NOT NULL,
	never        TEXT NOT NULL
);
`
