package load

import (
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"time"
)

// runStorm is the reconnect storm: Count clients log in once (at the
// configured rate and concurrency), keeping their TLS session tickets
// and FAST tokens as client applications do, and log out; then, after
// Restart (when set) brought the server back, all of them reconnect at
// once with their ticket and token. The report's login figures are the
// storm's; WarmLoginsPerSec is the first pass's rate.
func (r *runner) runStorm(ctx context.Context, rep *Report) error {
	d := &r.cfg.Dialer
	if d.Returning == nil {
		d.Returning = NewReturning()
	}
	var warm Report
	sessions := r.loginAll(ctx, &warm, LoginOptions{Register: r.cfg.Create}, nil)
	r.closeAll(sessions)
	rep.WarmLoginsPerSec = warm.LoginsPerSec
	rep.Tickets, rep.Tokens = d.Returning.Counts()
	if warm.Logins == 0 {
		return fmt.Errorf("load: storm: none of the %d first logins succeeded", r.cfg.Count)
	}
	if r.cfg.Restart != nil {
		t0 := time.Now()
		if err := r.cfg.Restart(ctx); err != nil {
			return fmt.Errorf("load: storm: restarting the server: %w", err)
		}
		rep.Restarted = true
		rep.RestartSeconds = time.Since(t0).Seconds()
	}
	// Everyone at once: one login in progress per client, no pacing.
	r.logins.Store(0)
	r.failures.Store(0)
	r.loginLat = Latencies{}
	r.closing.Store(false)
	concurrency, rate := r.cfg.Concurrency, r.cfg.LoginRate
	r.cfg.Concurrency, r.cfg.LoginRate = r.cfg.Count, 0
	defer func() { r.cfg.Concurrency, r.cfg.LoginRate = concurrency, rate }()
	sessions = r.loginAll(ctx, rep, LoginOptions{}, nil)
	for _, s := range sessions {
		if s == nil {
			continue
		}
		if s.Resumed {
			rep.Resumed++
		}
		if s.FastAuth {
			rep.FastLogins++
		}
	}
	r.closeAll(sessions)
	return nil
}

// RestartCommand returns a Config.Restart that runs command with sh -c
// (its output goes to out) and then waits, up to timeout, until addr
// accepts TCP connections again.
func RestartCommand(command, addr string, timeout time.Duration, out io.Writer) func(context.Context) error {
	return func(ctx context.Context) error {
		cmd := exec.CommandContext(ctx, "sh", "-c", command)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%q: %w", command, err)
		}
		return WaitListening(ctx, addr, timeout)
	}
}

// WaitListening waits until addr accepts a TCP connection, up to
// timeout.
func WaitListening(ctx context.Context, addr string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	for {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			c.Close()
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s not accepting connections after %s: %w", addr, timeout, err)
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return fmt.Errorf("%s not accepting connections after %s", addr, timeout)
		}
	}
}
