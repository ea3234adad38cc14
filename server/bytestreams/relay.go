// Package bytestreams is the SOCKS5 relay of a XEP-0065 bytestreams
// proxy. Two parties (the Requester and the Target of a bytestream) each
// open a TCP connection and send the same SOCKS5 CONNECT request, whose
// destination is SHA1(SID + Requester JID + Target JID) in hex; the relay
// pairs them by that hash and, once the Requester activates the stream
// over XMPP ([Relay.Activate]), copies bytes between them, within a
// per-transfer and a total bandwidth limit, until either side closes or
// both stay idle too long.
//
// The XMPP side (the proxy's JID, disco and the activation IQ) is
// server/mod/proxy65's.
package bytestreams

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Options are the relay's limits; zero values take the defaults.
type Options struct {
	// MaxPending bounds the connections that are negotiating SOCKS5 or
	// waiting for their peer or their activation. Default 1000.
	MaxPending int
	// MaxPendingPerAddress bounds the pending connections from one IP
	// address, so that one host cannot take all of MaxPending and lock
	// everybody else's transfers out. Default 20.
	MaxPendingPerAddress int
	// MaxTransfers bounds the activated bytestreams. Default 100.
	MaxTransfers int
	// MaxTransfersPerUser bounds the activated bytestreams of one
	// Requester (bare JID). Default 10.
	MaxTransfersPerUser int
	// PendingTimeout is how long a connection may wait to be paired and
	// activated. Default 60 s (XEP-0065 leaves it to the proxy).
	PendingTimeout time.Duration
	// HandshakeTimeout is how long a connection may take to send its
	// SOCKS5 greeting and request. Default 10 s.
	HandshakeTimeout time.Duration
	// IdleTimeout ends an activated bytestream when no byte moved in
	// either direction for that long. Default 5 min.
	IdleTimeout time.Duration
	// TransferRate bounds one bytestream's throughput, both directions
	// together, in bytes per second. Default 10 MiB/s.
	TransferRate int
	// TotalRate bounds the throughput of all bytestreams together, in
	// bytes per second. Default 50 MiB/s.
	TotalRate int
	// Log receives the relay's log lines; nil discards them.
	Log *slog.Logger
}

// Defaults of [Options].
const (
	DefaultMaxPending          = 1000
	DefaultMaxPendingPerAddr   = 20
	DefaultMaxTransfers        = 100
	DefaultMaxTransfersPerUser = 10
	DefaultPendingTimeout      = 60 * time.Second
	DefaultHandshakeTimeout    = 10 * time.Second
	DefaultIdleTimeout         = 5 * time.Minute
	DefaultTransferRate        = 10 << 20
	DefaultTotalRate           = 50 << 20
)

// chunk is the copy buffer size and the limiters' burst.
const chunk = 32 << 10

// Activation errors; server/mod/proxy65 maps them to XEP-0065 §6.3.7's
// stanza errors.
var (
	// ErrNoStream: no connection announced this bytestream's hash.
	ErrNoStream = errors.New("bytestreams: no connection for this stream")
	// ErrOneParty: only one party has connected so far.
	ErrOneParty = errors.New("bytestreams: only one party is connected")
	// ErrActive: the bytestream was activated already.
	ErrActive = errors.New("bytestreams: stream already activated")
	// ErrBusy: a transfer limit is reached.
	ErrBusy = errors.New("bytestreams: too many transfers")
)

// Relay pairs and relays SOCKS5 connections. Its zero value is not
// usable: use [New].
type Relay struct {
	o     Options
	log   *slog.Logger
	total *rate.Limiter

	mu      sync.Mutex
	pending int                // connections not yet activated
	byAddr  map[string]int     // pending connections by remote IP
	streams map[string]*stream // by DST.ADDR hash
	active  int
	perUser map[string]int // active transfers by Requester bare JID

	relays sync.WaitGroup // the activated streams' copiers
	closed bool           // set by closeAll: no new stream is filed
}

// stream is one bytestream: the first connection to announce its hash
// (the Target, in XEP-0065's flow) and the second (the Requester).
type stream struct {
	hash          string
	first, second net.Conn
	activated     bool
	expire        *time.Timer
}

