package tcp

import "github.com/parley-xmpp/parley/server/stream"

// limiter is a connection's byte rate (stream.Limits.Rate or PreauthRate):
// the reader spends a token per byte it read and, when the bucket is
// overdrawn, waits until the debt is paid (stream.Reader.Throttle) before
// reading on. The engine limits the stanza rate.
type limiter struct {
	bytes stream.Bucket
	// chunk caps one read, so that a debt (and a sleep) stays short at
	// low rates: a tenth of a second's worth of bytes, at least 512.
	chunk int
}

func newLimiter(r stream.Rate) limiter {
	l := limiter{bytes: stream.NewBucket(r.BytesPerSecond, r.Burst)}
	if r.BytesPerSecond > 0 {
		l.chunk = max(r.BytesPerSecond/10, 512)
	}
	return l
}
