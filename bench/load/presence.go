package load

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// setupTimeout bounds the roster setup phase.
const setupTimeout = 2 * time.Minute

// contacts returns the roster of session i among n: its R ring neighbours
// i±1 … i±R/2 (mod n), so every relation is mutual. R must be even and
// smaller than n.
func contacts(i, n, r int) []int {
	out := make([]int, 0, r)
	for k := 1; k <= r/2; k++ {
		out = append(out, (i+k)%n, ((i-k)%n+n)%n)
	}
	return out
}

// runPresence gives every account a roster of R mutual ("both")
// subscriptions — made with subscribe/subscribed handshakes, skipped when
// the rosters already exist — then has every session broadcast presence
// updates whose status carries a timestamp; each update should reach the R
// contacts.
func (r *runner) runPresence(ctx context.Context, rep *Report) error {
	if r.cfg.Roster%2 != 0 {
		return fmt.Errorf("load: presence roster size %d must be even (rosters are mutual ring neighbours)", r.cfg.Roster)
	}
	n := r.cfg.Count
	t := newTraffic(n, r.cfg.Roster, r.cfg.Window)
	var measuring atomic.Bool
	var approvals atomic.Int64
	h := func(s *Session, el *stanza.Element) {
		if stanza.KindOf(el) != stanza.KindPresence {
			return
		}
		from, _, _ := strings.Cut(el.From(), "/")
		switch el.Type() {
		case "subscribe":
			s.Send(stanza.New(stanza.NSClient, "presence", "to", from, "type", "subscribed"))
		case "subscribed":
			approvals.Add(1)
		case "", "available":
			if measuring.Load() && from != s.Bare {
				if st := el.ChildText(stanza.NSClient, "status"); st != "" {
					t.deliver(st)
				}
			}
		case stanza.TypeError:
			r.errs.Add(fmt.Errorf("presence bounced: %s", errorCondition(el)))
		}
	}
	sessions := r.loginAll(ctx, rep, LoginOptions{Register: r.cfg.Create}, h)
	defer r.closeAll(sessions)
	if rep.Logins != int64(n) {
		return fmt.Errorf("load: presence needs every session online (%d of %d logged in)", rep.Logins, n)
	}
	if err := r.setupRosters(ctx, sessions, &approvals); err != nil {
		return err
	}
	measuring.Store(true)
	active := make([]bool, n)
	for i := range active {
		active[i] = true
	}
	stop := r.progress(ctx, func() string { return t.progressLine(&r.errs) })
	t.run(ctx, r.cfg.Duration, r.cfg.Drain, r.cfg.Rate, active, func(idx int, buf []byte, now time.Time) ([]byte, error) {
		buf = append(buf, "<presence><status>"...)
		buf = payload(buf, idx, now)
		buf = append(buf, "</status></presence>"...)
		return buf, sessions[idx].SendRaw(buf)
	}, r.errs.Add)
	stop()
	t.fill(rep)
	return ctx.Err()
}

// setupRosters sends the subscription requests of every session unless
// every roster already holds R "both" items, and waits for the approvals.
func (r *runner) setupRosters(ctx context.Context, sessions []*Session, approvals *atomic.Int64) error {
	n, R := len(sessions), r.cfg.Roster
	ready := true
	for _, s := range sessions {
		if s.RosterSize < R {
			ready = false
		}
	}
	if ready {
		r.log.Info("rosters already set up", "roster", R)
		// Let the answers to the login probes arrive before measuring: a
		// probe answered after a contact's first timed update carries
		// that update again, which would count as a duplicate.
		return sleep(ctx, time.Second)
	}
	if r.cfg.Progress != nil {
		fmt.Fprintf(r.cfg.Progress, "setting up rosters of %d contacts for %d accounts\n", R, n)
	}
	pacer := NewPacer(r.cfg.LoginRate)
	for i, s := range sessions {
		for _, j := range contacts(i, n, R) {
			if err := pacer.Wait(ctx); err != nil {
				return err
			}
			to := fmt.Sprintf(r.cfg.UserFormat, r.cfg.First+j) + "@" + r.cfg.Dialer.Domain
			if err := s.Send(stanza.New(stanza.NSClient, "presence", "to", to, "type", "subscribe")); err != nil {
				return fmt.Errorf("load: roster setup: %w", err)
			}
		}
	}
	want := int64(n * R)
	deadline := time.Now().Add(setupTimeout)
	for approvals.Load() < want {
		if time.Now().After(deadline) {
			return fmt.Errorf("load: roster setup: %d of %d subscriptions approved after %s", approvals.Load(), want, setupTimeout)
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
	// Let the presence exchanged on approval settle before measuring.
	if err := sleep(ctx, time.Second); err != nil {
		return err
	}
	return nil
}
