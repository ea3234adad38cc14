package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/sasl"
)

// Errors returned (wrapped) by the Authenticator.
var (
	// ErrNotAuthorized reports a wrong password or an unknown account; the
	// two are deliberately not distinguished.
	ErrNotAuthorized = errors.New("auth: not authorized")
)

// DefaultIterations is the PBKDF2 iteration count applied by [New] when
// Options.Iterations is zero.
const DefaultIterations = 4096

// DefaultHashes are the hash functions credentials are derived for when
// Options.Hashes is empty.
var DefaultHashes = []string{"SHA-1", "SHA-256"}

// Options configures an [Authenticator].
type Options struct {
	// Iterations is the PBKDF2 iteration count of new credentials;
	// 0 means DefaultIterations.
	Iterations int
	// Hashes names the SCRAM hash functions ("SHA-1", "SHA-256",
	// "SHA-512") credentials are derived for; empty means DefaultHashes.
	Hashes []string
	// Throttle configures how failed logins slow down later ones; its
	// zero value applies the defaults.
	Throttle Throttle
	// Log receives security-relevant events; nil discards them.
	Log *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Status says which accounts are disabled; nil: none is.
	Status storage.AccountStatus
}

// Authenticator creates, checks and deletes credentials stored in a
// storage.Accounts, and throttles failed logins. It is safe for concurrent
// use.
type Authenticator struct {
	accounts   storage.Accounts
	status     storage.AccountStatus
	iterations int
	hashes     []sasl.Hash
	configErr  error
	log        *slog.Logger
	throttle   *throttle
	iters      iterationStats
	// dummy is verified against when the account does not exist, so that
	// CheckPassword costs the same whether or not it does.
	dummy sasl.Credentials
	// revoked remembers recent disablings and deletions (RevokedSince).
	revoked revocations
}

