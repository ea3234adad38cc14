package stream_test

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/sasl"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
	"github.com/parley-xmpp/parley/xmpptest"
)

// Namespaces of stream negotiation.
const (
	nsTLS     = "urn:ietf:params:xml:ns:xmpp-tls"
	nsSASL    = "urn:ietf:params:xml:ns:xmpp-sasl"
	nsBind    = "urn:ietf:params:xml:ns:xmpp-bind"
	nsSession = "urn:ietf:params:xml:ns:xmpp-session"
	nsSASLCB  = "urn:xmpp:sasl-cb:0"
	nsPing    = "urn:xmpp:ping"
)

// ioTimeout bounds every read and write of the raw connections.
const ioTimeout = 10 * time.Second

// raw is a hand-driven client connection: the test decides what is sent at
// every phase and reads the server's exact answers.
type raw struct {
	t        testing.TB
	s        *xmpptest.Server
	nc       net.Conn
	tls      *tls.Conn
	dec      *stream.Decoder
	hdr      stream.Header // the server's last stream header
	features *stanza.Element
	full     jid.JID // the bound JID
}

// dialRaw opens a TCP connection to the STARTTLS listener.
func dialRaw(t testing.TB, s *xmpptest.Server) *raw {
	t.Helper()
	d := net.Dialer{Timeout: ioTimeout}
	nc, err := d.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatalf("dial %s: %v", s.Addr(), err)
	}
	t.Cleanup(func() { nc.Close() })
	return &raw{t: t, s: s, nc: nc}
}

// dialRawTLS opens a connection to the direct-TLS listener.
func dialRawTLS(t testing.TB, s *xmpptest.Server, tc *tls.Config) *raw {
	t.Helper()
	if tc == nil {
		tc = s.TLSConfig()
	}
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: ioTimeout}, Config: tc}
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	nc, err := d.DialContext(ctx, "tcp", s.TLSAddr())
	if err != nil {
		t.Fatalf("TLS dial %s: %v", s.TLSAddr(), err)
	}
	t.Cleanup(func() { nc.Close() })
	return &raw{t: t, s: s, nc: nc, tls: nc.(*tls.Conn)}
}

// write sends s in one write call.
func (r *raw) write(s string) {
	r.t.Helper()
	_ = r.nc.SetWriteDeadline(time.Now().Add(ioTimeout))
	if _, err := r.nc.Write([]byte(s)); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// writeLenient sends s from another goroutine, ignoring write errors: the
// server may close the connection before it has read everything (as it
// should once it has found a fault).
func (r *raw) writeLenient(s string) {
	nc := r.nc
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = nc.SetWriteDeadline(time.Now().Add(ioTimeout))
		_, _ = nc.Write([]byte(s))
	}()
	r.t.Cleanup(func() { nc.Close(); <-done })
}

// send writes one element in the jabber:client scope.
func (r *raw) send(el *stanza.Element) {
	r.t.Helper()
	r.write(string(el.AppendXML(nil, stanza.NSClient)))
}

// streamHeader returns a well-formed initial stream header to the domain.
func (r *raw) streamHeader() string {
	return string(stream.AppendHeader(nil, stream.Header{To: r.s.Domain(), Version: "1.0", Lang: "en", ContentNS: stanza.NSClient}))
}

// readHeader reads the server's stream header with a fresh decoder (as
// after each stream restart).
func (r *raw) readHeader() stream.Header {
	r.t.Helper()
	r.dec = stream.NewDecoder(r.nc, stream.Limits{MaxStanzaBytes: 1 << 20, MaxDepth: 64})
	_ = r.nc.SetReadDeadline(time.Now().Add(ioTimeout))
	h, err := r.dec.ReadHeader()
	if err != nil {
		r.t.Fatalf("reading the server's stream header: %v", err)
	}
	r.hdr = h
	return h
}

// open sends a stream header and reads the server's header and features.
func (r *raw) open() *stanza.Element {
	r.t.Helper()
	r.write(r.streamHeader())
	h := r.readHeader()
	if h.From != r.s.Domain() || h.Version != "1.0" || h.ID == "" || h.ContentNS != stanza.NSClient {
		r.t.Fatalf("server stream header: %+v", h)
	}
	f := r.mustNext()
	if f.Name.Space != stanza.NSStream || f.Name.Local != "features" {
		r.t.Fatalf("expected <stream:features/>, got %s", f)
	}
	r.features = f
	return f
}

