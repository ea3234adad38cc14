package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// Scenarios lists the scenario names Run accepts.
var Scenarios = []string{"login", "idle", "chat", "muc", "presence", "flood", "s2s", "s2s-links", "storm"}

// Config configures a run.
type Config struct {
	// Dialer is how sessions connect and log in.
	Dialer Dialer
	// Peer is how the s2s scenario's sessions on the second server
	// connect and log in: its Domain and Addrs, and TLS when that server's
	// certificate needs other roots; the other fields are Dialer's.
	Peer Dialer
	// UserFormat makes the localpart of account i, e.g. "user%d".
	UserFormat string
	// PasswordFormat makes its password; without a %d verb it is used
	// as is.
	PasswordFormat string
	// First is the index of the first account.
	First int
	// Count is the number of sessions.
	Count int
	// Create registers the accounts with in-band registration first.
	Create bool
	// LoginRate caps logins per second (≤ 0: as fast as Concurrency
	// allows).
	LoginRate float64
	// Concurrency is how many logins may be in progress at once.
	Concurrency int
	// LoginTimeout bounds one login.
	LoginTimeout time.Duration
	// Duration is how long the measured phase lasts (idle hold, chat,
	// MUC or presence traffic).
	Duration time.Duration
	// Rate caps messages (chat, MUC) or presence updates per second over
	// all senders (≤ 0: as fast as Window allows).
	Rate float64
	// Window is how many messages one sender may have in flight
	// (sent but not yet delivered to every recipient).
	Window int
	// Drain is how long to wait for deliveries after the senders stop.
	Drain time.Duration
	// PID is the server process whose memory the idle scenario reports
	// (0: not reported).
	PID int
	// NodePIDs are the other processes of a server that runs as several
	// (the other nodes of a cluster): their memory is added to PID's
	// wherever PID's is read but in the s2s scenarios, and their
	// processor time to PID's in Report.CPU. Only with PID.
	NodePIDs []int
	// CPUPIDs are further processes whose processor time during the chat
	// traffic is reported apart from the server's (Report.CPU), such as
	// a cluster's NATS server. Only with PID.
	CPUPIDs []int
	// PeerPID is the second server's process, whose memory the s2s
	// scenario reports (0: not reported).
	PeerPID int
	// Links is the number of remote domains the s2s-links scenario
	// opens a link to.
	Links int
	// LinkDomain makes the name of remote domain i of the s2s-links
	// scenario, e.g. "d%d.example"; all are served by one server.
	LinkDomain string
	// Settle is how long the idle scenario waits after the logins
	// before reading the server's memory.
	Settle time.Duration
	// Roster is the roster size R of the presence scenario.
	Roster int
	// RoomSize is the number of occupants per room of the MUC scenario.
	RoomSize int
	// Archive makes the MUC scenario's rooms persistent with message
	// archiving on (set through each room's configuration form).
	Archive bool
	// JoinTimeout bounds each of the MUC scenario's two joining passes
	// (room creators, then everyone else); 0 means two minutes.
	JoinTimeout time.Duration
	// VerifyArchive makes the chat scenario check, after the traffic, the
	// message archives (XEP-0313) of the accounts of its first
	// VerifyArchive pairs: every message delivered to one of them must be
	// archived once in its recipient's archive and once in its sender's
	// (Report.ArchiveCheck). 0: no check.
	VerifyArchive int
	// MessageBytes is the body size of the flood scenario's messages.
	MessageBytes int
	// Restart, when set, restarts the server between the storm
	// scenario's two passes and returns once it accepts connections
	// again (nil: the clients reconnect to the server as it is).
	Restart func(ctx context.Context) error
	// Progress receives one line every ProgressEvery (nil: none).
	Progress      io.Writer
	ProgressEvery time.Duration
	// Log receives diagnostics (nil: discarded).
	Log *slog.Logger
}

// Account returns the credentials of account i.
func (c *Config) Account(i int) Account {
	pw := c.PasswordFormat
	if strings.Contains(pw, "%d") {
		pw = fmt.Sprintf(pw, i)
	}
	return Account{User: fmt.Sprintf(c.UserFormat, i), Password: pw}
}

