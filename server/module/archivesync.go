package module

import "github.com/parley-xmpp/parley/server/session"

// ArchiveSync is the key of the session value a message archive sets on
// a session that queried it (session.ArchiveSync, where it is described).
type ArchiveSync = session.ArchiveSync