// New returns a relay with limits o.
func New(o Options) *Relay {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.MaxPending, DefaultMaxPending)
	def(&o.MaxPendingPerAddress, DefaultMaxPendingPerAddr)
	def(&o.MaxTransfers, DefaultMaxTransfers)
	def(&o.MaxTransfersPerUser, DefaultMaxTransfersPerUser)
	def(&o.TransferRate, DefaultTransferRate)
	def(&o.TotalRate, DefaultTotalRate)
	defDur(&o.PendingTimeout, DefaultPendingTimeout)
	defDur(&o.HandshakeTimeout, DefaultHandshakeTimeout)
	defDur(&o.IdleTimeout, DefaultIdleTimeout)
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Relay{
		o:       o,
		log:     log,
		total:   rate.NewLimiter(rate.Limit(o.TotalRate), max(chunk, o.TotalRate/10)),
		streams: make(map[string]*stream),
		byAddr:  make(map[string]int),
		perUser: make(map[string]int),
	}
}

// Options returns the relay's limits, defaults filled in.
func (r *Relay) Options() Options { return r.o }

// Serve accepts connections on ln until ctx ends or ln fails; it closes
// ln and every connection it holds before it returns.
func (r *Relay) Serve(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	var handshakes sync.WaitGroup
	closed := make(chan struct{})
	go func() {
		<-ctx.Done()
		ln.Close()
		r.closeAll()
		close(closed)
	}()
	defer func() {
		cancel()
		<-closed
		handshakes.Wait()
		r.relays.Wait()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("bytestreams: accept: %w", err)
		}
		if !r.admit(c) {
			r.log.Warn("bytestreams: connection refused: too many pending", "remote", c.RemoteAddr(), "max_pending", r.o.MaxPending, "max_pending_per_address", r.o.MaxPendingPerAddress)
			c.Close()
			continue
		}
		handshakes.Go(func() { r.handshake(c) })
	}
}

// admit counts a new connection as pending if there is room, in all and
// for its address.
func (r *Relay) admit(c net.Conn) bool {
	ip := addrOf(c)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pending >= r.o.MaxPending || r.byAddr[ip] >= r.o.MaxPendingPerAddress {
		return false
	}
	r.pending++
	r.byAddr[ip]++
	return true
}

// release stops counting c as pending; r.mu is held.
func (r *Relay) release(c net.Conn) {
	ip := addrOf(c)
	r.pending--
	if r.byAddr[ip]--; r.byAddr[ip] <= 0 {
		delete(r.byAddr, ip)
	}
}

// addrOf is the IP address of c's remote end.
func addrOf(c net.Conn) string {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.IP.String()
	}
	return c.RemoteAddr().String()
}

// handshake runs the SOCKS5 negotiation of c and files it under its
// hash; c is closed on any failure.
func (r *Relay) handshake(c net.Conn) {
	c.SetDeadline(time.Now().Add(r.o.HandshakeTimeout))
	hash, err := negotiate(c)
	if err != nil {
		r.log.Info("bytestreams: SOCKS5 negotiation failed", "remote", c.RemoteAddr(), "err", err)
		r.drop(c)
		return
	}
	c.SetDeadline(time.Time{})
	r.mu.Lock()
	s := r.streams[hash]
	switch {
	case r.closed:
		r.mu.Unlock()
		r.drop(c)
		return
	case s == nil:
		s = &stream{hash: hash, first: c}
		s.expire = time.AfterFunc(r.o.PendingTimeout, func() { r.expire(s) })
		r.streams[hash] = s
	case s.second == nil && !s.activated:
		s.second = c
	default:
		s = nil
	}
	r.mu.Unlock()
	if s == nil {
		// XEP-0065 §8.1: only one Target per bytestream.
		r.log.Info("bytestreams: third connection for a stream refused", "remote", c.RemoteAddr())
		reply(c, repNotAllowed, hash)
		r.drop(c)
		return
	}
	if err := reply(c, repSucceeded, hash); err != nil {
		r.log.Info("bytestreams: SOCKS5 reply failed", "remote", c.RemoteAddr(), "err", err)
		r.remove(s)
		return
	}
}

// drop closes a pending connection that never joined a stream.
func (r *Relay) drop(c net.Conn) {
	c.Close()
	r.mu.Lock()
	r.release(c)
	r.mu.Unlock()
}

// expire ends a stream that was not activated in time.
func (r *Relay) expire(s *stream) {
	r.mu.Lock()
	if s.activated || r.streams[s.hash] != s {
		r.mu.Unlock()
		return
	}
	r.mu.Unlock()
	r.log.Info("bytestreams: stream not activated in time", "timeout", r.o.PendingTimeout)
	r.remove(s)
}