func (c *Config) validate(scenario string) error {
	if c.Dialer.WebSocket != "" {
		if _, err := checkWebSocketURL(c.Dialer.WebSocket); err != nil {
			return err
		}
	}
	if c.Dialer.BOSH != "" {
		if c.Dialer.WebSocket != "" {
			return errors.New("load: BOSH and WebSocket are two transports: choose one")
		}
		if _, err := checkBOSHURL(c.Dialer.BOSH); err != nil {
			return err
		}
	}
	switch {
	case c.Count <= 0:
		return errors.New("load: count must be positive")
	case !strings.Contains(c.UserFormat, "%d"):
		return fmt.Errorf("load: account pattern %q needs a %%d", c.UserFormat)
	case c.Dialer.Domain == "":
		return errors.New("load: no domain")
	case c.Dialer.WebSocket == "" && c.Dialer.BOSH == "" && len(c.Dialer.Addrs) == 0:
		return errors.New("load: no server address")
	case c.Dialer.Pairing == PairsSameNode && c.First%2 != 0:
		return fmt.Errorf("load: same-node pairing needs an even first account index, not %d", c.First)
	case (len(c.NodePIDs) > 0 || len(c.CPUPIDs) > 0) && c.PID <= 0:
		return errors.New("load: the processes of other nodes (or measured apart) need the server's process too")
	case scenario == "chat" && c.Count < 2:
		return errors.New("load: chat needs at least 2 sessions")
	case scenario == "flood" && c.Count < 2:
		return errors.New("load: flood needs at least 2 sessions (recipients and the sender)")
	case scenario == "presence" && (c.Roster < 1 || c.Roster >= c.Count):
		return fmt.Errorf("load: presence needs 1 ≤ roster (%d) < count (%d)", c.Roster, c.Count)
	case scenario == "s2s" && c.Count < 2:
		return errors.New("load: s2s needs at least 2 sessions (one on each server)")
	case scenario == "s2s" && (c.Peer.Domain == "" || len(c.Peer.Addrs) == 0):
		return errors.New("load: s2s needs the second server's domain and address")
	case scenario == "s2s" && c.Peer.Domain == c.Dialer.Domain:
		return fmt.Errorf("load: s2s needs two domains, not %q twice", c.Peer.Domain)
	case scenario == "s2s-links" && (c.Links < 1 || strings.Count(c.LinkDomain, "%d") != 1):
		return fmt.Errorf("load: s2s-links needs a positive number of links (%d) and a remote domain pattern with one %%d (%q)", c.Links, c.LinkDomain)
	case scenario == "muc" && (c.RoomSize < 2 || c.Count%c.RoomSize != 0):
		return fmt.Errorf("load: MUC needs rooms of at least 2 occupants and a count (%d) that is a multiple of the room size (%d)", c.Count, c.RoomSize)
	}
	return nil
}

// handler processes a stanza received by a session after login.
type handler func(s *Session, el *stanza.Element)

// runner is the state shared by one run.
type runner struct {
	cfg Config
	// split logs the odd sessions in with cfg.Peer (the s2s scenario).
	split    bool
	log      *slog.Logger
	errs     Errors
	closing  atomic.Bool
	readers  sync.WaitGroup
	logins   atomic.Int64
	failures atomic.Int64
	loginLat Latencies
}

// Run executes one scenario and returns its report. Errors seen by
// sessions are counted in the report; the returned error is for failures
// that prevent running at all.
func Run(ctx context.Context, cfg Config, scenario string) (*Report, error) {
	if err := cfg.validate(scenario); err != nil {
		return nil, err
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 64
	}
	if cfg.LoginTimeout <= 0 {
		cfg.LoginTimeout = 30 * time.Second
	}
	if cfg.Window <= 0 {
		cfg.Window = 8
	}
	if cfg.Drain <= 0 {
		cfg.Drain = 5 * time.Second
	}
	if cfg.ProgressEvery <= 0 {
		cfg.ProgressEvery = time.Second
	}
	if cfg.Dialer.Keys == nil {
		cfg.Dialer.Keys = NewKeyCache()
	}
	if scenario == "s2s" {
		cfg.Peer = cfg.Dialer.peer(cfg.Peer)
	}
	r := &runner{cfg: cfg, log: cfg.Log}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	rep := &Report{Scenario: scenario, Sessions: cfg.Count}
	var err error
	switch scenario {
	case "login":
		err = r.runLogin(ctx, rep)
	case "idle":
		err = r.runIdle(ctx, rep)
	case "chat":
		err = r.runChat(ctx, rep)
	case "presence":
		err = r.runPresence(ctx, rep)
	case "muc":
		err = r.runMUC(ctx, rep)
	case "flood":
		err = r.runFlood(ctx, rep)
	case "s2s":
		err = r.runS2S(ctx, rep)
	case "s2s-links":
		err = r.runLinks(ctx, rep)
	case "storm":
		err = r.runStorm(ctx, rep)
	default:
		return nil, fmt.Errorf("load: unknown scenario %q (want one of %s)", scenario, strings.Join(Scenarios, ", "))
	}
	if err != nil {
		return nil, err
	}
	rep.Errors = r.errs.Total()
	rep.ErrorKinds = r.errs.Kinds()
	return rep, nil
}

