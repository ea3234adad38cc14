package cluster

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Deleting a key of a JetStream key-value bucket leaves a delete marker
// (so that watchers learn of the deletion), and the markers stay until
// someone purges them. Every session that ends and every room that
// leaves memory deletes a key under a name that is seldom used again (a
// random resource, a temporary room), so without purging the buckets
// grow by one marker per session for ever. One live node — the first by
// name, so that the nodes do not all walk the buckets — purges the
// markers older than markerAge every markerSweep.
const (
	// markerSweep is how often the first live node purges old markers.
	markerSweep = 10 * time.Minute
	// markerAge is how old a marker must be to go: far longer than any
	// watcher needs to see it (they see it as it is written) and than a
	// node's conditional deletes rely on it.
	markerAge = 30 * time.Minute
)

// purgeMarkersLoop purges old delete markers from the buckets every
// markerSweep while this node is the first live node by name.
func (n *Node) purgeMarkersLoop() {
	t := time.NewTicker(markerSweep)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
			if n.leaving.Load() || !n.firstAlive() {
				continue
			}
			for _, kv := range n.markerBuckets() {
				if err := purgeMarkers(n.ctx, kv, markerAge); err != nil {
					n.log.Warn("cluster: purging delete markers", "bucket", kv.Bucket(), "err", err)
				}
			}
		}
	}
}

// markerBuckets are the buckets whose keys are deleted in the normal
// course of things.
func (n *Node) markerBuckets() []jetstream.KeyValue {
	out := []jetstream.KeyValue{n.sessKV, n.compKV}
	if n.rooms.kv != nil {
		out = append(out, n.rooms.kv)
	}
	if n.res != nil && n.res.kv != nil {
		// Bounded in bytes (journal_bytes), refusing writes when full:
		// markers left there would end by refusing resumption states.
		out = append(out, n.res.kv)
	}
	return out
}

// firstAlive reports whether this node has the smallest name among the
// live nodes it knows.
func (n *Node) firstAlive() bool {
	for _, ni := range n.Nodes() { // sorted by name
		if ni.Alive {
			return ni.Self
		}
	}
	return false
}

// purgeMarkers removes from kv the delete markers older than age (and,
// with them, the history of those keys).
func purgeMarkers(ctx context.Context, kv jetstream.KeyValue, age time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return kv.PurgeDeletes(ctx, jetstream.DeleteMarkersOlderThan(age))
}
