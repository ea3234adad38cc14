package muc_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/server/mod/muc"
	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/router"
	"github.com/parley-xmpp/parley/server/session"
	"github.com/parley-xmpp/parley/server/storage/sqlite"
	"github.com/parley-xmpp/parley/xmpp/form"
	"github.com/parley-xmpp/parley/xmpp/jid"
	xmuc "github.com/parley-xmpp/parley/xmpp/muc"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// BenchmarkIdlePersistentRooms creates 10,000 persistent rooms from one
// session — each entered, configured persistent, sent one message and
// left — and reports what the idle rooms cost the process once they are
// all empty: heap (live bytes after a collection) and RSS growth per
// room, the rooms still in memory, and the SQLite files per room.
// "archived" rooms (the default) leave memory when emptied; "unarchived"
// ones (archiving off) keep their history in memory, so they stay.
// Run it with -benchtime 1x.
func BenchmarkIdlePersistentRooms(b *testing.B) {
	for _, archived := range []bool{true, false} {
		name := "archived"
		if !archived {
			name = "unarchived"
		}
		b.Run(name, func(b *testing.B) {
			for range b.N {
				benchIdleRooms(b, 10000, muc.Options{NoArchive: !archived})
			}
		})
	}
}

func benchIdleRooms(b *testing.B, n int, opts muc.Options) {
	ctx := context.Background()
	dir := b.TempDir()
	r, sessions := benchRouter(b, dir, opts, 1)
	s := sessions[0]
	send := func(st *stanza.Element) { r.RouteFrom(ctx, s, st.Set("from", s.JID().String())) }
	heap0, rss0 := settledMemory()
	b.ResetTimer()
	for i := range n {
		room := fmt.Sprintf("idle%d@conference.example.com", i)
		send(xmuc.Join(jid.MustParse(room+"/owner"), "", nil))
		f := form.New(form.TypeSubmit, xmuc.NSRoomConfig).Add(form.Field{Var: "muc#roomconfig_persistentroom", Values: []string{"1"}})
		send(stanza.NewIQ(stanza.TypeSet, "cfg", room, stanza.New(xmuc.NSOwner, "query").Append(f.Element())))
		send(stanza.NewMessage(stanza.TypeGroupchat, room, fmt.Sprintf("said in room %d", i)))
		send(stanza.New(stanza.NSClient, "presence", "to", room+"/owner", "type", stanza.TypeUnavailable))
	}
	b.StopTimer()
	heap1, rss1 := settledMemory()
	runtime.KeepAlive(r) // the rooms are the router's: alive until measured
	var files int64
	matches, _ := filepath.Glob(filepath.Join(dir, "parley.db*"))
	for _, f := range matches {
		if st, err := os.Stat(f); err == nil {
			files += st.Size()
		}
	}
	b.ReportMetric(float64(int64(heap1)-int64(heap0))/float64(n), "heap-B/room")
	b.ReportMetric(float64(rss1-rss0)/float64(n), "rss-B/room")
	b.ReportMetric(float64(files)/float64(n), "db-B/room")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n)/1e3, "µs/room-created")
}

// settledMemory collects garbage, returns freed memory to the system and
// reports the live heap and the process's resident set, in bytes.
func settledMemory() (heap uint64, rss int64) {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc, residentBytes()
}

// residentBytes reads VmRSS from /proc/self/status; 0 where there is none.
func residentBytes() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// benchRouter returns a router with the MUC module on SQLite in dir and
// count bound sessions user0…@example.com/bench, whose transports
// serialise and count what they are given.
func benchRouter(b *testing.B, dir string, opts muc.Options, count int) (*router.Router, []*session.Session) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "parley.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	table := session.NewTable(0)
	r := router.New(router.Options{Domains: []string{"example.com"}, Stores: db.Stores(), Table: table})
	if err := r.Register(muc.New(opts)); err != nil {
		b.Fatal(err)
	}
	sessions := make([]*session.Session, count)
	for i := range count {
		full := jid.MustParse(fmt.Sprintf("user%d@example.com/bench", i))
		sessions[i] = session.NewSession(full, &countConn{})
		if _, err := table.Bind(sessions[i]); err != nil {
			b.Fatal(err)
		}
		r.Emit(ctx, module.SessionBound, sessions[i])
	}
	return r, sessions
}
