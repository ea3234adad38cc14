package load

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// nsPing is XEP-0199's namespace.
const nsPing = "urn:xmpp:ping"

// linkIDPrefix starts the IDs of the s2s-links scenario's pings; the
// rest is the remote domain's index.
const linkIDPrefix = "link"

// runLinks measures what a server-to-server link costs the server: one
// session of account First logs in on the first server (Dialer), waits
// Settle, and pings each of the Links remote domains LinkDomain(0…) (all
// served by one second server, PeerPID), at most Concurrency at once.
// An answer from a remote domain (a result, or any error but the
// server-to-server ones the first server generates itself) means the
// first server's outgoing link to it and the remote domain's link back
// are up. The first half of the domains is pinged, the server settles
// and its memory is read, then the second half: the report gives the
// memory growth per link over all of them and over the second half (the
// marginal cost, without one-time costs of the first links). The links
// stay up until the session closes (the servers close them when idle).
func (r *runner) runLinks(ctx context.Context, rep *Report) error {
	readBoth := func() (a, b *Mem, err error) {
		if err = sleep(ctx, r.cfg.Settle); err != nil {
			return nil, nil, err
		}
		if a, err = readMemOf(r.cfg.PID); err != nil {
			return nil, nil, err
		}
		if b, err = readMemOf(r.cfg.PeerPID); err != nil {
			return nil, nil, fmt.Errorf("peer: %w", err)
		}
		return a, b, nil
	}
	answers := make(chan linkAnswer, r.cfg.Links)
	h := func(_ *Session, el *stanza.Element) {
		if stanza.KindOf(el) != stanza.KindIQ || el.IsRequest() {
			return
		}
		idx, ok := strings.CutPrefix(el.ID(), linkIDPrefix)
		if !ok {
			return
		}
		i, err := strconv.Atoi(idx)
		if err != nil || i < 0 || i >= r.cfg.Links {
			return
		}
		a := linkAnswer{idx: i, at: time.Now()}
		if el.Type() == stanza.TypeError {
			a.condition = errorCondition(el)
		}
		answers <- a // one ping per domain: never blocks
	}
	total := r.cfg.Count
	r.cfg.Count = 1
	sessions := r.loginAll(ctx, rep, LoginOptions{Register: r.cfg.Create}, h)
	r.cfg.Count = total
	rep.Sessions = 1
	defer r.closeAll(sessions)
	s := sessions[0]
	if s == nil {
		return errors.New("load: s2s-links: the session did not log in")
	}
	rep.Links = r.cfg.Links
	var err error
	if rep.MemBefore, rep.PeerMemBefore, err = readBoth(); err != nil {
		return err
	}
	half := r.cfg.Links / 2
	lat := &Latencies{}
	start := time.Now()
	first, err := r.pingDomains(ctx, s, 0, half, answers, lat)
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	if rep.MemMid, rep.PeerMemMid, err = readBoth(); err != nil {
		return err
	}
	start = time.Now()
	second, err := r.pingDomains(ctx, s, half, r.cfg.Links, answers, lat)
	if err != nil {
		return err
	}
	elapsed += time.Since(start)
	rep.LinksUp = first + second
	rep.LinkErrors = int64(r.cfg.Links) - rep.LinksUp
	rep.LinkSetupSeconds = elapsed.Seconds()
	rep.Latency = lat.Summary()
	if rep.MemAfter, rep.PeerMemAfter, err = readBoth(); err != nil {
		return err
	}
	if rep.MemBefore != nil {
		rep.RSSPerLink, rep.PSSPerLink = memPerSession(*rep.MemBefore, *rep.MemAfter, int(rep.LinksUp))
		rep.MarginalRSSPerLink, rep.MarginalPSSPerLink = memPerSession(*rep.MemMid, *rep.MemAfter, int(second))
	}
	if rep.PeerMemBefore != nil {
		rep.PeerRSSPerLink, _ = memPerSession(*rep.PeerMemBefore, *rep.PeerMemAfter, int(rep.LinksUp))
	}
	return ctx.Err()
}

// linkAnswer is the answer to the ping of remote domain idx, received at
// at; condition is its error condition ("" for a result).
type linkAnswer struct {
	idx       int
	at        time.Time
	condition string
}

// linkFailures are the error conditions with which the first server
// answers for a remote domain it could not reach: the link is not up.
var linkFailures = []string{string(stanza.RemoteServerNotFound), string(stanza.RemoteServerTimeout)}

// pingDomains pings remote domains [from, to) with at most Concurrency
// pings unanswered and returns how many links came up; it adds each
// answer's delay to lat and counts failures by condition in r.errs. It
// gives up setupTimeout after the last answer.
func (r *runner) pingDomains(ctx context.Context, s *Session, from, to int, answers <-chan linkAnswer, lat *Latencies) (int64, error) {
	var mu sync.Mutex
	sent := make(map[int]time.Time, to-from)
	var up int64
	stop := r.progress(ctx, func() string {
		mu.Lock()
		defer mu.Unlock()
		return fmt.Sprintf("links %d up, %d failed, %d awaiting an answer (domains %d-%d)", up, r.errs.Total(), len(sent), from, to-1)
	})
	defer stop()
	next := from
	for done := from; done < to; {
		for next < to && next-done < r.cfg.Concurrency {
			mu.Lock()
			sent[next] = time.Now()
			mu.Unlock()
			iq := stanza.NewIQ(stanza.TypeGet, linkIDPrefix+strconv.Itoa(next), r.linkDomain(next), stanza.New(nsPing, "ping"))
			if err := s.Send(iq); err != nil {
				return up, fmt.Errorf("load: s2s-links: ping of %s: %w", r.linkDomain(next), err)
			}
			next++
		}
		timeout := time.NewTimer(setupTimeout)
		select {
		case a := <-answers:
			timeout.Stop()
			mu.Lock()
			t0, ok := sent[a.idx]
			delete(sent, a.idx)
			if ok && !slices.Contains(linkFailures, a.condition) {
				up++
				lat.Add(a.at.Sub(t0))
			}
			mu.Unlock()
			if !ok {
				continue // not of this batch (cannot happen: one ping per domain)
			}
			if slices.Contains(linkFailures, a.condition) {
				r.errs.Add(fmt.Errorf("link to %s: %s", r.linkDomain(a.idx), a.condition))
			} else if a.condition != "" {
				r.log.Debug("remote domain answered the ping with an error (link up)", "domain", r.linkDomain(a.idx), "condition", a.condition)
			}
			done++
		case <-timeout.C:
			return up, fmt.Errorf("load: s2s-links: %d pings unanswered after %v", len(sent), setupTimeout)
		case <-ctx.Done():
			timeout.Stop()
			return up, ctx.Err()
		}
	}
	return up, nil
}

// linkDomain returns remote domain i of the s2s-links scenario.
func (r *runner) linkDomain(i int) string { return fmt.Sprintf(r.cfg.LinkDomain, i) }
