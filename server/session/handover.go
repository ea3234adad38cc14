package session

import (
	"context"
	"time"

	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// The types below are shared by the stream engine (which resumes
// sessions, XEP-0198) and server/cluster (which carries them between
// nodes); they live here so that neither imports the other.

// ArchiveSync is the key of the session value (Session.Value) a message
// archive sets, to true, on a session that queried it (XEP-0313): such a
// session catches up from the archive, so the messages it never
// acknowledged need not go to offline storage when it ends. The archive
// module sets it; the stream engine and the cluster read it.
type ArchiveSync struct{}

// Resumer is what the engine needs of a cluster to let sessions resume
// on another node (server/cluster implements it).
type Resumer interface {
	// NewID returns the resumption id of a session enabling resumption.
	NewID() string
	// Enabled records s as resumable under id, for timeout.
	Enabled(s *Session, id string, timeout time.Duration)
	// Journal records a message delivered to the session id, which it
	// will have the outbound number h (XEP-0198 §4). It must not block.
	Journal(id string, h uint32, st *stanza.Element)
	// Acked records that the client of id acknowledged up to h.
	Acked(id string, h uint32)
	// Checkpoint makes durable, before the client is told, what the
	// session's stanzas up to inH caused (routed to other nodes,
	// journaled), and records inH for a resumption; id is "" for a
	// session that cannot be resumed.
	Checkpoint(ctx context.Context, id string, inH uint32)
	// Forget forgets id: its session ended for good.
	Forget(id string)
	// Resume takes over the session id of another node for user, whose
	// client received h stanzas of it. An error means no such session
	// (the client gets <failed/>).
	Resume(ctx context.Context, user jid.JID, id string, h uint32) (*Resumed, error)
}

// Resumed is a session handed over from another node (or rebuilt from
// what it recorded).
type Resumed struct {
	Full jid.JID
	// InH is the server's count of the stanzas it handled from the
	// client (the h of <resumed/>).
	InH     uint32
	Timeout time.Duration
	// Presence is the session's last available presence (nil when
	// unavailable), Priority its priority, Flags its session flags.
	Presence    *stanza.Element
	Priority    int
	Flags       []string
	ArchiveSync bool
	// Rebroadcast: the other nodes announced the session gone; its
	// presence is sent again once it is bound here.
	Rebroadcast bool
	// Pending are the stanzas the client did not acknowledge, oldest
	// first: they are sent again after <resumed/>.
	Pending []*stanza.Element
}
