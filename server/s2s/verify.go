package s2s

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/parley-xmpp/parley/server/s2s/dialback"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// VerifyKey asks the authoritative server of the originating domain
// whether key is the dialback key it gave for the stream with ID streamID
// that it opened to receiving, a local domain (XEP-0220 §2.1.2, the
// receiving server's side). It opens a stream of its own for the
// question, unauthenticated but under TLS like any other, and closes it
// after the answer. It reports false for an "invalid" answer, and an
// error when there is no answer (no connection, an error answer, ctx
// done).
func (p *Pool) VerifyKey(ctx context.Context, receiving, originating, streamID, key string) (bool, error) {
	if p.opts.Policy(originating).Deny {
		return false, fmt.Errorf("s2s: verify for %s: the domain is denied", originating)
	}
	n := &initiator{pool: p, pair: pair{local: receiving, remote: originating},
		log: p.opts.Log.With("local", receiving, "remote", originating, "direction", "verify")}
	conn, dec, err := n.establish(ctx)
	if err != nil {
		return false, fmt.Errorf("s2s: verify for %s: %w", originating, err)
	}
	handedOff := false
	defer func() {
		if !handedOff {
			conn.Close()
		}
	}()
	// The connect timeout bounds the question too.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	req := dialback.Message{Kind: dialback.Verify, From: receiving, To: originating, ID: streamID, Key: key}
	if _, err := conn.Write(req.AppendXML(nil)); err != nil {
		return false, fmt.Errorf("s2s: verify for %s: writing: %w", originating, err)
	}
	for {
		el, err := n.next(dec)
		if err != nil {
			return false, fmt.Errorf("s2s: verify for %s: %w", originating, err)
		}
		if el.Name.Space != dialback.NS {
			continue
		}
		m, err := dialback.Parse(el)
		if err != nil {
			return false, fmt.Errorf("s2s: verify for %s: %w", originating, err)
		}
		// XEP-0220 §3.1: only the answer to our own request counts.
		if m.Kind != dialback.Verify || m.From != originating || m.To != receiving || m.ID != streamID {
			continue
		}
		if stop() {
			handedOff = p.closeLater(conn, dec)
		}
		switch m.Type {
		case dialback.TypeValid:
			return true, nil
		case dialback.TypeInvalid:
			n.log.Info("s2s: dialback key found invalid by its authoritative server", "stream", streamID)
			return false, nil
		default:
			return false, fmt.Errorf("s2s: verify for %s: error answer: %v", originating, m.Err)
		}
	}
}

// closeLater runs closeOpened in the background, counted in the pool's
// wait group so that Close waits for it (at most closeWait). It reports
// false, doing nothing, once the pool is closed: the caller closes the
// connection itself.
func (p *Pool) closeLater(conn net.Conn, dec *stream.Decoder) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		closeOpened(conn, dec)
	}()
	return true
}

// closeOpened ends a stream this server opened (RFC 6120 §4.4): its
// closing tag, then the connection once the peer has closed its side too
// (closing tag, end of TLS) or after closeWait. Closing the connection at
// once makes the peer's last read fail (Prosody logs "Read error") and
// loses its closing tag.
func closeOpened(conn net.Conn, dec *stream.Decoder) {
	defer conn.Close()
	conn.SetWriteDeadline(time.Now().Add(closeWait))
	if _, err := conn.Write([]byte(stream.Close)); err != nil {
		return
	}
	conn.SetReadDeadline(time.Now().Add(closeWait))
	for {
		if _, err := dec.Next(); err != nil {
			return
		}
	}
}