// New returns an Authenticator over accounts. Unknown hash names in
// opts.Hashes make Create and SetPassword fail.
func New(accounts storage.Accounts, opts Options) *Authenticator {
	a := &Authenticator{
		accounts:   accounts,
		status:     opts.Status,
		iterations: opts.Iterations,
		log:        opts.Log,
	}
	if a.iterations <= 0 {
		a.iterations = DefaultIterations
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	names := opts.Hashes
	if len(names) == 0 {
		names = DefaultHashes
	}
	for _, n := range names {
		h, ok := hashByName(n)
		if !ok {
			a.configErr = errors.Join(a.configErr, fmt.Errorf("auth: unknown hash %q", n))
			continue
		}
		if !slices.Contains(a.hashes, h) {
			a.hashes = append(a.hashes, h)
		}
	}
	if a.configErr != nil {
		a.log.Error("invalid authenticator configuration", "err", a.configErr)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	a.throttle = newThrottle(opts.Throttle, now)
	a.iters.def = a.iterations
	salt := make([]byte, sasl.SaltLen)
	_, _ = rand.Read(salt) // crypto/rand.Read never fails
	a.dummy = sasl.Credentials{Hash: sasl.SHA256, Salt: salt, Iterations: a.iterations,
		StoredKey: make([]byte, sasl.SHA256.Size()), ServerKey: make([]byte, sasl.SHA256.Size())}
	return a
}

// storedIterations returns the iteration count of user's stored keys, 0
// if unknown.
func (a *Authenticator) storedIterations(ctx context.Context, user jid.JID) int {
	keys, err := a.accounts.Keys(ctx, user)
	if err != nil {
		return 0
	}
	k, ok := strongest(keys)
	if !ok {
		return 0
	}
	return k.Iterations
}

// LoadIterationCounts reads how many stored accounts use each PBKDF2
// iteration count, when the storage can tell (storage.IterationCounter);
// Create, SetPassword and Delete keep the figures up to date afterwards.
// They decide the counts FakeIterationShares announces for unknown users.
func (a *Authenticator) LoadIterationCounts(ctx context.Context) error {
	ic, ok := a.accounts.(storage.IterationCounter)
	if !ok {
		return nil
	}
	counts, err := ic.IterationCounts(ctx)
	if err != nil {
		return fmt.Errorf("auth: loading iteration counts: %w", err)
	}
	a.iters.set(counts)
	return nil
}

// FakeIterationShares returns the iteration counts of stored accounts in
// whole percent (sasl.ServerConfig.FakeIterationShares): a SCRAM login of
// an unknown user is announced a count drawn from them, as if it were
// one of the stored accounts. Rounding to percent keeps the draw of one
// username stable while accounts come and go; counts used by under half
// a percent of the accounts are left out. With no account known it is the
// configured count.
func (a *Authenticator) FakeIterationShares() []sasl.IterationShare {
	return a.iters.get()
}

// hashByName maps a SCRAM hash name to its sasl.Hash.
func hashByName(name string) (sasl.Hash, bool) {
	for _, h := range []sasl.Hash{sasl.SHA1, sasl.SHA256, sasl.SHA512} {
		if h.Name() == name {
			return h, true
		}
	}
	return 0, false
}

// checkUser validates that user can own an account and returns its bare JID.
func checkUser(op string, user jid.JID) (jid.JID, error) {
	if user.IsZero() || user.Local() == "" {
		return jid.JID{}, fmt.Errorf("auth: %s %q: an account needs a localpart and a domain", op, user)
	}
	return user.Bare(), nil
}

// deriveKeys derives the verifiers of password for every configured hash,
// each with a fresh random salt.
func (a *Authenticator) deriveKeys(password string) ([]storage.SCRAMKey, error) {
	if a.configErr != nil {
		return nil, a.configErr
	}
	keys := make([]storage.SCRAMKey, 0, len(a.hashes))
	for _, h := range a.hashes {
		c, err := sasl.NewCredentials(h, password, a.iterations)
		if err != nil {
			return nil, fmt.Errorf("auth: deriving %s credentials: %w", h, err)
		}
		keys = append(keys, storage.SCRAMKey{
			Hash:       h.Name(),
			Salt:       c.Salt,
			Iterations: c.Iterations,
			StoredKey:  c.StoredKey,
			ServerKey:  c.ServerKey,
		})
	}
	return keys, nil
}

// Create creates the account user with password. The error wraps
// storage.ErrExists if the account exists.
func (a *Authenticator) Create(ctx context.Context, user jid.JID, password string) error {
	user, err := checkUser("create", user)
	if err != nil {
		return err
	}
	keys, err := a.deriveKeys(password)
	if err != nil {
		return fmt.Errorf("auth: create %s: %w", user, err)
	}
	if err := a.accounts.CreateAccount(ctx, user, keys); err != nil {
		return fmt.Errorf("auth: create %s: %w", user, err)
	}
	a.iters.add(a.iterations, 1)
	a.log.InfoContext(ctx, "account created", "user", user.String())
	return nil
}

// SetPassword replaces the credentials of user. The error wraps
// storage.ErrNotFound if there is no such account.
func (a *Authenticator) SetPassword(ctx context.Context, user jid.JID, password string) error {
	user, err := checkUser("set password of", user)
	if err != nil {
		return err
	}
	keys, err := a.deriveKeys(password)
	if err != nil {
		return fmt.Errorf("auth: set password of %s: %w", user, err)
	}
	old := a.storedIterations(ctx, user)
	if err := a.accounts.SetKeys(ctx, user, keys); err != nil {
		return fmt.Errorf("auth: set password of %s: %w", user, err)
	}
	a.iters.add(old, -1)
	a.iters.add(a.iterations, 1)
	a.log.InfoContext(ctx, "password changed", "user", user.String())
	return nil
}

// Delete deletes the account user and all its data. The error wraps
// storage.ErrNotFound if there is no such account.
func (a *Authenticator) Delete(ctx context.Context, user jid.JID) error {
	user, err := checkUser("delete", user)
	if err != nil {
		return err
	}
	old := a.storedIterations(ctx, user)
	if err := a.accounts.DeleteAccount(ctx, user); err != nil {
		return fmt.Errorf("auth: delete %s: %w", user, err)
	}
	a.revoked.record(user, time.Now())
	a.iters.add(old, -1)
	a.throttle.forget(user.String())
	a.log.InfoContext(ctx, "account deleted", "user", user.String())
	return nil
}

// SCRAMKey returns the stored verifier of user for hash ("SHA-1",
// "SHA-256", ...), for the SCRAM server mechanism. The error wraps
// storage.ErrNotFound if there is no account or no verifier for hash.
func (a *Authenticator) SCRAMKey(ctx context.Context, user jid.JID, hash string) (storage.SCRAMKey, error) {
	user, err := checkUser("key of", user)
	if err != nil {
		return storage.SCRAMKey{}, fmt.Errorf("%w: %w", err, storage.ErrNotFound)
	}
	keys, err := a.accounts.Keys(ctx, user)
	if err != nil {
		return storage.SCRAMKey{}, fmt.Errorf("auth: %s key of %s: %w", hash, user, err)
	}
	return pickKey(keys, user, hash)
}

// pickKey returns the key of keys for hash.
func pickKey(keys []storage.SCRAMKey, user jid.JID, hash string) (storage.SCRAMKey, error) {
	for _, k := range keys {
		if k.Hash == hash {
			return k, nil
		}
	}
	return storage.SCRAMKey{}, fmt.Errorf("auth: %s key of %s: %w", hash, user, storage.ErrNotFound)
}

// LoginKey is SCRAMKey for a login: it also reports whether the account is
// disabled, which the login must check once the exchange succeeded. Where
// the backend reads both with one query (storage.LoginReader, on the same
// value as the status store) it does, saving the login a round trip;
// otherwise it asks the status store as CheckEnabled does. The caller must
// not reveal the flag before the user proved its identity.
func (a *Authenticator) LoginKey(ctx context.Context, user jid.JID, hash string) (key storage.SCRAMKey, disabled bool, err error) {
	lr, ok := a.accounts.(storage.LoginReader)
	if !ok || a.status == nil || any(a.status) != any(a.accounts) {
		if key, err = a.SCRAMKey(ctx, user, hash); err != nil {
			return key, false, err
		}
		err = a.CheckEnabled(ctx, user)
		if errors.Is(err, ErrAccountDisabled) {
			return key, true, nil
		}
		return key, false, err
	}
	user, err = checkUser("key of", user)
	if err != nil {
		return storage.SCRAMKey{}, false, fmt.Errorf("%w: %w", err, storage.ErrNotFound)
	}
	keys, disabled, err := lr.LoginKeys(ctx, user)
	if err != nil {
		return storage.SCRAMKey{}, false, fmt.Errorf("auth: %s key of %s: %w", hash, user, err)
	}
	key, err = pickKey(keys, user, hash)
	return key, disabled, err
}

// CheckPassword verifies password for user (for SASL PLAIN): it derives
// StoredKey with the stored salt and iteration count of the strongest stored
// hash and compares in constant time. A wrong password and an unknown
// account both yield an error wrapping ErrNotAuthorized, at the same cost.
// It does not throttle; callers use LoginDelay, Failed and Succeeded.
func (a *Authenticator) CheckPassword(ctx context.Context, user jid.JID, password string) error {
	bare, err := checkUser("check password of", user)
	if err != nil {
		return fmt.Errorf("%w: %w", err, ErrNotAuthorized)
	}
	keys, err := a.accounts.Keys(ctx, bare)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("auth: check password of %s: %w", bare, err)
	}
	stored, ok := strongest(keys)
	if !ok {
		// Unknown account (or one without usable keys): spend the same
		// work as for a real check, then fail.
		_, _ = sasl.DeriveCredentials(a.dummy.Hash, password, a.dummy.Salt, a.dummy.Iterations)
		return fmt.Errorf("auth: check password of %s: %w", bare, ErrNotAuthorized)
	}
	h, _ := hashByName(stored.Hash)
	d, err := sasl.DeriveCredentials(h, password, stored.Salt, stored.Iterations)
	if err != nil {
		// A password PRECIS rejects cannot match any stored password.
		return fmt.Errorf("auth: check password of %s: %w: %w", bare, ErrNotAuthorized, err)
	}
	if subtle.ConstantTimeCompare(d.StoredKey, stored.StoredKey) != 1 {
		return fmt.Errorf("auth: check password of %s: %w", bare, ErrNotAuthorized)
	}
	return a.CheckEnabled(ctx, bare)
}

// strongest returns the stored key with the strongest supported hash.
func strongest(keys []storage.SCRAMKey) (storage.SCRAMKey, bool) {
	var (
		best  storage.SCRAMKey
		bestH sasl.Hash
	)
	for _, k := range keys {
		h, ok := hashByName(k.Hash)
		if !ok || len(k.Salt) == 0 || k.Iterations < 1 {
			continue
		}
		if h.Size() > bestH.Size() {
			best, bestH = k, h
		}
	}
	return best, bestH != 0
}

// LoginDelay returns how long a login attempt of user (zero if not yet
// known) from ip must wait before its credentials are checked, and books
// its turn: attempts of an (account, address) pair or of an address that
// failed too often recently are slowed down and spaced (see [Throttle]),
// never refused. The wait is at most Throttle.MaxDelay. Only a login that
// proves nothing else may be delayed: FAST tokens and stream resumptions
// are not (the caller decides). An invalid ip is never delayed.
func (a *Authenticator) LoginDelay(user jid.JID, ip netip.Addr) time.Duration {
	p, ok := AddressKey(ip)
	name := ""
	if !user.IsZero() {
		name = user.Bare().String()
	}
	return a.throttle.reserve(name, p, ok)
}

// Failed records a wrong password for user (zero if unknown) from ip.
// Only a completed exchange whose proof (or PLAIN password) was wrong
// counts: malformed exchanges and refused options are not guesses.
func (a *Authenticator) Failed(user jid.JID, ip netip.Addr) {
	p, ok := AddressKey(ip)
	if !ok {
		return
	}
	name := ""
	if !user.IsZero() {
		name = user.Bare().String()
	}
	pair, addr := a.throttle.fail(name, p)
	if pair {
		a.log.Warn("logins of this account from this address are now slowed down", "user", name, "address", p.String())
	}
	if addr {
		a.log.Warn("logins from this address are now slowed down", "address", p.String())
	}
}

// Succeeded records a successful login: it clears the failures of the
// account from that address. The address's own count is kept, so that an
// attacker owning one account cannot reset it while guessing others.
func (a *Authenticator) Succeeded(user jid.JID, ip netip.Addr) {
	p, ok := AddressKey(ip)
	if !ok || user.IsZero() {
		return
	}
	a.throttle.reset(user.Bare().String(), p)
}

// AddressKey returns the key under which limits count a client address:
// the address itself for IPv4, its /64 for IPv6 (one subscriber's block);
// false for an invalid address.
func AddressKey(ip netip.Addr) (netip.Prefix, bool) {
	if !ip.IsValid() {
		return netip.Prefix{}, false
	}
	ip = ip.Unmap().WithZone("")
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, err := ip.Prefix(bits)
	if err != nil {
		return netip.Prefix{}, false
	}
	return p, true
}

// iterationStats counts stored accounts per iteration count and caches
// their shares. It is safe for concurrent use.
type iterationStats struct {
	def int // the configured count, when nothing is known

	mu     sync.Mutex
	counts map[int]int
	shares []sasl.IterationShare // recomputed on change; never modified
}

func (s *iterationStats) set(counts map[int]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts = map[int]int{}
	for it, n := range counts {
		if it > 0 && n > 0 {
			s.counts[it] = n
		}
	}
	s.shares = nil
}

func (s *iterationStats) add(iterations, n int) {
	if iterations <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.counts == nil {
		s.counts = map[int]int{}
	}
	s.counts[iterations] += n
	if s.counts[iterations] <= 0 {
		delete(s.counts, iterations)
	}
	s.shares = nil
}

func (s *iterationStats) get() []sasl.IterationShare {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shares != nil {
		return s.shares
	}
	total, mode, modeN := 0, s.def, 0
	its := make([]int, 0, len(s.counts))
	for it, n := range s.counts {
		total += n
		its = append(its, it)
		if n > modeN || n == modeN && it > mode {
			mode, modeN = it, n
		}
	}
	slices.Sort(its)
	var out []sasl.IterationShare
	for _, it := range its {
		if w := (s.counts[it]*200 + total) / (2 * total); w > 0 {
			out = append(out, sasl.IterationShare{Iterations: it, Weight: w})
		}
	}
	if len(out) == 0 {
		out = []sasl.IterationShare{{Iterations: mode, Weight: 1}}
	}
	s.shares = out
	return out
}
