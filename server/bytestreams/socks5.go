package bytestreams

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// SOCKS5 (RFC 1928) values used by XEP-0065.
const (
	socksVersion  = 5
	methodNoAuth  = 0x00
	methodNone    = 0xff
	cmdConnect    = 0x01
	atypIPv4      = 0x01
	atypDomain    = 0x03
	repSucceeded  = 0x00
	repNotAllowed = 0x02
	repCmdUnsup   = 0x07
	repAtypUnsup  = 0x08
)

// maxGreeting is the longest greeting and request negotiate reads: a
// greeting of 255 methods and a request with a 255-byte domain name.
const maxGreeting = 2 + 255 + 4 + 1 + 255 + 2

// negotiate reads a SOCKS5 greeting and CONNECT request from rw as
// XEP-0065 §6.3.2 has them (no authentication, CMD CONNECT, ATYP
// DOMAINNAME, DST.PORT 0) and returns DST.ADDR. It answers a request it
// cannot take with RFC 1928's error reply; the successful reply is
// [reply]'s, once the caller has accepted the stream.
func negotiate(rw io.ReadWriter) (string, error) {
	br := bufio.NewReaderSize(io.LimitReader(rw, maxGreeting), 512)
	var head [2]byte
	if _, err := io.ReadFull(br, head[:]); err != nil {
		return "", fmt.Errorf("reading greeting: %w", err)
	}
	if head[0] != socksVersion {
		return "", fmt.Errorf("SOCKS version %d, want 5", head[0])
	}
	methods := make([]byte, head[1])
	if _, err := io.ReadFull(br, methods); err != nil {
		return "", fmt.Errorf("reading methods: %w", err)
	}
	noAuth := false
	for _, m := range methods {
		noAuth = noAuth || m == methodNoAuth
	}
	if !noAuth {
		rw.Write([]byte{socksVersion, methodNone})
		return "", errors.New("client offers no method without authentication")
	}
	if _, err := rw.Write([]byte{socksVersion, methodNoAuth}); err != nil {
		return "", fmt.Errorf("writing method: %w", err)
	}
	var req [5]byte // VER CMD RSV ATYP and the domain's length
	if _, err := io.ReadFull(br, req[:]); err != nil {
		return "", fmt.Errorf("reading request: %w", err)
	}
	if req[0] != socksVersion {
		return "", fmt.Errorf("request of SOCKS version %d", req[0])
	}
	if req[1] != cmdConnect {
		failure(rw, repCmdUnsup)
		return "", fmt.Errorf("command %d, only CONNECT is supported", req[1])
	}
	if req[3] != atypDomain {
		failure(rw, repAtypUnsup)
		return "", fmt.Errorf("address type %d, XEP-0065 uses DOMAINNAME", req[3])
	}
	addr := make([]byte, int(req[4])+2)
	if _, err := io.ReadFull(br, addr); err != nil {
		return "", fmt.Errorf("reading address: %w", err)
	}
	if br.Buffered() > 0 {
		// Bytes sent before the reply would be relayed as the stream's
		// first ones; no XEP-0065 client does that.
		failure(rw, repNotAllowed)
		return "", errors.New("data sent before the SOCKS5 reply")
	}
	host, port := string(addr[:req[4]]), int(addr[req[4]])<<8|int(addr[req[4]+1])
	if host == "" || port != 0 {
		failure(rw, repNotAllowed)
		return "", fmt.Errorf("destination %q port %d, XEP-0065 wants a hash and port 0", host, port)
	}
	return host, nil
}

// reply writes RFC 1928's reply rep, whose BND.ADDR and BND.PORT are the
// request's DST.ADDR and DST.PORT as XEP-0065 §6.3.2 requires.
func reply(w io.Writer, rep byte, hash string) error {
	b := append([]byte{socksVersion, rep, 0, atypDomain, byte(len(hash))}, hash...)
	_, err := w.Write(append(b, 0, 0))
	return err
}

// failure writes an error reply with an empty IPv4 address.
func failure(w io.Writer, rep byte) {
	w.Write([]byte{socksVersion, rep, 0, atypIPv4, 0, 0, 0, 0, 0, 0})
}