// next reads the next top-level element.
func (r *raw) next() (*stanza.Element, error) {
	_ = r.nc.SetReadDeadline(time.Now().Add(ioTimeout))
	return r.dec.Next()
}

// mustNext reads the next top-level element, failing on errors and on
// stream errors.
func (r *raw) mustNext() *stanza.Element {
	r.t.Helper()
	el, err := r.next()
	if err != nil {
		r.t.Fatalf("reading: %v", err)
	}
	if se := stream.ParseStreamError(el); se != nil {
		r.t.Fatalf("unexpected stream error: %v", se)
	}
	return el
}

// expectStreamError checks that the very next element is a stream error
// with the condition want, that the server then closes the stream with
// </stream:stream> and closes the connection.
func (r *raw) expectStreamError(want stream.Condition) {
	r.t.Helper()
	el, err := r.next()
	if err != nil {
		r.t.Fatalf("expected stream error <%s/>, got %v", want, err)
	}
	se := stream.ParseStreamError(el)
	if se == nil {
		r.t.Fatalf("expected stream error <%s/>, got %s", want, el)
	}
	if se.Condition != want {
		r.t.Fatalf("stream error <%s/> (%s), want <%s/>", se.Condition, se.Text, want)
	}
	if _, err := r.next(); !errors.Is(err, io.EOF) {
		r.t.Fatalf("after the stream error: expected </stream:stream>, got %v", err)
	}
	r.expectClosed()
}

// expectHeaderError reads the server's header (sent only to carry the
// error) and then the stream error.
func (r *raw) expectHeaderError(want stream.Condition) {
	r.t.Helper()
	r.readHeader()
	r.expectStreamError(want)
}

// expectClosed checks that the server closes the connection within the
// I/O timeout, discarding anything still sent.
func (r *raw) expectClosed() {
	r.t.Helper()
	_ = r.nc.SetReadDeadline(time.Now().Add(ioTimeout))
	var b [512]byte
	for {
		_, err := r.nc.Read(b[:])
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			r.t.Fatalf("the server did not close the connection: %v", err)
		}
		return // EOF or reset
	}
}

// startTLS negotiates STARTTLS and opens the protected stream.
func (r *raw) startTLS(tc *tls.Config) *stanza.Element {
	r.t.Helper()
	if tc == nil {
		tc = r.s.TLSConfig()
	}
	r.send(stanza.New(nsTLS, "starttls"))
	if el := r.mustNext(); el.Name.Space != nsTLS || el.Name.Local != "proceed" {
		r.t.Fatalf("expected <proceed/>, got %s", el)
	}
	tcn := tls.Client(r.nc, tc)
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	if err := tcn.HandshakeContext(ctx); err != nil {
		r.t.Fatalf("TLS handshake: %v", err)
	}
	r.nc, r.tls = tcn, tcn
	return r.open()
}

// mechanisms returns the advertised SASL mechanisms.
func mechanisms(features *stanza.Element) []string {
	m := features.Child(nsSASL, "mechanisms")
	if m == nil {
		return nil
	}
	var out []string
	for _, e := range m.ChildrenNamed(nsSASL, "mechanism") {
		out = append(out, e.Text())
	}
	return out
}

// cbTypes returns the XEP-0440 channel-binding types advertised.
func cbTypes(features *stanza.Element) []string {
	cb := features.Child(nsSASLCB, "sasl-channel-binding")
	if cb == nil {
		return nil
	}
	var out []string
	for _, e := range cb.ChildrenNamed(nsSASLCB, "channel-binding") {
		out = append(out, e.Get("type"))
	}
	return out
}

// channelBindings computes what the client can bind to on this TLS
// connection.
func (r *raw) channelBindings() map[string][]byte {
	if r.tls == nil {
		return nil
	}
	st := r.tls.ConnectionState()
	cb := map[string][]byte{}
	if data, err := st.ExportKeyingMaterial(sasl.ExporterLabel, []byte{}, 32); err == nil {
		cb[sasl.TLSExporter] = data
	}
	if len(st.PeerCertificates) > 0 {
		cb[sasl.TLSServerEndPoint] = sasl.EndPointBinding(st.PeerCertificates[0])
	}
	return cb
}

