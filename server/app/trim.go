package app

import "time"

// trimWaves and trimEvery shape trimAfterWaves: at least trimWaves
// readers parked, or sessions ended, since the last trim, and a quiet
// interval without any more of them, or trimEvery since the last trim.
const (
	trimWaves = 1000
	trimEvery = time.Minute
)

// trimPolicy decides when a wave of parking or of session ends is over,
// so that the memory it freed can go back to the operating system in one
// go. It is fed one observation per tick.
type trimPolicy struct {
	started bool
	// At the last trim: the parks counter, and the most sessions bound
	// since (sessions that ended since then are ended - high).
	parks, high uint64
	// At the previous tick.
	prevParks    uint64
	prevSessions int
	last         time.Time // the last trim, or the first tick
}

// observe takes the parks counter and the number of bound sessions at
// now, and reports whether to trim now.
func (p *trimPolicy) observe(parks uint64, sessions int, now time.Time) bool {
	n := uint64(max(sessions, 0))
	if !p.started {
		p.started, p.parks, p.high, p.last = true, parks, n, now
		p.prevParks, p.prevSessions = parks, sessions
		return false
	}
	p.high = max(p.high, n)
	parked := parks - p.parks
	ended := p.high - n
	quiet := parks == p.prevParks && sessions == p.prevSessions
	p.prevParks, p.prevSessions = parks, sessions
	if (parked >= trimWaves || ended >= trimWaves) && (quiet || now.Sub(p.last) >= trimEvery) {
		p.parks, p.high, p.last = parks, n, now
		return true
	}
	return false
}
