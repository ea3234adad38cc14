//go:build !unix

package c2s

// parkSupported: this platform cannot wait for a socket outside of a
// read, so readers never park.
const parkSupported = false

// suspend is never called where parkSupported is false.
func (c *conn) suspend() { go c.resume() }

// stopPoller has nothing to stop here.
func (s *Server) stopPoller() {}
