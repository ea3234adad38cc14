package load

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// payloadPrefix starts every measured body or status: "bench <unix-ns>
// <sender>". The receiver derives the latency from the timestamp, which
// is valid because senders and receivers share this process's clock.
const payloadPrefix = "bench "

// traffic drives flow-controlled senders and accounts for deliveries.
// Each send is expected to reach fanout recipients; a sender may have at
// most window sends in flight (window×fanout undelivered deliveries).
type traffic struct {
	fanout  int64
	limit   int64
	senders []sender
	sent    atomic.Int64
	recv    atomic.Int64
	strays  atomic.Int64
	// bounced counts sends refused with an error: none of their
	// deliveries will come.
	bounced atomic.Int64
	lat     Latencies
	start   atomic.Int64 // unix ns when sending started
	last    atomic.Int64 // ns since start of the latest delivery
}

type sender struct {
	outstanding atomic.Int64
	wake        chan struct{}
}

func newTraffic(n, fanout, window int) *traffic {
	t := &traffic{fanout: int64(fanout), limit: int64(window) * int64(fanout), senders: make([]sender, n)}
	for i := range t.senders {
		t.senders[i].wake = make(chan struct{}, 1)
	}
	return t
}

// payload returns the measured text for a send by sender idx.
func payload(buf []byte, idx int, now time.Time) []byte {
	buf = append(buf, payloadPrefix...)
	buf = strconv.AppendInt(buf, now.UnixNano(), 10)
	buf = append(buf, ' ')
	return strconv.AppendInt(buf, int64(idx), 10)
}

// parsePayload is the inverse of payload.
func parsePayload(text string) (sent time.Time, idx int, ok bool) {
	rest, ok := strings.CutPrefix(text, payloadPrefix)
	if !ok {
		return time.Time{}, 0, false
	}
	ts, is, ok := strings.Cut(rest, " ")
	if !ok {
		return time.Time{}, 0, false
	}
	ns, err1 := strconv.ParseInt(ts, 10, 64)
	i, err2 := strconv.Atoi(is)
	if err1 != nil || err2 != nil || i < 0 {
		return time.Time{}, 0, false
	}
	return time.Unix(0, ns), i, true
}

// deliver accounts for one received payload; it reports false for text
// that is not one of ours.
func (t *traffic) deliver(text string) bool {
	sent, idx, ok := parsePayload(text)
	if !ok || idx >= len(t.senders) {
		t.strays.Add(1)
		return false
	}
	now := time.Now()
	t.lat.Add(now.Sub(sent))
	t.recv.Add(1)
	t.last.Store(now.UnixNano() - t.start.Load())
	s := &t.senders[idx]
	if s.outstanding.Add(-1) < t.limit {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	return true
}

// bounce accounts for a send refused with an error, whose bounce carried
// the payload back: its deliveries will not come, so they are not
// expected, and the sender's window gets them back. It reports false for
// text that is not one of ours.
func (t *traffic) bounce(text string) bool {
	_, idx, ok := parsePayload(text)
	if !ok || idx >= len(t.senders) {
		return false
	}
	t.bounced.Add(1)
	s := &t.senders[idx]
	if s.outstanding.Add(-t.fanout) < t.limit {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	return true
}

// expected returns the deliveries expected so far: fanout for every send
// that was not refused.
func (t *traffic) expected() int64 { return (t.sent.Load() - t.bounced.Load()) * t.fanout }

// run starts one goroutine per sender (those for which send is not nil
// for the index), each paced at rate/senders per second, until ctx ends
// or d passes; then it waits up to drain for the deliveries.
func (t *traffic) run(ctx context.Context, d, drain time.Duration, rate float64, active []bool,
	send func(idx int, buf []byte, now time.Time) ([]byte, error), onErr func(error)) {
	n := 0
	for _, a := range active {
		if a {
			n++
		}
	}
	if n == 0 {
		return
	}
	perSender := 0.0
	if rate > 0 {
		perSender = rate / float64(n)
	}
	start := time.Now()
	t.start.Store(start.UnixNano())
	sctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var wg sync.WaitGroup
	k := 0
	for idx, a := range active {
		if !a {
			continue
		}
		// The k-th sender's first slot is k/n of an interval in: the
		// senders' combined sends are evenly spaced at the total rate,
		// not a burst of n sends every interval.
		first := start.Add(staggered(k, n, perSender))
		k++
		wg.Go(func() {
			pacer := NewPacerFrom(perSender, first)
			timer := time.NewTimer(time.Hour)
			timer.Stop()
			s := &t.senders[idx]
			var buf []byte
			for {
				if pacer.WaitTimer(sctx, timer) != nil {
					return
				}
				for s.outstanding.Load() >= t.limit {
					select {
					case <-s.wake:
					case <-sctx.Done():
						return
					}
				}
				s.outstanding.Add(t.fanout)
				t.sent.Add(1)
				var err error
				if buf, err = send(idx, buf[:0], time.Now()); err != nil {
					onErr(err)
					return
				}
			}
		})
	}
	wg.Wait()
	deadline := time.Now().Add(drain)
	for t.recv.Load() < t.expected() && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
}

// staggered returns the offset of the k-th of n senders' first send when
// each sends at rate per second: k/n of the interval between its sends.
func staggered(k, n int, rate float64) time.Duration {
	if rate <= 0 || n <= 0 {
		return 0
	}
	return time.Duration(float64(time.Second) / rate * float64(k) / float64(n))
}

// fill writes the traffic figures into rep.
func (t *traffic) fill(rep *Report) {
	rep.Sent = t.sent.Load()
	rep.Bounced = t.bounced.Load()
	rep.Expected = t.expected()
	rep.Received = t.recv.Load()
	rep.Lost = max(0, rep.Expected-rep.Received)
	rep.Extra = max(0, rep.Received-rep.Expected)
	elapsed := time.Duration(t.last.Load())
	rep.RunSeconds = elapsed.Seconds()
	rep.MsgsPerSec = perSecond(rep.Received, elapsed)
	rep.Latency = t.lat.Summary()
}

// progressLine describes the traffic so far.
func (t *traffic) progressLine(errs *Errors) string {
	s := t.lat.Summary()
	line := "sent " + strconv.FormatInt(t.sent.Load(), 10) + ", delivered " + strconv.FormatInt(t.recv.Load(), 10)
	if b := t.bounced.Load(); b > 0 {
		line += ", refused " + strconv.FormatInt(b, 10)
	}
	return line + ", errors " + strconv.FormatInt(errs.Total(), 10) + ", latency " + s.String()
}
