package s2s_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/internal/testca"
	"github.com/parley-xmpp/parley/server/s2s/dialback"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// TestVerifyKeyClosesGracefully: the stream that asked about a dialback
// key ends as RFC 6120 §4.4 says — our closing tag, then the connection
// stays open until the peer has sent its own. Prosody, the authoritative
// server in the interop tests, logged a read error on every such stream
// when the connection was cut right after the closing tag.
func TestVerifyKeyClosesGracefully(t *testing.T) {
	ca := testca.New(t)
	auth, err := dialback.NewRandom()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cert := ca.Issue(t, remote, certidNames(remote), nil).TLS()
	ended := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			ended <- err
			return
		}
		defer c.Close()
		ended <- answerVerify(c, cert, auth)
	}()
	h := newHarness(t, ca, ln.Addr().String(), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if ok, err := h.pool.VerifyKey(ctx, local, remote, "s1", auth.Key(local, remote, "s1")); err != nil || !ok {
		t.Fatalf("VerifyKey = %v, %v", ok, err)
	}
	select {
	case err := <-ended:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the verification stream did not end")
	}
}

// answerVerify plays the authoritative server on one verification
// stream: STARTTLS, the answer to <db:verify/>, then the closing
// handshake, which must be graceful.
func answerVerify(c net.Conn, cert tls.Certificate, keyer *dialback.Keyer) error {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	dec := stream.NewDecoder(c, stream.Limits{})
	var conn net.Conn = c
	open := func(features string) error {
		h, err := dec.ReadHeader()
		if err != nil {
			return err
		}
		hdr := stream.AppendHeader(nil, stream.Header{ContentNS: stanza.NSServer, From: remote, To: h.From, ID: "v1", Version: "1.0",
			Attr: []stanza.Attr{{Name: xmlnsName("db"), Value: dialback.NS}}})
		_, err = conn.Write(append(hdr, "<stream:features>"+features+"</stream:features>"...))
		return err
	}
	if err := open("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>"); err != nil {
		return err
	}
	if el, err := dec.Next(); err != nil || el.Name.Local != "starttls" {
		return fmt.Errorf("expected <starttls/>: %v %v", el, err)
	}
	conn.Write([]byte("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"))
	tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}})
	if err := tc.Handshake(); err != nil {
		return err
	}
	conn = tc
	dec.Reset(tc)
	if err := open("<dialback xmlns='urn:xmpp:features:dialback'><errors/></dialback>"); err != nil {
		return err
	}
	el, err := dec.Next()
	if err != nil {
		return err
	}
	m, err := dialback.Parse(el)
	if err != nil || m.Kind != dialback.Verify {
		return fmt.Errorf("expected <db:verify/>: %s %v", el, err)
	}
	if _, err := tc.Write(m.Answer(keyer.Check(m.Key, m.From, m.To, m.ID), nil).AppendXML(nil)); err != nil {
		return err
	}
	if _, err := dec.Next(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("expected the closing tag after the answer, got %v", err)
	}
	// The connection stays open for our closing tag...
	tc.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	var ne net.Error
	if _, err := tc.Read(make([]byte, 1)); !errors.As(err, &ne) || !ne.Timeout() {
		return fmt.Errorf("the connection ended before our closing tag: %v", err)
	}
	tc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := tc.Write([]byte(stream.Close)); err != nil {
		return fmt.Errorf("writing our closing tag: %w", err)
	}
	// ...and ends after it.
	if n, err := tc.Read(make([]byte, 1)); n != 0 || err == nil {
		return fmt.Errorf("after our closing tag: %d bytes, %v", n, err)
	}
	return nil
}
