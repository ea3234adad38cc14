// Package pipe is an in-memory transport of client streams, for tests: a
// client end that sends whole elements and reads what the engine writes,
// and a server end that implements stream.Transport, with no socket, no
// TLS and no time limits.
//
// What the client sends reaches the engine as elements (a copy each), so
// the decoder limits (stream.Transport.SetLimits) are not enforced; what
// the engine writes reaches the client as bytes, which it decodes. The
// channel counts as secure (it never leaves the process) and has no
// channel bindings, so SASL is offered at once and without -PLUS
// mechanisms; the transport cannot park (no stream.Parker) and offers no
// STARTTLS (no stream.TLSUpgrader).
package pipe

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/parley-xmpp/parley/server/stream"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	xstream "github.com/parley-xmpp/parley/xmpp/stream"
)

// frame is one unit the client sends: a stream header, an element, or the
// end of its stream (both nil).
type frame struct {
	header *xstream.Header
	el     *stanza.Element
}

// ErrClosed is returned by reads and sends on a closed pipe.
var ErrClosed = errors.New("pipe: closed")

// frames carries what the client sends, until either end closes.
type frames struct {
	ch   chan frame
	done chan struct{}
	once sync.Once
}

func (f *frames) close() { f.once.Do(func() { close(f.done) }) }

// New returns the two ends of an in-memory client stream: hand the server
// end to stream.Server.Accept and drive the client end.
func New() (*Server, *Client) {
	sOut, cIn := net.Pipe() // what the engine writes, as bytes
	in := &frames{ch: make(chan frame, 64), done: make(chan struct{})}
	return &Server{in: in, out: sOut}, &Client{in: in, conn: cIn}
}

// Server is the server end of a pipe: a stream.Transport.
type Server struct {
	in  *frames
	out net.Conn
}

var _ stream.Transport = (*Server)(nil)

// Open implements stream.Transport.
func (s *Server) Open(context.Context, stream.Reader) error { return nil }

func (s *Server) read() (frame, error) {
	select {
	case f := <-s.in.ch:
		return f, nil
	case <-s.in.done:
		return frame{}, ErrClosed
	}
}

// ReadHeader implements stream.Transport.
func (s *Server) ReadHeader() (xstream.Header, error) {
	f, err := s.read()
	switch {
	case err != nil:
		return xstream.Header{}, err
	case f.header == nil:
		return xstream.Header{}, &xstream.Error{Condition: xstream.BadFormat, Text: "a stream header was expected"}
	}
	return *f.header, nil
}

// Next implements stream.Transport.
func (s *Server) Next() (*stanza.Element, error) {
	f, err := s.read()
	switch {
	case err != nil:
		return nil, err
	case f.header != nil:
		return nil, &xstream.Error{Condition: xstream.BadFormat, Text: "a stream header within the stream"}
	case f.el == nil:
		return nil, io.EOF
	}
	return f.el, nil
}

// Restart implements stream.Transport: the next frame is a header anyway.
func (s *Server) Restart() {}

// SetLimits implements stream.Transport; a pipe carries whole elements
// and does not enforce decoder limits.
func (s *Server) SetLimits(xstream.Limits) {}

// Buffered implements stream.Transport.
func (s *Server) Buffered() bool { return len(s.in.ch) > 0 }

// Authenticated implements stream.Transport.
func (s *Server) Authenticated() {}

// Bound implements stream.Transport; a pipe has no time limits.
func (s *Server) Bound() {}

// End implements stream.Transport.
func (s *Server) End() { s.Close() }

// AppendOpen implements stream.Transport.
func (s *Server) AppendOpen(buf []byte, h xstream.Header) []byte { return xstream.AppendHeader(buf, h) }

// AppendStreamElement implements stream.Transport: the element with its
// namespace declared, no prefix.
func (s *Server) AppendStreamElement(buf []byte, el *stanza.Element) []byte {
	return el.AppendXML(buf, stanza.NSClient)
}

// AppendClose implements stream.Transport.
func (s *Server) AppendClose(buf []byte) []byte { return append(buf, xstream.Close...) }

// Write implements stream.Transport: it blocks until the client reads,
// the write deadline passes or the pipe is closed.
func (s *Server) Write(b []byte) error {
	_, err := s.out.Write(b)
	return err
}

// SetWriteDeadline implements stream.Transport.
func (s *Server) SetWriteDeadline(t time.Time) error { return s.out.SetWriteDeadline(t) }

// Close implements stream.Transport; the client then reads io.EOF.
func (s *Server) Close() error {
	s.in.close()
	return s.out.Close()
}

// Secure implements stream.Transport: the channel never leaves the
// process.
func (s *Server) Secure() bool { return true }

// ChannelBindings implements stream.Transport: none.
func (s *Server) ChannelBindings() map[string][]byte { return nil }

// RemoteAddr implements stream.Transport.
func (s *Server) RemoteAddr() string { return "pipe" }

// Client is the client end of a pipe.
type Client struct {
	in   *frames
	conn net.Conn
	dec  *xstream.Decoder
}

func (c *Client) send(f frame) error {
	select {
	case <-c.in.done:
		return ErrClosed
	default:
	}
	select {
	case c.in.ch <- f:
		return nil
	case <-c.in.done:
		return ErrClosed
	}
}

// Open sends a stream header.
func (c *Client) Open(h xstream.Header) error { return c.send(frame{header: &h}) }

// Send sends a copy of el: the engine may change what it receives.
func (c *Client) Send(el *stanza.Element) error { return c.send(frame{el: el.Clone()}) }

// CloseStream ends the client's stream, as </stream:stream> does.
func (c *Client) CloseStream() error { return c.send(frame{}) }

// ReadHeader reads the engine's stream header, from a new stream: call it
// after each stream restart.
func (c *Client) ReadHeader() (xstream.Header, error) {
	c.dec = xstream.NewDecoder(c.conn, xstream.DefaultLimits())
	return c.dec.ReadHeader()
}

// Next reads the next element the engine wrote; io.EOF once it closed
// the stream.
func (c *Client) Next() (*stanza.Element, error) {
	if c.dec == nil {
		return nil, errors.New("pipe: no stream header read yet")
	}
	return c.dec.Next()
}

// SetReadDeadline bounds the client's reads.
func (c *Client) SetReadDeadline(t time.Time) error { return c.conn.SetReadDeadline(t) }

// Close closes the client end: the engine's reads and writes fail.
func (c *Client) Close() error {
	c.in.close()
	return c.conn.Close()
}
