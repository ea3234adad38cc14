// Package session is the session table: every bound resource of every local
// account, its presence and priority, and the resource-conflict policy of
// RFC 6120 §7.7.2.2 (the newest session wins).
//
// The table is sharded by bare JID so that routing between local users
// takes no global lock. Sessions kept for XEP-0198 stream resumption stay
// bound while detached from any connection, and are found by their
// resumption id (resume.go).
//
// The router and modules find sessions through the Directory interface
// (directory.go), which the Table implements: a cluster can put a
// directory of every node's sessions in its place, while transports keep
// binding the sessions of their connections in the local Table.
package session
