package webadmin

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"sync"
	"time"
)

// session is one logged-in browser.
type session struct {
	csrf      string    // the form token of its POSTs
	tokenHash string    // SHA-256 (hex) of the admin token it logged in with
	tokenName string    // that token's name, for the log
	expires   time.Time // absolute end
	flash     flash     // the result of the last action, shown once
}

// sessions is a bounded map of sessions by their cookie's random id.
type sessions struct {
	mu  sync.Mutex
	m   map[string]*session
	max int
	ttl time.Duration
}

func newSessions(max int, ttl time.Duration) *sessions {
	return &sessions{m: map[string]*session{}, max: max, ttl: ttl}
}

// randomID returns 32 random bytes in hex.
func randomID() string {
	b := make([]byte, 32)
	rand.Read(b) //nolint:errcheck // crypto/rand.Read never fails (Go 1.24)
	return hex.EncodeToString(b)
}

// create starts a session and returns its id. When the map is full, the
// expired sessions go, then the one closest to its end.
func (s *sessions) create(now time.Time, tokenName, tokenHash string) (string, *session) {
	id := randomID()
	ss := &session{csrf: randomID(), tokenHash: tokenHash, tokenName: tokenName, expires: now.Add(s.ttl)}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= s.max {
		var oldest string
		for k, v := range s.m {
			if !now.Before(v.expires) {
				delete(s.m, k)
				continue
			}
			if oldest == "" || v.expires.Before(s.m[oldest].expires) {
				oldest = k
			}
		}
		if len(s.m) >= s.max {
			delete(s.m, oldest)
		}
	}
	s.m[id] = ss
	return id, ss
}

// get returns the live session of id, nil if none (or expired).
func (s *sessions) get(id string, now time.Time) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.m[id]
	if ss == nil {
		return nil
	}
	if !now.Before(ss.expires) {
		delete(s.m, id)
		return nil
	}
	return ss
}

// flash is the result of an action, shown on the next page.
type flash struct {
	Text  string
	Error bool
}

// setFlash sets the message the next page of the session shows.
func (s *sessions) setFlash(ss *session, f flash) {
	s.mu.Lock()
	ss.flash = f
	s.mu.Unlock()
}

// takeFlash returns the session's message and clears it.
func (s *sessions) takeFlash(ss *session) flash {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := ss.flash
	ss.flash = flash{}
	return f
}

func (s *sessions) remove(id string) {
	s.mu.Lock()
	delete(s.m, id)
	s.mu.Unlock()
}

// equal compares two secrets in constant time.
func equal(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// limiter counts failed logins per client address: after max failures
// within window, that address is refused until the window ends. Other
// addresses are not affected. The map is bounded: when full, the
// entries whose window has ended go, then the oldest one.
type limiter struct {
	mu     sync.Mutex
	m      map[string]*failures
	max    int
	window time.Duration
	size   int
}

type failures struct {
	n     int
	start time.Time
}

func newLimiter(max int, window time.Duration, size int) *limiter {
	return &limiter{m: map[string]*failures{}, max: max, window: window, size: size}
}

// blocked reports whether addr has used up its failures.
func (l *limiter) blocked(addr string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.m[addr]
	return f != nil && now.Sub(f.start) < l.window && f.n >= l.max
}

// fail counts a failed login of addr.
func (l *limiter) fail(addr string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.m[addr]
	if f != nil && now.Sub(f.start) >= l.window {
		f = nil
	}
	if f == nil {
		if len(l.m) >= l.size {
			var oldest string
			for k, v := range l.m {
				if now.Sub(v.start) >= l.window {
					delete(l.m, k)
					continue
				}
				if oldest == "" || v.start.Before(l.m[oldest].start) {
					oldest = k
				}
			}
			if len(l.m) >= l.size {
				delete(l.m, oldest)
			}
		}
		f = &failures{start: now}
		l.m[addr] = f
	}
	f.n++
}
