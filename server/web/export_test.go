package web

import "time"

// SetKeepFor sets how long a connection handed back waits for its next
// request on a goroutine before it waits in the poller (releaseAfter).
func (s *Server) SetKeepFor(d time.Duration) { s.keepFor = d }

// Polled returns how many times a connection handed back has waited in
// the poller (Parks counts the waits on a goroutine too).
func (s *Server) Polled() uint64 { return s.polled.Load() }
