package muc_test

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/parley-xmpp/parley/server/mod/muc"
	"github.com/parley-xmpp/parley/xmpp/form"
	"github.com/parley-xmpp/parley/xmpp/jid"
	xmuc "github.com/parley-xmpp/parley/xmpp/muc"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// countConn is a transport that serialises what it is given, as the c2s
// writer does, and counts it.
type countConn struct{ n, bytes atomic.Int64 }

func (c *countConn) Deliver(st *stanza.Element) error {
	c.n.Add(1)
	c.bytes.Add(int64(len(st.Bytes())))
	return nil
}
func (c *countConn) Close(*stream.Error) {}
func (c *countConn) RemoteAddr() string  { return "bench" }

// BenchmarkRoomFanout measures one groupchat message reflected to every
// occupant of a room of 100 and of 1,000 occupants, through the real
// router into sessions that serialise each copy: the time and allocations
// per delivery.
func BenchmarkRoomFanout(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("occupants=%d", n), func(b *testing.B) { benchFanout(b, n) })
	}
}

func benchFanout(b *testing.B, n int) {
	ctx := context.Background()
	r, sessions := benchRouter(b, b.TempDir(), muc.Options{History: -1}, n)
	conns := make([]*countConn, n)
	for i, s := range sessions {
		conns[i] = s.Conn().(*countConn)
		occ := jid.MustParse(fmt.Sprintf("room@conference.example.com/u%d", i))
		pres := xmuc.Join(occ, "", &xmuc.History{MaxStanzas: 0, MaxChars: -1, Seconds: -1})
		r.RouteFrom(ctx, s, pres.Set("from", s.JID().String()))
		if i == 0 {
			q := stanza.New(xmuc.NSOwner, "query").Append((&form.Form{Type: form.TypeSubmit}).Element())
			iq := stanza.NewIQ(stanza.TypeSet, "cfg", "room@conference.example.com", q)
			iq.Set("from", s.JID().String())
			r.RouteFrom(ctx, s, iq)
		}
	}
	before := conns[n-1].n.Load()
	msg := stanza.NewMessage(stanza.TypeGroupchat, "room@conference.example.com", "a message of ordinary length, sent to the whole room")
	msg.Set("from", sessions[0].JID().String())
	msg.Set("id", "m1")
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	b.ResetTimer()
	for range b.N {
		r.RouteFrom(ctx, sessions[0], msg)
	}
	b.StopTimer()
	runtime.ReadMemStats(&ms1)
	if got := conns[n-1].n.Load() - before; got != int64(b.N) {
		b.Fatalf("the last occupant got %d of %d messages", got, b.N)
	}
	deliveries := float64(b.N) * float64(n)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/deliveries, "ns/delivery")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/deliveries, "allocs/delivery")
	b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/deliveries, "B/delivery")
}

// BenchmarkRoomJoin measures 1,000 occupants entering one room, each
// getting the presence of those already there and announced to them:
// the time for the whole room to fill, and per join.
func BenchmarkRoomJoin(b *testing.B) {
	const n = 1000
	ctx := context.Background()
	for range b.N {
		b.StopTimer()
		r, sessions := benchRouter(b, b.TempDir(), muc.Options{History: -1}, n)
		b.StartTimer()
		for i, s := range sessions {
			occ := jid.MustParse(fmt.Sprintf("room@conference.example.com/u%d", i))
			pres := xmuc.Join(occ, "", &xmuc.History{MaxStanzas: 0, MaxChars: -1, Seconds: -1})
			r.RouteFrom(ctx, s, pres.Set("from", s.JID().String()))
			if i == 0 {
				q := stanza.New(xmuc.NSOwner, "query").Append((&form.Form{Type: form.TypeSubmit}).Element())
				iq := stanza.NewIQ(stanza.TypeSet, "cfg", "room@conference.example.com", q)
				r.RouteFrom(ctx, s, iq.Set("from", s.JID().String()))
			}
		}
		b.StopTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e6, "ms/room-filled")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/join")
}
