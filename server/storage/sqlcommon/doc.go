// Package sqlcommon is the SQL that the SQLite and PostgreSQL backends
// share: every store whose statements differ only in dialect, the codecs
// of stored values (times as UTC Unix nanoseconds, JIDs as strings, lists
// as arrays or text), the row scanners, and the builder of archive queries
// (XEP-0313).
//
// It writes statements with '?' placeholders and the owner's column as
// {user}; a [Dialect] renders them for its backend ('$n', "username",
// octet_length) and says what the backend can do: arrays, sequences, and
// whether its writers run concurrently, in which case the shared writes
// take row locks (FOR UPDATE, FOR SHARE) and per-user advisory locks
// ([Dialect.LockUser]) that a single writer connection does without.
//
// It imports no driver. A backend adapts its connections to [Querier]
// (reads), [Execer] (writes of one statement), [Transact] (writes of
// several) and [Snapshot] (reads that must agree), builds the stores with
// [NewShared] and embeds the result in its DB; a method the backend
// defines itself hides the shared one of its name. What stays in a
// backend is what is its own: connections, schema and migrations, SQLite's
// group commit and prepared statements, PostgreSQL's pool, and the few
// statements written differently (SQLite's one-statement roster read,
// array statements against per-row loops, UPDATE … RETURNING, archive
// trimming).
package sqlcommon
