package stream_test

import (
	"fmt"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

// BenchmarkParkedSessionHeap logs in 300 sessions over direct TLS (TLS
// 1.3, PLAIN), each sending initial presence, waits until all are
// parked and reports, after a collection, the process's live heap and
// heap spans in use per session. The clients run in the same process, so
// the figures include their side of each connection: compare builds by
// the difference (as bench/ does with `parley bench --scenario idle`,
// which measures the server alone). Run with -benchtime 1x.
func BenchmarkParkedSessionHeap(b *testing.B) {
	const n = 300
	for range b.N {
		s := xmpptest.NewServer(b, func(c *config.Config) { c.Limits.ParkAfter = 100 * time.Millisecond })
		for i := range n {
			s.AddUser(b, fmt.Sprintf("u%d", i), "pw")
		}
		live0, inuse0 := heapFigures()
		conns := make([]*raw, 0, n)
		for i := range n {
			r := loginRawTLS(b, s, fmt.Sprintf("u%d", i), "pw", "idle")
			r.send(stanza.New(stanza.NSClient, "presence"))
			conns = append(conns, r)
		}
		deadline := time.Now().Add(30 * time.Second)
		for s.App.Parks() < n && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if p := s.App.Parks(); p < n {
			b.Fatalf("%d of %d sessions parked", p, n)
		}
		live, inuse := heapFigures()
		b.ReportMetric(float64(live-live0)/n, "live-B/session")
		b.ReportMetric(float64(inuse-inuse0)/n, "inuse-B/session")
		runtime.KeepAlive(conns)
	}
}

// heapFigures collects garbage and returns the live heap and the bytes
// in heap spans in use.
func heapFigures() (live, inuse uint64) {
	runtime.GC()
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/unused:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64(), s[1].Value.Uint64() + s[2].Value.Uint64()
}