func b64(b []byte) string {
	if len(b) == 0 {
		return "="
	}
	return base64.StdEncoding.EncodeToString(b)
}

// authenticate runs a SASL exchange with the sasl package's client and
// returns the server's final element: <success/> (verified) or <failure/>.
// cfg.Username, Password, Authzid and PreferredCB are the caller's; the
// rest is filled in from the connection and the advertised features.
func (r *raw) authenticate(mech string, cfg sasl.ClientConfig) *stanza.Element {
	r.t.Helper()
	if cfg.ChannelBindings == nil {
		cfg.ChannelBindings = r.channelBindings()
	}
	cfg.ServerMechanisms = mechanisms(r.features)
	cfg.ServerCBTypes = cbTypes(r.features)
	m, err := sasl.NewClient(mech, cfg)
	if err != nil {
		r.t.Fatalf("sasl.NewClient(%s): %v", mech, err)
	}
	initial, err := m.Start()
	if err != nil {
		r.t.Fatalf("%s start: %v", mech, err)
	}
	r.send(stanza.New(nsSASL, "auth", "mechanism", mech).AppendText(b64(initial)))
	for {
		el := r.mustNext()
		if el.Name.Space != nsSASL {
			r.t.Fatalf("unexpected %s during SASL", el)
		}
		switch el.Name.Local {
		case "challenge":
			data, err := base64.StdEncoding.DecodeString(el.Text())
			if err != nil {
				r.t.Fatalf("challenge: %v", err)
			}
			resp, err := m.Next(data)
			if err != nil {
				r.t.Fatalf("%s: %v", mech, err)
			}
			r.send(stanza.New(nsSASL, "response").AppendText(b64(resp)))
		case "success":
			data, err := base64.StdEncoding.DecodeString(el.Text())
			if err != nil {
				r.t.Fatalf("success data: %v", err)
			}
			if len(data) > 0 || !m.Done() {
				if _, err := m.Next(data); err != nil {
					r.t.Fatalf("%s: server not verified: %v", mech, err)
				}
			}
			if !m.Done() {
				r.t.Fatalf("%s: success before the exchange completed", mech)
			}
			return el
		case "failure":
			return el
		default:
			r.t.Fatalf("unexpected %s during SASL", el)
		}
	}
}

// failureCondition returns the condition of a SASL <failure/>, or "" if el
// is not one.
func failureCondition(el *stanza.Element) string {
	if el.Name.Space != nsSASL || el.Name.Local != "failure" {
		return ""
	}
	for _, c := range el.Elements() {
		if c.Name.Space == nsSASL && c.Name.Local != "text" {
			return c.Name.Local
		}
	}
	return "(none)"
}

// failureText returns the <text/> of a SASL <failure/>.
func failureText(el *stanza.Element) string {
	return el.ChildText(nsSASL, "text")
}

// expectFailure checks that el is a SASL failure with condition want.
func expectFailure(t testing.TB, el *stanza.Element, want string) {
	t.Helper()
	if got := failureCondition(el); got != want {
		t.Fatalf("SASL answer %s, want <failure><%s/></failure>", el, want)
	}
}

// login authenticates with mech and opens the authenticated stream.
func (r *raw) login(mech, user, password string) *stanza.Element {
	r.t.Helper()
	el := r.authenticate(mech, sasl.ClientConfig{Username: user, Password: password})
	if el.Name.Local != "success" {
		r.t.Fatalf("%s login of %s: %s", mech, user, el)
	}
	return r.open()
}

// bind binds resource (empty: server-generated) and returns the full JID.
func (r *raw) bind(resource string) jid.JID {
	r.t.Helper()
	b := stanza.New(nsBind, "bind")
	if resource != "" {
		b.Append(stanza.New(nsBind, "resource").AppendText(resource))
	}
	r.send(stanza.NewIQ(stanza.TypeSet, "bind-1", "", b))
	el := r.mustNext()
	if stanza.KindOf(el) != stanza.KindIQ || el.Type() != stanza.TypeResult || el.ID() != "bind-1" {
		r.t.Fatalf("bind answer: %s", el)
	}
	j, err := jid.Parse(el.Child(nsBind, "bind").ChildText(nsBind, "jid"))
	if err != nil {
		r.t.Fatalf("bound JID: %v (%s)", err, el)
	}
	r.full = j
	return j
}

