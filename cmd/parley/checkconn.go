package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"syscall"

	"github.com/parley-xmpp/parley/server/config"
)

// checkConnectivity connects to each configured listener from this
// machine and expects its protocol's greeting: an XMPP stream header (and
// features, then STARTTLS and its handshake) on c2s and s2s listeners,
// after a TLS handshake on the direct TLS ones, the stream header on the
// component listener; an HTTP response on http and https; the SOCKS5
// method answer on proxy65; a STUN binding response on turn and turns.
func (c *checker) checkConnectivity(ctx context.Context) {
	c.out.section("connectivity")
	listeners := c.cfg.Listeners
	// The server listens for its external components where configured,
	// else on the default address when it has any.
	if len(c.cfg.Components) > 0 && !slices.ContainsFunc(listeners, func(l config.Listener) bool { return l.Type == config.ListenerComponent }) {
		listeners = append(slices.Clone(listeners), config.Listener{Type: config.ListenerComponent, Address: config.DefaultComponentAddress})
	}
	if len(listeners) == 0 {
		c.out.note("no listeners configured")
		return
	}
	for _, l := range listeners {
		addr, err := dialAddress(l.Address)
		if err != nil {
			c.out.fail("%s listener %q: %s", l.Type, l.Address, err)
			continue
		}
		if _, port, _ := net.SplitHostPort(addr); port == "0" {
			c.out.note("%s listener %s: port 0 is chosen at start, nothing to check", l.Type, l.Address)
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, c.timeout)
		what, err := c.probe(pctx, l, addr)
		cancel()
		if err != nil {
			c.out.fail("%s listener %s: %s", l.Type, addr, oneLine(err.Error()))
			if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, context.DeadlineExceeded) {
				c.out.advise("is the server running? (systemctl status parley) Does a firewall block port %s?", portOf(addr))
			}
			continue
		}
		c.out.ok("%s listener %s: %s", l.Type, addr, what)
	}
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// dialAddress maps a listen address to the address this machine reaches
// it at: an empty or unspecified host is the loopback of its family.
func dialAddress(listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("address: %w", err)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port), nil
}

// probe speaks the first words of l's protocol at addr and describes the
// answer.
func (c *checker) probe(ctx context.Context, l config.Listener, addr string) (string, error) {
	domain := c.cfg.Domains[0]
	switch l.Type {
	case config.ListenerC2S, config.ListenerC2STLS:
		return c.probeStream(ctx, addr, l.DirectTLS(), "jabber:client", domain, "xmpp-client")
	case config.ListenerS2S, config.ListenerS2STLS:
		return c.probeStream(ctx, addr, l.DirectTLS(), "jabber:server", domain, "xmpp-server")
	case config.ListenerComponent:
		to := domain
		if len(c.cfg.Components) > 0 {
			to = c.cfg.Components[0].Domain
		}
		return c.probeStream(ctx, addr, false, "jabber:component:accept", to, "")
	case config.ListenerHTTP, config.ListenerHTTPS:
		return c.probeHTTP(ctx, addr, l.DirectTLS(), domain)
	case config.ListenerProxy65:
		return c.probeSOCKS5(ctx, addr)
	case config.ListenerTURN, config.ListenerTURNS:
		return c.probeSTUN(ctx, addr, l.DirectTLS(), domain)
	}
	return "", fmt.Errorf("no probe for listeners of type %s", l.Type)
}

// dial connects to addr, with a TLS handshake when direct, bounded by
// ctx's deadline.
func (c *checker) dial(ctx context.Context, addr string, direct bool, serverName, alpn string) (net.Conn, string, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, "", err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if !direct {
		return conn, "", nil
	}
	cfg := &tls.Config{ServerName: serverName, InsecureSkipVerify: true} // names and trust are "check certs"' business
	if alpn != "" {
		cfg.NextProtos = []string{alpn}
	}
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, "", fmt.Errorf("TLS handshake: %w", err)
	}
	st := tc.ConnectionState()
	return tc, tls.VersionName(st.Version) + " handshake", nil
}

// probeStream opens an XMPP stream and reads the answering stream header
// and features.
func (c *checker) probeStream(ctx context.Context, addr string, direct bool, ns, to, alpn string) (string, error) {
	conn, hs, err := c.dial(ctx, addr, direct, to, alpn)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	header := fmt.Sprintf("<?xml version='1.0'?><stream:stream xmlns='%s' xmlns:stream='http://etherx.jabber.org/streams' to='%s' version='1.0'>", ns, xmlEscape(to))
	if _, err := io.WriteString(conn, header); err != nil {
		return "", fmt.Errorf("writing a stream header: %w", err)
	}
	// Byte by byte: after <proceed/> the TLS handshake takes over the
	// connection, so the decoder must not read ahead.
	dec := xml.NewDecoder(byteReader{io.LimitReader(conn, 64<<10)})
	var what []string
	if hs != "" {
		what = append(what, hs)
	}
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			if depth == 0 {
				return "", fmt.Errorf("no stream header in answer: %w", err)
			}
			return "", fmt.Errorf("stream header but no features: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			switch {
			case depth == 1 && t.Name.Space == "http://etherx.jabber.org/streams" && t.Name.Local == "stream":
				what = append(what, "stream header answered")
				if ns == "jabber:component:accept" {
					return strings.Join(what, ", "), nil
				}
			case depth == 1:
				return "", fmt.Errorf("answer is <%s>, not an XMPP stream", t.Name.Local)
			case depth == 2 && t.Name.Local == "error":
				return "", fmt.Errorf("the server answered with a stream error")
			case depth == 3 && t.Name.Local == "starttls":
				what = append(what, "STARTTLS offered")
			}
		case xml.EndElement:
			depth--
			if depth == 1 && t.Name.Local == "features" {
				switch {
				case direct:
				case !slices.Contains(what, "STARTTLS offered"):
					what = append(what, "no STARTTLS offered")
				default:
					hs, err := startTLS(ctx, conn, dec, to, alpn)
					if err != nil {
						return "", err
					}
					what = append(what, hs)
				}
				return strings.Join(what, ", "), nil
			}
		}
	}
}

