// Package sqlite is the SQLite backend of server/storage, built on the pure-Go
// driver modernc.org/sqlite.
//
// A [DB] holds two connection pools on the same file: one writer connection
// (every write transaction starts with BEGIN IMMEDIATE, so writers queue in
// the process instead of failing with SQLITE_BUSY on lock upgrades) and a
// read pool opened with query_only. The database runs in WAL mode so readers
// never block the writer. The schema is versioned: [Open] applies, in one
// transaction, every migration newer than the version recorded in the
// schema_migrations table, so a newer binary upgrades an older file.
//
// Times are stored as UTC Unix nanoseconds. Users are keyed by the string
// form of their bare JID. Most statements are shared with the PostgreSQL
// backend (server/storage/sqlcommon, embedded in [DB]); they reach SQLite
// through the group commit for writes and through statements prepared
// once on the read pool for reads.
package sqlite
