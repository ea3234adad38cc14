// Package cluster makes a Parley server one node of a cluster whose
// nodes share PostgreSQL for their data and NATS with JetStream for
// everything else: which node holds which session, whether a node is
// alive, and the stanzas between nodes. It has no membership or
// consensus protocol of its own: a JetStream key-value bucket's ordered
// revisions decide conflicts, and a lease renewed in another bucket says
// that a node is alive.
//
//   - The session directory (directory.go) is a session.Directory: the
//     local session.Table in front of a replica of the other nodes'
//     sessions, kept by watching the sessions bucket, so that lookups
//     never wait on the network. A session of another node is a
//     *session.Session whose Conn forwards to its node (remote.go), with
//     the presence, priority and flags its node published, so that the
//     router applies RFC 6121 §8.5 across nodes exactly as on one.
//   - The node (node.go) publishes its sessions (publish.go) under their
//     full JID, one revision per change; the newest revision of a full
//     JID wins, and the node whose session lost closes it with
//     <conflict/> (RFC 6120 §7.7.2.2).
//   - Leases (lease.go): each node renews its entry of the nodes bucket
//     every third of node_ttl; a node whose lease was not renewed for
//     node_ttl is dead, its sessions leave every directory, and the
//     survivors delete its entries and send the unavailable presence its
//     users can no longer send.
//   - Routing (peer.go, wire.go): a subject per node; what goes to
//     another node is serialised once and queued, bounded in bytes, for
//     a writer per node, which keeps the order of what one sender sends
//     to one recipient.
//   - Chat rooms (rooms.go): each room is served by the node holding its
//     lease in the rooms bucket; the others forward its stanzas there,
//     and the serving node saves its occupants for the next one, which
//     takes the lease when it dies or leaves.
package cluster
