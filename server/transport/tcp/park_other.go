//go:build !unix

package tcp

// parkSupported: this platform cannot wait for a socket outside of a
// read, so readers never park.
const parkSupported = false

// suspend is never called where parkSupported is false.
func (c *conn) suspend(resume func()) { go resume() }