// remove forgets a stream that was never activated and closes its
// connections.
func (r *Relay) remove(s *stream) {
	r.mu.Lock()
	if r.streams[s.hash] != s || s.activated {
		r.mu.Unlock()
		return
	}
	delete(r.streams, s.hash)
	conns := []net.Conn{s.first, s.second}
	for _, c := range conns {
		if c != nil {
			r.release(c)
		}
	}
	s.expire.Stop()
	r.mu.Unlock()
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}

// closeAll closes every connection the relay holds (at shutdown).
func (r *Relay) closeAll() {
	r.mu.Lock()
	r.closed = true
	var conns []net.Conn
	for _, s := range r.streams {
		conns = append(conns, s.first)
		if s.second != nil {
			conns = append(conns, s.second)
		}
	}
	r.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// Activate starts relaying the bytestream whose CONNECT requests carried
// hash, for requester (a bare JID, counted against the per-user limit).
func (r *Relay) Activate(hash, requester string) error {
	r.mu.Lock()
	s := r.streams[hash]
	switch {
	case s == nil:
		r.mu.Unlock()
		return ErrNoStream
	case s.activated:
		r.mu.Unlock()
		return ErrActive
	case s.second == nil:
		r.mu.Unlock()
		return ErrOneParty
	case r.active >= r.o.MaxTransfers || r.perUser[requester] >= r.o.MaxTransfersPerUser:
		r.mu.Unlock()
		return ErrBusy
	}
	s.activated = true
	s.expire.Stop()
	r.release(s.first)
	r.release(s.second)
	r.active++
	r.perUser[requester]++
	r.mu.Unlock()
	r.log.Info("bytestreams: stream activated", "requester", requester, "target_addr", s.first.RemoteAddr(), "requester_addr", s.second.RemoteAddr())
	r.relays.Go(func() { r.relay(s, requester) })
	return nil
}

// Active returns the number of activated bytestreams.
func (r *Relay) Active() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.active
}

// relay copies both ways until one side ends or both are idle.
func (r *Relay) relay(s *stream, requester string) {
	per := rate.NewLimiter(rate.Limit(r.o.TransferRate), max(chunk, r.o.TransferRate/10))
	idle := &activity{}
	idle.touch()
	var wg sync.WaitGroup
	var moved [2]int64
	copyHalf := func(i int, dst, src net.Conn) {
		defer wg.Done()
		moved[i] = r.copy(dst, src, per, idle)
		// One side finished: end the other too (XEP-0065 streams are
		// closed as a whole).
		s.first.Close()
		s.second.Close()
	}
	wg.Add(2)
	start := time.Now()
	go copyHalf(0, s.first, s.second)
	go copyHalf(1, s.second, s.first)
	wg.Wait()
	r.mu.Lock()
	delete(r.streams, s.hash)
	r.active--
	if r.perUser[requester]--; r.perUser[requester] <= 0 {
		delete(r.perUser, requester)
	}
	r.mu.Unlock()
	r.log.Info("bytestreams: stream ended", "requester", requester, "to_target", moved[0], "to_requester", moved[1], "duration", time.Since(start).Round(time.Millisecond))
}

// activity is when a bytestream last moved a byte, in either direction.
type activity struct {
	mu   sync.Mutex
	last time.Time
}

func (a *activity) touch() {
	a.mu.Lock()
	a.last = time.Now()
	a.mu.Unlock()
}

func (a *activity) since() time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	return time.Since(a.last)
}

// copy moves bytes from src to dst within the limiters, until src ends,
// dst fails or the stream has been idle (both ways) for IdleTimeout. It
// returns the bytes moved.
func (r *Relay) copy(dst, src net.Conn, per *rate.Limiter, idle *activity) int64 {
	buf := make([]byte, chunk)
	var n int64
	for {
		src.SetReadDeadline(time.Now().Add(r.o.IdleTimeout))
		k, err := src.Read(buf)
		if k > 0 {
			idle.touch()
			// WaitN only fails for a burst below k, which chunk rules
			// out, or a cancelled context, which Background is not.
			per.WaitN(context.Background(), k)
			r.total.WaitN(context.Background(), k)
			if _, werr := dst.Write(buf[:k]); werr != nil {
				return n
			}
			n += int64(k)
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && idle.since() < r.o.IdleTimeout {
				continue // the other direction is moving
			}
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				r.log.Info("bytestreams: stream read ended", "remote", src.RemoteAddr(), "err", err)
			}
			return n
		}
	}
}
