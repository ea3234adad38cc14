//go:build !unix

package tlsrec

// rawReader is only used on Unix systems.
type rawReader struct{}

// readRaw reads from the connection into the read buffer.
func (c *Conn) readRaw() (int, error) { return c.readInto() }
