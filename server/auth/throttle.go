package auth

import (
	"crypto/sha256"
	"net/netip"
	"sync"
	"time"
)

// Throttle configures how failed logins slow down further logins. Failures
// are counted per (account, client address) and per client address across
// accounts, an IPv6 /64 counting as one address; a key's failures are
// forgotten once Window passes without a new one. Once a key has its Free
// failures, its next attempt waits until Delay has passed since the last
// one; each further failure doubles the delay, up to MaxDelay. Attempts
// of one key are also spaced by that delay, so that parallel connections
// do not multiply the rate. Nothing is ever
// refused: a stranger's failures from other addresses do not touch an
// account's logins from its own address, and the longest wait is MaxDelay.
type Throttle struct {
	// FreePerAccount is how many failures one account may have from one
	// address before its logins from there wait; 0 means
	// DefaultFreePerAccount.
	FreePerAccount int
	// FreePerAddress is how many failures one address may have, whatever
	// the accounts, before every login from it waits; 0 means
	// DefaultFreePerAddress.
	FreePerAddress int
	// Delay is the wait after the first failure past the free ones; 0
	// means DefaultDelay.
	Delay time.Duration
	// MaxDelay caps the wait; 0 means DefaultMaxDelay, negative disables
	// throttling.
	MaxDelay time.Duration
	// Window is how long a key's failures count once it stops failing: a
	// whole window without a failure forgets them; 0 means
	// DefaultFailureWindow.
	Window time.Duration
	// MaxTracked caps the keys tracked of each kind; 0 means
	// DefaultMaxTracked.
	MaxTracked int
}

// Defaults of [Throttle].
const (
	DefaultFreePerAccount = 5
	DefaultFreePerAddress = 20
	DefaultDelay          = time.Second
	DefaultMaxDelay       = 15 * time.Second
	DefaultFailureWindow  = 10 * time.Minute
	DefaultMaxTracked     = 100_000
)

// withDefaults returns t with zero fields set to the defaults.
func (t Throttle) withDefaults() Throttle {
	if t.FreePerAccount <= 0 {
		t.FreePerAccount = DefaultFreePerAccount
	}
	if t.FreePerAddress <= 0 {
		t.FreePerAddress = DefaultFreePerAddress
	}
	if t.Delay <= 0 {
		t.Delay = DefaultDelay
	}
	if t.MaxDelay == 0 {
		t.MaxDelay = DefaultMaxDelay
	}
	if t.Window <= 0 {
		t.Window = DefaultFailureWindow
	}
	if t.MaxTracked <= 0 {
		t.MaxTracked = DefaultMaxTracked
	}
	return t
}

// maxCount bounds the failures counted per key: the delay reached its cap
// long before.
const maxCount = 1 << 16

// record is what a throttled key remembers: a fixed size, whatever the
// number of failures.
type record struct {
	n    int       // failures since the key was last quiet for a window
	last time.Time // the last failure
	next time.Time // earliest start of the key's next attempt
}

// userKey identifies an account in the throttle's table: a digest of
// its bare JID, so that a record costs the same whatever the length of
// the name a client sent.
type userKey [16]byte

func keyOf(user string) userKey {
	sum := sha256.Sum256([]byte(user))
	return userKey(sum[:16])
}

// pairKey is an account from an address.
type pairKey struct {
	user userKey
	addr netip.Prefix
}

// keyed is one map of records with its own free allowance.
type keyed[K comparable] struct {
	free int
	recs map[K]*record
}

// throttle implements [Throttle]. Its maps are bounded by MaxTracked
// records each, of a fixed size.
type throttle struct {
	cfg Throttle
	now func() time.Time

	mu        sync.Mutex
	pairs     keyed[pairKey]
	addrs     keyed[netip.Prefix]
	lastSweep time.Time
}

func newThrottle(cfg Throttle, now func() time.Time) *throttle {
	cfg = cfg.withDefaults()
	return &throttle{
		cfg:   cfg,
		now:   now,
		pairs: keyed[pairKey]{free: cfg.FreePerAccount, recs: map[pairKey]*record{}},
		addrs: keyed[netip.Prefix]{free: cfg.FreePerAddress, recs: map[netip.Prefix]*record{}},
	}
}

func (t *throttle) disabled() bool { return t.cfg.MaxDelay < 0 }

// live forgets the failures of r once a whole window passed since the
// last one.
func (t *throttle) live(r *record, now time.Time) {
	if r.n > 0 && now.Sub(r.last) >= t.cfg.Window {
		r.n = 0
	}
}