// startTLS asks for TLS on an XMPP stream whose features offered it,
// expects <proceed/> and makes the handshake (RFC 6120 §5.4).
func startTLS(ctx context.Context, conn net.Conn, dec *xml.Decoder, serverName, alpn string) (string, error) {
	if _, err := io.WriteString(conn, "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"); err != nil {
		return "", fmt.Errorf("writing <starttls/>: %w", err)
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", fmt.Errorf("no answer to <starttls/>: %w", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if se.Name.Space != "urn:ietf:params:xml:ns:xmpp-tls" || se.Name.Local != "proceed" {
				return "", fmt.Errorf("<%s/> in answer to <starttls/>", se.Name.Local)
			}
			break
		}
	}
	cfg := &tls.Config{ServerName: serverName, InsecureSkipVerify: true} // trust is "check certs"' business
	if alpn != "" {
		cfg.NextProtos = []string{alpn}
	}
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return "", fmt.Errorf("STARTTLS handshake: %w", err)
	}
	return "STARTTLS " + tls.VersionName(tc.ConnectionState().Version) + " handshake", nil
}

// byteReader reads one byte at a time, so that an xml.Decoder over it
// consumes nothing past the token it returns.
type byteReader struct{ r io.Reader }

func (b byteReader) Read(p []byte) (int, error) { return b.r.Read(p) }

func (b byteReader) ReadByte() (byte, error) {
	var one [1]byte
	if _, err := io.ReadFull(b.r, one[:]); err != nil {
		return 0, err
	}
	return one[0], nil
}

func xmlEscape(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// probeHTTP asks for the XEP-0156 host-meta document and takes any HTTP
// response as the greeting.
func (c *checker) probeHTTP(ctx context.Context, addr string, direct bool, domain string) (string, error) {
	conn, hs, err := c.dial(ctx, addr, direct, domain, "http/1.1")
	if err != nil {
		return "", err
	}
	defer conn.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+domain+"/.well-known/host-meta", nil)
	if err != nil {
		return "", fmt.Errorf("building the request: %w", err)
	}
	req.Close = true
	if err := req.Write(conn); err != nil {
		return "", fmt.Errorf("writing an HTTP request: %w", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		return "", fmt.Errorf("no HTTP answer: %w", err)
	}
	resp.Body.Close()
	what := fmt.Sprintf("HTTP answered %s to GET /.well-known/host-meta", resp.Status)
	if hs != "" {
		what = hs + ", " + what
	}
	return what, nil
}

// probeSOCKS5 offers the SOCKS5 "no authentication" method (RFC 1928
// §3), which XEP-0065 proxies accept.
func (c *checker) probeSOCKS5(ctx context.Context, addr string) (string, error) {
	conn, _, err := c.dial(ctx, addr, false, "", "")
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if _, err := conn.Write([]byte{5, 1, 0}); err != nil {
		return "", fmt.Errorf("writing the SOCKS5 greeting: %w", err)
	}
	var ans [2]byte
	if _, err := io.ReadFull(conn, ans[:]); err != nil {
		return "", fmt.Errorf("no SOCKS5 answer: %w", err)
	}
	if ans != [2]byte{5, 0} {
		return "", fmt.Errorf("SOCKS5 answer % x, want 05 00", ans)
	}
	return "SOCKS5 greeting answered", nil
}

// STUN message constants (RFC 8489 §5, §6).
const (
	stunBindingRequest = 0x0001
	stunBindingSuccess = 0x0101
	stunMagicCookie    = 0x2112A442
)

// probeSTUN sends a STUN binding request, over UDP and TCP on a turn
// listener and over TLS on a turns one, and expects its success response.
func (c *checker) probeSTUN(ctx context.Context, addr string, direct bool, domain string) (string, error) {
	var what []string
	if !direct {
		if err := stunExchange(ctx, "udp", addr); err != nil {
			return "", fmt.Errorf("UDP: %w", err)
		}
		what = append(what, "STUN binding answered over UDP")
	}
	conn, hs, err := c.dial(ctx, addr, direct, domain, "")
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if err := stunRoundTrip(conn); err != nil {
		return "", err
	}
	if hs != "" {
		what = append(what, hs)
	}
	what = append(what, "STUN binding answered over "+map[bool]string{true: "TLS", false: "TCP"}[direct])
	return strings.Join(what, ", "), nil
}

func stunExchange(ctx context.Context, network, addr string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	return stunRoundTrip(conn)
}

// stunRoundTrip writes one binding request on conn and reads the answer.
func stunRoundTrip(conn net.Conn) error {
	req := make([]byte, 20)
	binary.BigEndian.PutUint16(req[0:], stunBindingRequest)
	binary.BigEndian.PutUint32(req[4:], stunMagicCookie)
	_, _ = rand.Read(req[8:20])
	if _, err := conn.Write(req); err != nil {
		return fmt.Errorf("writing a STUN request: %w", err)
	}
	ans := make([]byte, 1500)
	n, err := io.ReadAtLeast(conn, ans, 20)
	if err != nil {
		return fmt.Errorf("no STUN answer: %w", err)
	}
	ans = ans[:n]
	if binary.BigEndian.Uint16(ans[0:]) != stunBindingSuccess || !bytes.Equal(ans[8:20], req[8:20]) {
		return fmt.Errorf("answer is not the STUN binding success response")
	}
	return nil
}