// progress prints line() every ProgressEvery, and once more when the
// returned stop is called.
func (r *runner) progress(ctx context.Context, line func() string) (stop func()) {
	if r.cfg.Progress == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(done)
		t := time.NewTicker(r.cfg.ProgressEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				// A last line, so that short phases show up too.
				fmt.Fprintf(r.cfg.Progress, "[%5.1fs] %s\n", time.Since(start).Seconds(), line())
				return
			case <-t.C:
				fmt.Fprintf(r.cfg.Progress, "[%5.1fs] %s\n", time.Since(start).Seconds(), line())
			}
		}
	}()
	return func() { cancel(); <-done }
}

// loginAll logs in accounts First..First+Count-1 at the configured rate and
// concurrency and starts a reader per session calling h. The slice has a
// nil entry for each failed login. It also fills the login fields of rep.
func (r *runner) loginAll(ctx context.Context, rep *Report, opts LoginOptions, h handler) []*Session {
	n := r.cfg.Count
	sessions := make([]*Session, n)
	pacer := NewPacer(r.cfg.LoginRate)
	next := atomic.Int64{}
	stop := r.progress(ctx, func() string {
		return fmt.Sprintf("logins %d/%d, %d failed", r.logins.Load(), n, r.failures.Load())
	})
	start := time.Now()
	var wg sync.WaitGroup
	for range min(r.cfg.Concurrency, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || pacer.Wait(ctx) != nil {
					return
				}
				lctx, cancel := context.WithTimeout(ctx, r.cfg.LoginTimeout)
				t0 := time.Now()
				d := &r.cfg.Dialer
				if r.split && i%2 == 1 {
					d = &r.cfg.Peer
				}
				s, err := d.Login(lctx, r.cfg.First+i, r.cfg.Account(r.cfg.First+i), opts)
				cancel()
				if err != nil {
					r.failures.Add(1)
					r.errs.Add(fmt.Errorf("login: %w", err))
					continue
				}
				r.loginLat.Add(time.Since(t0))
				r.logins.Add(1)
				sessions[i] = s
				r.readers.Go(func() { r.read(s, h) })
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	stop()
	rep.Logins, rep.LoginErrors = r.logins.Load(), r.failures.Load()
	rep.LoginSeconds = elapsed.Seconds()
	rep.LoginsPerSec = perSecond(rep.Logins, elapsed)
	rep.LoginLatency = r.loginLat.Summary()
	return sessions
}

// read is a session's reader: it answers IQ requests (the server's pings)
// and hands everything else (IQ results and errors included) to h until
// the stream ends.
func (r *runner) read(s *Session, h handler) {
	for {
		el, err := s.Next()
		if err != nil {
			if !r.closing.Load() {
				r.errs.Add(fmt.Errorf("session ended: %w", err))
			}
			return
		}
		if stanza.KindOf(el) == stanza.KindIQ && el.IsRequest() {
			reply := stanza.Result(el, nil)
			if el.Payload() == nil || el.Payload().Name.Space != "urn:xmpp:ping" {
				reply = stanza.ErrorReply(el, stanza.Err(stanza.ServiceUnavailable))
			}
			reply.Attr = removeAttr(reply.Attr, "from")
			s.Send(reply)
			continue
		}
		if h != nil {
			h(s, el)
		}
	}
}

func removeAttr(attrs []stanza.Attr, local string) []stanza.Attr {
	out := attrs[:0]
	for _, a := range attrs {
		if a.Name.Space != "" || a.Name.Local != local {
			out = append(out, a)
		}
	}
	return out
}

// closeAll ends every session and waits for the readers.
func (r *runner) closeAll(sessions []*Session) {
	r.closing.Store(true)
	var wg sync.WaitGroup
	for _, s := range sessions {
		if s != nil {
			wg.Go(func() { s.Close() })
		}
	}
	wg.Wait()
	r.readers.Wait()
}

func (r *runner) runLogin(ctx context.Context, rep *Report) error {
	sessions := r.loginAll(ctx, rep, LoginOptions{Register: r.cfg.Create}, nil)
	r.closeAll(sessions)
	return nil
}

// runIdle holds the sessions for Duration and reports the server's memory
// growth per session. The sessions log in in two halves, with the server's
// memory read after each has settled, so that the report also gives the
// marginal cost of a session (the second half's growth), which one-time
// costs of the first logins (code paged in, caches filled, pools and
// tables grown) do not inflate.
func (r *runner) runIdle(ctx context.Context, rep *Report) error {
	read := func() (Mem, error) {
		if r.cfg.PID <= 0 {
			return Mem{}, nil
		}
		return r.cfg.serverMem()
	}
	before, err := read()
	if err != nil {
		return err
	}
	total, first := r.cfg.Count, r.cfg.First
	half := total / 2
	defer func() { r.cfg.Count, r.cfg.First = total, first }()
	r.cfg.Count = half
	sessions := r.loginAll(ctx, rep, LoginOptions{Register: r.cfg.Create}, nil)
	loginSecs := rep.LoginSeconds
	defer func() { r.closeAll(sessions) }()
	if err := sleep(ctx, r.cfg.Settle+r.cfg.Duration/2); err != nil {
		return err
	}
	mid, err := read()
	if err != nil {
		return err
	}
	midLogins := rep.Logins
	r.cfg.Count, r.cfg.First = total-half, first+half
	more := r.loginAll(ctx, rep, LoginOptions{Register: r.cfg.Create}, nil)
	sessions = append(sessions, more...)
	rep.LoginSeconds += loginSecs
	rep.LoginsPerSec = float64(rep.Logins) / rep.LoginSeconds
	if err := sleep(ctx, r.cfg.Settle); err != nil {
		return err
	}
	start := time.Now()
	stop := r.progress(ctx, func() string {
		m, err := read()
		if err != nil {
			return fmt.Sprintf("holding %d sessions (%v)", rep.Logins, err)
		}
		rss, pss := memPerSession(before, m, int(rep.Logins))
		return fmt.Sprintf("holding %d sessions, %d errors, server RSS %s PSS %s (per session %s / %s)",
			rep.Logins, r.errs.Total(), kib(float64(m.RSS)), kib(float64(m.PSS)), kib(rss), kib(pss))
	})
	err = sleep(ctx, r.cfg.Duration)
	stop()
	if err != nil {
		return err
	}
	rep.RunSeconds = time.Since(start).Seconds()
	if r.cfg.PID > 0 {
		after, err := read()
		if err != nil {
			return err
		}
		rep.MemBefore, rep.MemMid, rep.MemAfter = &before, &mid, &after
		rep.RSSPerSession, rep.PSSPerSession = memPerSession(before, after, int(rep.Logins))
		rep.MarginalRSSPerSession, rep.MarginalPSSPerSession = memPerSession(mid, after, int(rep.Logins-midLogins))
	}
	r.cfg.Count, r.cfg.First = total, first
	return r.runStorms(ctx, rep, &sessions)
}

// runStorms ends the idle scenario with its two storms: every session
// disconnects at once (the clients close their streams and sockets
// together, as after a network blip), then every account logs in again
// at once (at the configured concurrency and rate); the server's memory
// is sampled through each (Report.Disconnect, Report.Reconnect) and read
// Settle after the disconnect, Settle plus Duration after the reconnect
// (as MemAfter after the first logins). The new sessions replace
// *sessions.
func (r *runner) runStorms(ctx context.Context, rep *Report, sessions *[]*Session) error {
	disc, err := r.storm(ctx, rep.MemAfter, r.cfg.Settle, func() int64 {
		n := int64(0)
		for _, s := range *sessions {
			if s != nil {
				n++
			}
		}
		r.closeAll(*sessions)
		*sessions = nil
		return n
	})
	if err != nil {
		return err
	}
	rep.Disconnect = disc
	// The counters of the first logins are in rep already; the storm's
	// are its own.
	r.closing.Store(false)
	r.logins.Store(0)
	r.failures.Store(0)
	r.loginLat.Reset()
	var again Report
	var after *Mem
	if r.cfg.PID > 0 {
		after = &disc.After
	}
	// Read as long after the logins as MemAfter was: the sessions have
	// parked and the server has trimmed as it had then.
	rec, err := r.storm(ctx, after, r.cfg.Settle+r.cfg.Duration, func() int64 {
		*sessions = r.loginAll(ctx, &again, LoginOptions{}, nil)
		return again.Logins
	})
	if err != nil {
		return err
	}
	rec.Errors = again.LoginErrors
	rec.LoginsPerSec = again.LoginsPerSec
	rec.LoginLatency = &again.LoginLatency
	rep.Reconnect = rec
	return nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
