//go:build !unix

package tlsrec

// readRaw reads from the connection into the read buffer.
func (c *Conn) readRaw() (int, error) { return c.readInto() }
