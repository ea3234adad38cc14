package app

import (
	"context"
	"log/slog"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Bounds of the collector percentage tuneGC sets.
const (
	minGCPercent = 100 // Go's default
	maxGCPercent = 1000
)

// gcPercentFor returns the collector percentage that makes the next cycle
// start at floor bytes for a live heap of live bytes: Go's default once
// the live heap is half the floor or more, at most maxGCPercent.
func gcPercentFor(live, floor uint64) int {
	if live == 0 || live*2 >= floor {
		return minGCPercent
	}
	return int(min(floor*100/live-100, maxGCPercent))
}

// tuneGC applies runtime.gc_min_heap until ctx ends: after each poll of
// the live heap it sets the collector percentage from gcPercentFor, when
// that differs by more than a tenth from the one in force.
func tuneGC(ctx context.Context, floor uint64, every time.Duration, log *slog.Logger) {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	cur := minGCPercent
	t := time.NewTicker(every)
	defer t.Stop()
	defer debug.SetGCPercent(minGCPercent)
	for {
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			want := gcPercentFor(sample[0].Value.Uint64(), floor)
			if diff := want - cur; diff > cur/10 || -diff > cur/10 {
				debug.SetGCPercent(want)
				log.Debug("garbage collector percentage", "percent", want, "live", sample[0].Value.Uint64())
				cur = want
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
