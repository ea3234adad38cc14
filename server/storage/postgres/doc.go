// Package postgres is the PostgreSQL backend of server/storage, built on
// pgx/v5 and its connection pool (pgxpool).
//
// A [DB] holds one pool; several server nodes may share the database. The
// schema is versioned like the SQLite backend's: [Open] applies, in one
// transaction holding a transaction-level advisory lock, every migration
// newer than the version recorded in schema_migrations, so nodes starting
// at the same time neither race nor apply a migration twice, and a failed
// migration leaves nothing behind (PostgreSQL DDL is transactional).
//
// Tables are created unqualified, so the connection's search_path selects
// the schema (a search_path URL parameter works). Users are keyed by the
// string form of their bare JID in the column "username" ("user" is
// reserved in PostgreSQL); key columns use the "C" collation so that
// sorting is bytewise, as in SQLite and Go. Times are stored as UTC Unix
// nanoseconds (BIGINT), as in SQLite, so data copies between the backends
// without losing precision.
//
// Most statements are shared with the SQLite backend
// (server/storage/sqlcommon, embedded in [DB]). Its dialect says that
// writers run concurrently here: per-user quotas are enforced atomically
// with a transaction-level advisory lock on the user, rows read before a
// write are locked (FOR UPDATE, FOR SHARE), and roster versions are
// incremented with an upsert, which row-locks the version.
package postgres