// loginRaw dials, negotiates STARTTLS, authenticates with PLAIN and binds.
func loginRaw(t testing.TB, s *xmpptest.Server, user, password, resource string) *raw {
	t.Helper()
	r := dialRaw(t, s)
	r.open()
	r.startTLS(nil)
	r.login(sasl.Plain, user, password)
	r.bind(resource)
	return r
}

// authedRaw dials, negotiates STARTTLS and authenticates, without binding.
func authedRaw(t testing.TB, s *xmpptest.Server, user, password string) *raw {
	t.Helper()
	r := dialRaw(t, s)
	r.open()
	r.startTLS(nil)
	r.login(sasl.Plain, user, password)
	return r
}

// newServer starts a server with the accounts alice, bob and carol
// (password "pw") and logs alice and bob in over the client library: they
// are the bystanders whose sessions must survive whatever a test does.
func newServer(t *testing.T, opts ...xmpptest.Option) (*xmpptest.Server, *client.Client, *client.Client) {
	t.Helper()
	s := startServer(t, opts...)
	for _, u := range []string{"alice", "bob", "carol"} {
		s.AddUser(t, u, "pw")
	}
	return s, s.Client(t, "alice", "pw", "desk"), s.Client(t, "bob", "pw", "desk")
}

// startServer starts a server with the options.
func startServer(t *testing.T, opts ...xmpptest.Option) *xmpptest.Server {
	t.Helper()
	return xmpptest.NewServer(t, opts...)
}

var seq atomic.Uint64

// unique returns a fresh message body.
func unique(prefix string) string { return fmt.Sprintf("%s-%d", prefix, seq.Add(1)) }

// nextMessage returns the next message c receives, skipping presences.
func nextMessage(t testing.TB, c *client.Client) *stanza.Element {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	for {
		el, err := c.Recv(ctx)
		if err != nil {
			t.Fatalf("%s: waiting for a message: %v", c.JID(), err)
		}
		if stanza.KindOf(el) == stanza.KindMessage {
			return el
		}
	}
}

// alive checks that from can still send a message to to and that it is
// the next message to receives: nothing else (such as a smuggled stanza)
// reached it in between.
func alive(t testing.TB, from, to *client.Client) {
	t.Helper()
	body := unique("alive")
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	if err := from.Send(ctx, stanza.NewMessage(stanza.TypeChat, to.JID().String(), body)); err != nil {
		t.Fatalf("%s: send: %v", from.JID(), err)
	}
	m := nextMessage(t, to)
	if got := m.ChildText(stanza.NSClient, "body"); got != body || m.From() != from.JID().String() {
		t.Fatalf("%s received %s, want the message %q from %s", to.JID(), m, body, from.JID())
	}
}

// rawMessage checks that the raw session r receives the message body
// next.
func (r *raw) expectMessage(body string) *stanza.Element {
	r.t.Helper()
	for {
		el := r.mustNext()
		if stanza.KindOf(el) != stanza.KindMessage {
			continue
		}
		if got := el.ChildText(stanza.NSClient, "body"); got != body {
			r.t.Fatalf("%s received %s, want body %q", r.full, el, body)
		}
		return el
	}
}

// stanzaError returns the condition of an error stanza.
func stanzaError(t testing.TB, el *stanza.Element) stanza.Condition {
	t.Helper()
	if el.Type() != stanza.TypeError {
		t.Fatalf("expected an error stanza, got %s", el)
	}
	e := stanza.ParseError(el)
	if e == nil {
		t.Fatalf("error stanza without <error/>: %s", el)
	}
	return e.Condition
}

func sendOrFail(t testing.TB, c *client.Client, st *stanza.Element) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	if err := c.Send(ctx, st); err != nil {
		t.Fatalf("%s: send: %v", c.JID(), err)
	}
}

func sortedCopy(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
