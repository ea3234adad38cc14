package stream

import (
	"context"
	"net"
	"time"

	"github.com/parley-xmpp/parley/xmpp/stanza"
	xstream "github.com/parley-xmpp/parley/xmpp/stream"
)

// netTransport is a Transport writing to a net.Conn, for the tests of the
// engine's writing side; it reads nothing.
type netTransport struct{ nc net.Conn }

func (t netTransport) Open(context.Context, Reader) error  { return nil }
func (t netTransport) ReadHeader() (xstream.Header, error) { select {} }
func (t netTransport) Next() (*stanza.Element, error)      { select {} }
func (t netTransport) Restart()                            {}
func (t netTransport) SetLimits(xstream.Limits)            {}
func (t netTransport) Buffered() bool                      { return false }
func (t netTransport) Authenticated()                      {}
func (t netTransport) Bound()                              {}
func (t netTransport) End()                                { t.nc.Close() }
func (t netTransport) AppendOpen(b []byte, h xstream.Header) []byte {
	return xstream.AppendHeader(b, h)
}
func (t netTransport) AppendClose(b []byte) []byte        { return append(b, xstream.Close...) }
func (t netTransport) Write(b []byte) error               { _, err := t.nc.Write(b); return err }
func (t netTransport) SetWriteDeadline(d time.Time) error { return t.nc.SetWriteDeadline(d) }
func (t netTransport) Close() error                       { return t.nc.Close() }
func (t netTransport) Secure() bool                       { return true }
func (t netTransport) ChannelBindings() map[string][]byte { return nil }
func (t netTransport) RemoteAddr() string                 { return t.nc.RemoteAddr().String() }
func (t netTransport) AppendStreamElement(b []byte, el *stanza.Element) []byte {
	return el.AppendXML(b, stanza.NSClient)
}
