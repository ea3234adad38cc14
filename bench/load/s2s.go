package load

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// linkProbe is the body of the messages that bring the server-to-server
// links up before the measured phase; it is not a payload, so the
// traffic accounting never counts it.
const linkProbe = "bench s2s link probe"

// probeBounced stands for a bounced probe among the indexes of the
// sessions that received one.
const probeBounced = -1

// runS2S is the chat scenario across two servers: session 2k is account
// First+2k on the first server (Dialer), session 2k+1 account First+2k+1
// on the second (Peer), and each sends chat messages to the other's bare
// JID, so that every message crosses the servers' link in one direction
// or the other. Before the measured phase one message each way brings
// the links up (LinkSetupSeconds). With PID and PeerPID the report gives
// both servers' memory before the logins, once the sessions and links
// are up, and at the end of the traffic.
func (r *runner) runS2S(ctx context.Context, rep *Report) error {
	readBoth := func() (a, b *Mem, err error) {
		if a, err = readMemOf(r.cfg.PID); err != nil {
			return nil, nil, err
		}
		if b, err = readMemOf(r.cfg.PeerPID); err != nil {
			return nil, nil, fmt.Errorf("peer: %w", err)
		}
		return a, b, nil
	}
	var err error
	if rep.MemBefore, rep.PeerMemBefore, err = readBoth(); err != nil {
		return err
	}
	t := newTraffic(r.cfg.Count, 1, r.cfg.Window)
	probes := make(chan int, 2)
	messages := r.bodyHandler(t, stanza.TypeChat)
	h := func(s *Session, el *stanza.Element) {
		if stanza.KindOf(el) == stanza.KindMessage && el.ChildText(stanza.NSClient, "body") == linkProbe {
			idx := s.Index
			if el.Type() == stanza.TypeError {
				idx = probeBounced
			}
			select {
			case probes <- idx:
			default:
			}
			return
		}
		messages(s, el)
	}
	r.split = true
	sessions := r.loginAll(ctx, rep, LoginOptions{Register: r.cfg.Create}, h)
	defer r.closeAll(sessions)
	active := activePairs(sessions)
	pair := slices.Index(active, true)
	if pair < 0 {
		return errors.New("load: no pair of sessions logged in on both servers")
	}
	pair &^= 1
	if err := r.openLinks(ctx, rep, sessions[pair], sessions[pair+1], probes); err != nil {
		return err
	}
	if rep.MemMid, rep.PeerMemMid, err = readBoth(); err != nil {
		return err
	}
	r.chatPairs(ctx, rep, t, sessions, active)
	if rep.MemAfter, rep.PeerMemAfter, err = readBoth(); err != nil {
		return err
	}
	return ctx.Err()
}

// openLinks sends a probe from a (first server) to b (second server) and
// one back once it arrived, and records how long the two took: the
// first makes the first server's outgoing link (connection, TLS,
// authentication), the second the other's.
func (r *runner) openLinks(ctx context.Context, rep *Report, a, b *Session, probes <-chan int) error {
	start := time.Now()
	deadline := time.NewTimer(setupTimeout)
	defer deadline.Stop()
	for _, hop := range []struct{ from, to *Session }{{a, b}, {b, a}} {
		msg := stanza.NewMessage(stanza.TypeChat, hop.to.Bare, linkProbe)
		if err := hop.from.Send(msg); err != nil {
			return fmt.Errorf("load: s2s link probe: %w", err)
		}
		for got := false; !got; {
			select {
			case idx := <-probes:
				if idx == probeBounced {
					return fmt.Errorf("load: s2s link probe from %s to %s bounced", hop.from.Bare, hop.to.Bare)
				}
				got = idx == hop.to.Index
			case <-deadline.C:
				return fmt.Errorf("load: s2s link probe from %s to %s not delivered within %v", hop.from.Bare, hop.to.Bare, setupTimeout)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	rep.LinkSetupSeconds = time.Since(start).Seconds()
	return nil
}
