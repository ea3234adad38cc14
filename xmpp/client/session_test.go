package client

import (
	"context"
	"encoding/xml"
	"errors"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

func TestHandlersAndRecv(t *testing.T) {
	serverDone := make(chan struct{})
	handlersSet := make(chan struct{})
	fs := newFakeServer(t, func(s *session) {
		defer close(serverDone)
		<-handlersSet // the script starts once the client's handlers exist
		// An IQ the client handles, one it does not.
		s.write(stanza.NewIQ(stanza.TypeGet, "v1", s.jid.String(), stanza.New("jabber:iq:version", "query")).Set("from", testDomain))
		r := s.mustRead()
		if r.Type() != stanza.TypeResult || r.ID() != "v1" || r.To() != testDomain || r.Child("jabber:iq:version", "query") == nil {
			t.Errorf("handled IQ reply = %s", r)
		}
		s.write(stanza.NewIQ(stanza.TypeSet, "u1", s.jid.String(), stanza.New("urn:unknown", "x")).Set("from", "bob@example.test/b"))
		r = s.mustRead()
		if e := stanza.ParseError(r); r.Type() != stanza.TypeError || r.ID() != "u1" || e == nil || e.Condition != stanza.ServiceUnavailable {
			t.Errorf("unhandled IQ reply = %s", r)
		}
		// A message for the named handler, then two for Recv, then a presence.
		s.write(stanza.New(stanza.NSClient, "message", "from", "bob@example.test/b").Append(stanza.New("urn:xmpp:receipts", "received", "id", "m0")))
		s.write(stanza.NewMessage(stanza.TypeChat, s.jid.String(), "hello").Set("from", "bob@example.test/b"))
		s.write(stanza.NewMessage(stanza.TypeChat, s.jid.String(), "again").Set("from", "bob@example.test/b"))
		s.write(stanza.New(stanza.NSClient, "presence", "from", "bob@example.test/b"))
		closeOnEOF(s)
	}).start()
	c := dial(t, fs, nil)
	receipts := make(chan *stanza.Element, 1)
	c.Handle(stanza.KindMessage, xml.Name{Space: "urn:xmpp:receipts", Local: "received"}, func(m *stanza.Element) { receipts <- m })
	c.Handle(stanza.KindIQ, xml.Name{Space: "jabber:iq:version", Local: "query"}, func(iq *stanza.Element) {
		if err := c.Send(context.Background(), stanza.Result(iq, stanza.New("jabber:iq:version", "query"))); err != nil {
			t.Errorf("handler reply: %v", err)
		}
	})
	// The handlers are registered after Dial returned: start the script
	// only now.
	close(handlersSet)
	ctx := testCtx(t)
	select {
	case m := <-receipts:
		if m.Child("urn:xmpp:receipts", "received").Get("id") != "m0" {
			t.Errorf("receipt handler got %s", m)
		}
	case <-ctx.Done():
		t.Fatal("receipt handler not called")
	}
	for _, want := range []string{"hello", "again"} {
		m, err := c.Recv(ctx)
		if err != nil {
			t.Fatalf("Recv: %v", err)
		}
		if stanza.KindOf(m) != stanza.KindMessage || m.ChildText("", "body") != want {
			t.Errorf("Recv = %s, want body %q", m, want)
		}
	}
	p, err := c.Recv(ctx)
	if err != nil || stanza.KindOf(p) != stanza.KindPresence {
		t.Errorf("Recv = %v, %v; want presence", p, err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	<-serverDone
	if _, err := c.Recv(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Recv after close = %v, want ErrClosed", err)
	}
}

func TestSendIQTimeoutAndSpoofedReply(t *testing.T) {
	fs := newFakeServer(t, func(s *session) {
		// Ignore the first IQ; answer the second first from an impostor,
		// then from the addressee.
		s.mustRead()
		iq := s.mustRead()
		fake := stanza.Result(iq, nil)
		fake.Set("from", "mallory@example.test/m")
		s.write(fake)
		bare := stanza.Result(iq, nil) // from the bare JID, not the full one asked
		bare.Set("from", "bob@example.test")
		s.write(bare)
		real := stanza.Result(iq, stanza.New("urn:x", "ok"))
		real.Set("from", "bob@example.test/b")
		s.write(real)
		closeOnEOF(s)
	}).start()
	c := dial(t, fs, nil)

	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	_, err := c.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", testDomain, stanza.New(nsPing, "ping")))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("SendIQ without reply = %v, want DeadlineExceeded", err)
	}
	iq := stanza.NewIQ(stanza.TypeGet, "", "bob@example.test/b", stanza.New("urn:x", "q"))
	res, err := c.SendIQ(testCtx(t), iq)
	if err != nil {
		t.Fatalf("SendIQ: %v", err)
	}
	if iq.ID() == "" {
		t.Error("SendIQ did not set an id")
	}
	if res.From() != "bob@example.test/b" || res.Child("urn:x", "ok") == nil {
		t.Errorf("accepted reply %s, want the one from bob", res)
	}
}

func TestStreamErrorSurfaced(t *testing.T) {
	fs := newFakeServer(t, func(s *session) {
		s.write((&stream.Error{Condition: stream.Conflict, Text: "replaced"}).Element())
		s.writeRaw(stream.Close)
		s.read() // the client's closing tag
	}).start()
	c := dial(t, fs, nil)
	pending := make(chan error, 1)
	go func() {
		_, err := c.SendIQ(context.Background(), stanza.NewIQ(stanza.TypeGet, "", "", stanza.New(nsPing, "ping")))
		pending <- err
	}()
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed after a stream error")
	}
	var se *stream.Error
	if !errors.As(c.Err(), &se) || se.Condition != stream.Conflict || se.Text != "replaced" {
		t.Fatalf("Err() = %v, want conflict stream error", c.Err())
	}
	if err := <-pending; !errors.As(err, &se) {
		t.Errorf("pending SendIQ = %v, want the stream error", err)
	}
	if _, err := c.Recv(context.Background()); !errors.As(err, &se) {
		t.Errorf("Recv = %v, want the stream error", err)
	}
	if err := c.Close(); !errors.As(err, &se) {
		t.Errorf("Close = %v, want the stream error", err)
	}
}

func TestSendIQRejectsNonRequest(t *testing.T) {
	fs := newFakeServer(t, closeOnEOF).start()
	c := dial(t, fs, nil)
	if _, err := c.SendIQ(testCtx(t), stanza.NewMessage("chat", "bob@example.test", "x")); err == nil {
		t.Error("SendIQ accepted a message")
	}
}

func TestMalformedServerXML(t *testing.T) {
	got := make(chan *stream.Error, 1)
	fs := newFakeServer(t, func(s *session) {
		s.writeRaw("<message><body>x</message>")
		el, err := s.read()
		if err != nil {
			t.Errorf("server read: %v", err)
			got <- nil
			return
		}
		got <- stream.ParseStreamError(el)
	}).start()
	c := dial(t, fs, nil)
	<-c.Done()
	var se *stream.Error
	if !errors.As(c.Err(), &se) || se.Condition != stream.NotWellFormed {
		t.Errorf("Err() = %v, want not-well-formed", c.Err())
	}
	if e := <-got; e == nil || e.Condition != stream.NotWellFormed {
		t.Errorf("server received %v, want a not-well-formed stream error", e)
	}
}