// delayAfter is the wait owed after n failures of a key allowing free.
func (t *throttle) delayAfter(n, free int) time.Duration {
	if n < free {
		return 0
	}
	d := t.cfg.Delay
	for i := free; i < n && d < t.cfg.MaxDelay; i++ {
		d *= 2
	}
	return min(d, t.cfg.MaxDelay)
}

// sweep drops records with no live failure and no pending slot, at most
// once per window.
func (t *throttle) sweep(now time.Time) {
	if now.Sub(t.lastSweep) < t.cfg.Window {
		return
	}
	t.lastSweep = now
	sweepMap(t, t.pairs.recs, now)
	sweepMap(t, t.addrs.recs, now)
}

func sweepMap[K comparable](t *throttle, m map[K]*record, now time.Time) {
	for k, r := range m {
		t.live(r, now)
		if r.n == 0 && !r.next.After(now) {
			delete(m, k)
		}
	}
}

// slot computes, for key k of m, when its next attempt may start and the
// spacing it then owes; zero when k owes nothing.
func slot[K comparable](t *throttle, m keyed[K], k K, now time.Time) (at time.Time, spacing time.Duration, r *record) {
	r = m.recs[k]
	if r == nil {
		return time.Time{}, 0, nil
	}
	t.live(r, now)
	d := t.delayAfter(r.n, m.free)
	if d == 0 {
		return time.Time{}, 0, r
	}
	at = r.last.Add(d)
	if r.next.After(at) {
		at = r.next
	}
	return at, d, r
}

// reserve returns how long a login of user (may be "") from addr (ok:
// known) must wait before it starts, and books that start so that the next
// attempt of the same keys waits its turn after it. The wait is at most
// MaxDelay.
func (t *throttle) reserve(user string, addr netip.Prefix, ok bool) time.Duration {
	if t.disabled() || !ok {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	t.sweep(now)
	limit := now.Add(t.cfg.MaxDelay)
	start := now
	var (
		pr, ar   *record
		pd, ad   time.Duration
		pAt, aAt time.Time
	)
	if user != "" {
		pAt, pd, pr = slot(t, t.pairs, pairKey{keyOf(user), addr}, now)
	}
	aAt, ad, ar = slot(t, t.addrs, addr, now)
	if pAt.After(start) {
		start = pAt
	}
	if aAt.After(start) {
		start = aAt
	}
	if start.After(limit) {
		start = limit
	}
	book := func(r *record, d time.Duration) {
		if r == nil || d == 0 {
			return
		}
		r.next = start.Add(d)
		if r.next.After(limit) {
			r.next = limit
		}
	}
	book(pr, pd)
	book(ar, ad)
	return start.Sub(now)
}

// fail records a failure of user (may be "") from addr. It reports which
// keys just went past their free failures.
func (t *throttle) fail(user string, addr netip.Prefix) (pairSlowed, addrSlowed bool) {
	if t.disabled() {
		return false, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	t.sweep(now)
	if user != "" {
		pairSlowed = addFail(t, t.pairs, pairKey{keyOf(user), addr}, now)
	}
	addrSlowed = addFail(t, t.addrs, addr, now)
	return pairSlowed, addrSlowed
}

// addFail appends a failure to k's record, creating it (and evicting an
// arbitrary record if m is full). It reports whether k just reached its
// free failures.
func addFail[K comparable](t *throttle, m keyed[K], k K, now time.Time) bool {
	r := m.recs[k]
	if r == nil {
		if len(m.recs) >= t.cfg.MaxTracked {
			for victim := range m.recs {
				delete(m.recs, victim)
				break
			}
		}
		r = &record{}
		m.recs[k] = r
	}
	t.live(r, now)
	if r.n < maxCount {
		r.n++
	}
	r.last = now
	return r.n == m.free
}

// reset forgets the failures of user from addr.
func (t *throttle) reset(user string, addr netip.Prefix) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.pairs.recs, pairKey{keyOf(user), addr})
}

// forget forgets the failures of user from every address.
func (t *throttle) forget(user string) {
	uk := keyOf(user)
	t.mu.Lock()
	defer t.mu.Unlock()
	for k := range t.pairs.recs {
		if k.user == uk {
			delete(t.pairs.recs, k)
		}
	}
}

// size returns the number of pair and address records.
func (t *throttle) size() (pairs, addrs int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.pairs.recs), len(t.addrs.recs)
}
