// Package sqlcommon is the SQL that the SQLite and PostgreSQL backends
// share: the codecs of stored values (times as UTC Unix nanoseconds,
// JIDs as strings), the row scanners, and the builder of archive queries
// (XEP-0313). It writes queries with '?' and a Dialect renumbers them as
// '$n' for PostgreSQL; it imports no driver, so the backends adapt their
// connections to its small Querier interface and keep everything else
// that is their own (group commit, BEGIN IMMEDIATE, pgx batches, advisory
// locks, migrations).
package sqlcommon
