package cluster

import (
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

func TestPeerQueueBoundedInBytes(t *testing.T) {
	n := &Node{opts: Options{QueueBytes: 4096}, log: slog.New(slog.DiscardHandler), self: "n1"}
	// running: the writer is taken as started, so the queue only fills.
	p := &peer{n: n, name: "n2", subject: "c.node.n2", running: true}
	to := jid.MustParse("bob@example.com/phone")
	m := stanza.NewMessage(stanza.TypeChat, to.String(), strings.Repeat("x", 500))
	var err error
	queued := 0
	for ; queued < 100; queued++ {
		if err = p.enqueue(deliverMsg(p.subject, n.self, to, m)); err != nil {
			break
		}
	}
	var se *stanza.Error
	if !errors.As(err, &se) || se.Condition != stanza.ResourceConstraint {
		t.Fatalf("after %d stanzas: %v, want <resource-constraint/>", queued, err)
	}
	if p.bytes > n.opts.QueueBytes || queued == 0 || queued > 8 {
		t.Errorf("%d stanzas queued in %d bytes, bound %d", queued, p.bytes, n.opts.QueueBytes)
	}
}
