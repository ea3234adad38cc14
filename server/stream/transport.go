package stream

import (
	"context"
	"errors"
	"time"

	"github.com/parley-xmpp/parley/xmpp/stanza"
	xstream "github.com/parley-xmpp/parley/xmpp/stream"
)

// Transport is the framing of one client stream: what carries its
// elements between the client and the engine. A transport owns the
// channel (a TCP connection, a TLS layer, an in-memory pipe) and its
// decoder; the engine owns the state machine of the stream and
// serialises the elements it writes.
//
// The reading methods (Open, ReadHeader, Next, Restart, SetLimits,
// Buffered, Authenticated, Bound, End) are called on the stream's reader
// goroutine only. The writing methods (Write, SetWriteDeadline) are
// serialised by the engine but may be called from any goroutine, as may
// Close, Secure, ChannelBindings and RemoteAddr.
type Transport interface {
	// Open prepares the channel before anything is read, e.g. a direct
	// TLS handshake (XEP-0368); r is called back while reading. An
	// error ends the connection at once, without a stream error.
	Open(ctx context.Context, r Reader) error
	// ReadHeader reads the client's stream header: the opening of a
	// stream.
	ReadHeader() (xstream.Header, error)
	// Next reads the next top-level element of the stream: io.EOF when
	// the client closed its stream; ErrAuthTimeout, ErrIdle or ErrPark
	// when a time limit of Limits fell due.
	Next() (*stanza.Element, error)
	// Restart begins a new stream on the same channel (after STARTTLS
	// and SASL success): the next read is a stream header.
	Restart()
	// SetLimits bounds what one element may cost to decode.
	SetLimits(l xstream.Limits)
	// Buffered reports whether input has been received but not read: a
	// client pipelining data after <starttls/>.
	Buffered() bool
	// Authenticated tells the transport that the client authenticated:
	// from now on Limits.Rate applies instead of Limits.PreauthRate, and
	// the connection no longer counts as unauthenticated.
	Authenticated()
	// Bound tells the transport that the stream has a session: the
	// authentication deadline (Limits.PreauthTimeout) no longer applies,
	// idle pings (Limits.IdlePing, Reader.IdlePing) and parking
	// (Limits.ParkAfter) do.
	Bound()
	// End releases what the transport holds for the connection and
	// closes it: the stream is over for good. Called once.
	End()

	// AppendOpen appends the transport's framing of the stream header h.
	AppendOpen(buf []byte, h xstream.Header) []byte
	// AppendStreamElement appends el, an element of the streams
	// namespace (<stream:features/>, <stream:error/>), as the framing
	// writes it.
	AppendStreamElement(buf []byte, el *stanza.Element) []byte
	// AppendClose appends the framing that closes the stream.
	AppendClose(buf []byte) []byte
	// Write writes b: serialised elements (in the jabber:client scope)
	// or what the Append methods produced.
	Write(b []byte) error
	// SetWriteDeadline bounds the current and following writes.
	SetWriteDeadline(t time.Time) error
	// Close closes the channel; pending reads and writes fail.
	Close() error

	// Secure reports whether the channel is confidential (TLS, or a
	// channel that never leaves the process): SASL is offered only then.
	Secure() bool
	// ChannelBindings returns the channel-binding data of the channel by
	// type (sasl.TLSExporter, sasl.TLSServerEndPoint); nil when it has
	// none, and then no -PLUS mechanism is offered. The map is shared:
	// callers must not modify it.
	ChannelBindings() map[string][]byte
	// RemoteAddr is the client's address ("host:port" for TCP).
	RemoteAddr() string
}

// Reader is what a transport calls back on the engine while reading, on
// the reader goroutine.
type Reader interface {
	// IdlePing sends a ping to a bound client that has been silent for
	// Limits.IdlePing (XEP-0199).
	IdlePing()
	// Throttle waits for d, the debt of a client over its rate limit,
	// or less when the stream is being closed.
	Throttle(d time.Duration)
}

// TLSUpgrader is implemented by transports that can start TLS on an
// established channel (STARTTLS, RFC 6120 §5). A transport that is not
// Secure and does not implement it fails <starttls/>.
type TLSUpgrader interface {
	// CanStartTLS reports whether the transport has a TLS configuration.
	CanStartTLS() bool
	// StartTLS runs the server side of a TLS handshake on the channel,
	// after <proceed/> was written; on success the channel is Secure and
	// has its channel bindings.
	StartTLS(ctx context.Context) error
}

// Parker is implemented by transports that can wait for input without a
// goroutine of their own (an idle session's reader "parks"). A transport
// that does not implement it never returns ErrPark, and its sessions
// keep their reader goroutines.
type Parker interface {
	// Parkable reports whether nothing is buffered anywhere between the
	// channel and the decoder: the reader may stop.
	Parkable() bool
	// Park releases the buffers of an idle stream and waits for input,
	// for the next time limit, or for the channel to be closed; then it
	// calls resume on a goroutine of its own, which carries on reading.
	// The goroutine calling Park returns at once.
	Park(resume func())
}

// InputEnder is implemented by transports that can give back what their
// reader holds (read buffers, cipher state, the decoder's buffers) once
// the engine reads no more. The engine calls it on the reader goroutine
// as soon as the stream's input is over, before the closing writes and
// the session's teardown, which may wait (storage writes, the unavailable
// presence): so a storm of disconnecting clients holds no read buffers
// while their sessions end. Reading fails from then on.
type InputEnder interface {
	// EndInput drops what the reader holds; reads fail from now on.
	EndInput()
}

// Errors a transport's Next returns when a time limit falls due.
var (
	// ErrIdle: the client stayed silent after an idle ping.
	ErrIdle = errors.New("c2s: peer silent after ping")
	// ErrAuthTimeout: the connection did not bind a session within
	// Limits.PreauthTimeout.
	ErrAuthTimeout = errors.New("c2s: authentication timed out")
	// ErrPark: the bound stream has been silent for Limits.ParkAfter
	// with nothing buffered; the reader may park (Parker).
	ErrPark = errors.New("c2s: idle, parking the reader")
)

// Named is implemented by transports that name themselves ("tcp",
// "websocket", "bosh") for administrators' session listings and metrics.
type Named interface {
	// TransportName names the transport.
	TransportName() string
}
