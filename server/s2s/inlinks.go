package s2s

import (
	"cmp"
	"slices"
)

// Links lists the remote domains authenticated on the incoming streams
// open now, one entry per (stream, domain): a stream that authenticated
// several domains (dialback piggybacking) appears once for each.
func (l *Listener) Links() []LinkInfo {
	l.mu.Lock()
	streams := make([]*inStream, 0, len(l.conns))
	for s := range l.conns {
		streams = append(streams, s)
	}
	l.mu.Unlock()
	var out []LinkInfo
	for _, s := range streams {
		s.mu.Lock()
		out = append(out, s.auths...)
		s.mu.Unlock()
	}
	slices.SortFunc(out, func(a, b LinkInfo) int {
		return cmp.Or(cmp.Compare(a.Remote, b.Remote), cmp.Compare(a.Local, b.Local), a.Since.Compare(b.Since))
	})
	return out
}
