package load

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// runFlood measures what a flood costs the server: Count-1 resources of
// account First log in, send initial presence and then never read; one
// session of account First+1 sends chat messages of MessageBytes to
// their bare JID as fast as the server takes them for Duration, reading
// whatever comes back (bounces). The server's memory is read before the
// flood, every 100 ms during it (the peak is kept) and at its end.
// Without bounds on what a session may queue, the server holds every
// message for every resource.
func (r *runner) runFlood(ctx context.Context, rep *Report) error {
	read := func() (Mem, error) {
		if r.cfg.PID <= 0 {
			return Mem{}, nil
		}
		return r.cfg.serverMem()
	}
	n := r.cfg.Count
	sessions := make([]*Session, n)
	defer r.closeAll(sessions)
	start := time.Now()
	for i := range n {
		acc := r.cfg.First
		if i == n-1 {
			acc++ // the sender
		}
		lctx, cancel := context.WithTimeout(ctx, r.cfg.LoginTimeout)
		t0 := time.Now()
		s, err := r.cfg.Dialer.Login(lctx, i, r.cfg.Account(acc), LoginOptions{Register: r.cfg.Create})
		cancel()
		if err != nil {
			rep.LoginErrors++
			return fmt.Errorf("load: flood: login of %s: %w", r.cfg.Account(acc).User, err)
		}
		r.loginLat.Add(time.Since(t0))
		rep.Logins++
		sessions[i] = s
	}
	rep.LoginSeconds = time.Since(start).Seconds()
	rep.LoginsPerSec = perSecond(rep.Logins, time.Since(start))
	rep.LoginLatency = r.loginLat.Summary()
	sender := sessions[n-1]
	var bounced atomic.Int64
	r.readers.Go(func() {
		r.read(sender, func(_ *Session, el *stanza.Element) {
			if stanza.KindOf(el) == stanza.KindMessage && el.Type() == stanza.TypeError {
				bounced.Add(1)
			}
		})
	})
	if err := sleep(ctx, r.cfg.Settle); err != nil {
		return err
	}
	before, err := read()
	if err != nil {
		return err
	}
	peak := before
	size := max(r.cfg.MessageBytes, 1)
	body := strings.Repeat("x", size)
	msg := []byte("<message type='chat' to='" + sessions[0].Bare + "'><body>" + body + "</body></message>")
	var sent atomic.Int64
	stop := r.progress(ctx, func() string {
		return fmt.Sprintf("sent %d messages of %d bytes, %d bounced", sent.Load(), size, bounced.Load())
	})
	fctx, cancel := context.WithTimeout(ctx, r.cfg.Duration)
	defer cancel()
	done := make(chan error, 1)
	t0 := time.Now()
	go func() {
		for fctx.Err() == nil {
			if err := sender.SendRaw(msg); err != nil {
				done <- err
				return
			}
			sent.Add(1)
		}
		done <- nil
	}()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var sendErr error
	sampling := true
	for sampling {
		select {
		case <-tick.C:
		case sendErr = <-done:
			sampling = false
		}
		if m, err := read(); err == nil && m.RSS > peak.RSS {
			peak = m
		}
	}
	stop()
	rep.RunSeconds = time.Since(t0).Seconds()
	rep.Sent = sent.Load()
	rep.SentBytes = rep.Sent * int64(len(msg))
	rep.Bounced = bounced.Load()
	if sendErr != nil && !errors.Is(sendErr, context.DeadlineExceeded) {
		r.errs.Add(fmt.Errorf("sender: %w", sendErr))
	}
	if r.cfg.PID > 0 {
		after, err := read()
		if err != nil {
			return err
		}
		rep.MemBefore, rep.MemPeak, rep.MemAfter = &before, &peak, &after
	}
	return ctx.Err()
}
