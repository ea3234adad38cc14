package module

// ArchiveSync is the key of the session value (session.Session.Value) a
// message archive sets, to true, on a session that queried it (XEP-0313):
// such a session catches up from the archive, so the messages it never
// acknowledged need not go to offline storage when it ends. The archive
// module sets it; the stream engine reads it (XEP-0198).
type ArchiveSync struct{}
