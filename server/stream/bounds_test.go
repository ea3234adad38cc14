package stream_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// A session that does not read is closed with <policy-violation/> once
// what it holds exceeds limits.outbound_queue_bytes, long before its
// stanza count limit; the sender carries on untouched, and every message
// the server accepted reaches the client: read before the stream error,
// or from offline storage, where the ended session's queue went.
func TestSlowConsumerBytes(t *testing.T) {
	const (
		limit   = 512 << 10
		most    = 4000 // 64 MB: far more than socket buffers and the limit hold
		payload = 16 << 10
	)
	s, alice, bob := newServer(t, func(c *config.Config) {
		c.Limits.OutboundQueue = 1 << 20 // never the stanza count
		c.Limits.OutboundQueueBytes = limit
		c.Limits.OfflineMessages = 1 << 20
		c.Limits.Rate = config.Rate{} // as fast as alice can
	})
	slow := loginRaw(t, s, "carol", "pw", "slow")
	table := s.App.Router().Sessions()
	filler := strings.Repeat("x", payload)
	sent := 0
	for sent < most && table.Get(slow.full) != nil {
		sendOrFail(t, alice, stanza.NewMessage(stanza.TypeChat, slow.full.String(), fmt.Sprintf("%d %s", sent, filler)))
		sent++
		if sent%32 == 0 {
			syncClient(t, alice) // everything sent so far was routed
		}
	}
	if table.Get(slow.full) != nil {
		t.Fatalf("%d messages of %d bytes queued for a client that does not read, and it is still bound", sent, payload)
	}
	t.Logf("unbound after %d messages of %d bytes", sent, payload)

	got := make(map[int]bool)
	body := func(el *stanza.Element) {
		b := el.ChildText(stanza.NSClient, "body")
		if i, err := strconv.Atoi(strings.SplitN(b, " ", 2)[0]); err == nil {
			got[i] = true
		}
	}
	// Reading now, the client finds the stream error after what had been
	// written to it.
	for {
		el, err := slow.next()
		if err != nil {
			t.Fatalf("after %d messages: %v (want a stream error)", len(got), err)
		}
		if se := stream.ParseStreamError(el); se != nil {
			if se.Condition != stream.PolicyViolation {
				t.Fatalf("stream error %v, want policy-violation", se)
			}
			break
		}
		if stanza.KindOf(el) == stanza.KindMessage {
			body(el)
		}
	}
	if _, err := slow.next(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the stream error: %v", err)
	}
	read := len(got)

	// The sender was not affected: no bounce, and it still talks.
	alive(t, bob, alice)
	alive(t, alice, bob)

	// What the client never got is in offline storage.
	waitUnbound(t, s, slow.full)
	again := loginRaw(t, s, "carol", "pw", "again")
	again.send(stanza.New(stanza.NSClient, "presence"))
	for len(got) < sent {
		el, err := again.next()
		if err != nil {
			t.Fatalf("%d of %d messages read before the close, %d in all: %v", read, sent, len(got), err)
		}
		if stanza.KindOf(el) == stanza.KindMessage {
			body(el)
		}
	}
	t.Logf("%d messages read before the close, the other %d from offline storage", read, sent-read)
}

// A detached session (XEP-0198) queues what is delivered to it within
// limits.outbound_queue_bytes; past it the session ends at once instead
// of waiting for its resumption time, and everything it held goes to
// offline storage.
func TestSMDetachedByteBudget(t *testing.T) {
	const (
		count = 12
		size  = 16 << 10 // 12 × 16 KiB: past the 128 KiB budget
	)
	s, alice, _ := newServer(t, func(c *config.Config) {
		c.Limits.MaxStanzaBytes = 64 << 10
		c.Limits.OutboundQueueBytes = 128 << 10
		c.Limits.Rate = config.Rate{}
	})
	carol, _ := smLogin(t, s, "carol", "phone", true, 300) // five minutes to resume
	carol.sendStanza(presenceEl())
	carol.sync()
	carol.cut()
	waitFor(t, "the session to be detached", func() bool {
		ss := s.App.Router().Sessions().Get(carol.full)
		return ss != nil && ss.Detached()
	})
	filler := strings.Repeat("x", size)
	for i := range count {
		sendOrFail(t, alice, stanza.NewMessage(stanza.TypeChat, carol.full.String(), fmt.Sprintf("%d %s", i, filler)))
	}
	syncClient(t, alice)
	waitFor(t, "the detached session to end", func() bool { return s.App.Router().Sessions().Get(carol.full) == nil })
	user := s.JID(t, "carol")
	waitFor(t, "every message in offline storage", func() bool {
		n, _ := s.App.Stores().Offline.OfflineCount(context.Background(), user)
		return n == count
	})
}
