package load

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// appendMessage appends a message stanza whose body is a payload.
func appendMessage(buf []byte, to, typ string, idx int, now time.Time) []byte {
	buf = append(buf, "<message to='"...)
	buf = appendEscaped(buf, to)
	buf = append(buf, "' type='"...)
	buf = append(buf, typ...)
	buf = append(buf, "'><body>"...)
	buf = payload(buf, idx, now)
	return append(buf, "</body></message>"...)
}

// appendEscaped appends s escaped for an XML attribute value.
func appendEscaped(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '&':
			buf = append(buf, "&amp;"...)
		case '<':
			buf = append(buf, "&lt;"...)
		case '\'':
			buf = append(buf, "&apos;"...)
		case '"':
			buf = append(buf, "&quot;"...)
		default:
			buf = append(buf, c)
		}
	}
	return buf
}

// errorCondition returns the defined condition of an error stanza
// ("unknown" without one).
func errorCondition(el *stanza.Element) string {
	if e := stanza.ParseError(el); e != nil {
		return string(e.Condition)
	}
	return "unknown"
}

// bodyHandler passes message bodies of the given type to t and counts
// error bounces (as refused sends of t when they carry a payload back).
func (r *runner) bodyHandler(t *traffic, typ string) handler {
	return func(s *Session, el *stanza.Element) {
		if stanza.KindOf(el) != stanza.KindMessage {
			return
		}
		if el.Type() == stanza.TypeError {
			r.errs.Add(fmt.Errorf("message bounced: %s", errorCondition(el)))
			t.bounce(el.ChildText(stanza.NSClient, "body"))
			return
		}
		if el.Type() == typ {
			if body := el.ChildText(stanza.NSClient, "body"); body != "" {
				t.deliver(body)
			}
		}
	}
}

// runChat pairs session 2k with 2k+1; each sends chat messages to the
// other's bare JID.
func (r *runner) runChat(ctx context.Context, rep *Report) error {
	t := newTraffic(r.cfg.Count, 1, r.cfg.Window)
	h := r.bodyHandler(t, stanza.TypeChat)
	var dlog *deliveryLog
	if r.cfg.VerifyArchive > 0 {
		dlog = newDeliveryLog(min(2*r.cfg.VerifyArchive, r.cfg.Count&^1))
		h = recording(h, dlog, r.cfg.First)
	}
	sessions := r.loginAll(ctx, rep, LoginOptions{Register: r.cfg.Create}, h)
	if rep.Logins < 2 {
		r.closeAll(sessions)
		return errors.New("load: fewer than 2 sessions logged in")
	}
	r.chatPairs(ctx, rep, t, sessions, activePairs(sessions))
	r.closeAll(sessions)
	if dlog != nil && ctx.Err() == nil {
		rep.ArchiveCheck = r.checkArchives(ctx, dlog, time.Unix(0, t.start.Load()))
	}
	return ctx.Err()
}

// recording wraps h so that the chat bodies of the run delivered to the
// sessions log samples are recorded there too; first is the account
// index of position 0.
func recording(h handler, log *deliveryLog, first int) handler {
	return func(s *Session, el *stanza.Element) {
		h(s, el)
		if stanza.KindOf(el) != stanza.KindMessage || el.Type() != stanza.TypeChat {
			return
		}
		if body := el.ChildText(stanza.NSClient, "body"); body != "" {
			if _, _, ok := parsePayload(body); ok {
				log.record(s.Index-first, body)
			}
		}
	}
}

// activePairs reports the sessions that can chat: logged in, and so is
// their partner (2k with 2k+1).
func activePairs(sessions []*Session) []bool {
	active := make([]bool, len(sessions))
	for i, s := range sessions {
		p := i ^ 1
		active[i] = s != nil && p < len(sessions) && sessions[p] != nil
	}
	return active
}

// chatPairs runs the chat traffic of the active sessions, each to its
// partner's bare JID, and fills rep.
func (r *runner) chatPairs(ctx context.Context, rep *Report, t *traffic, sessions []*Session, active []bool) {
	stop := r.progress(ctx, func() string { return t.progressLine(&r.errs) })
	cpu := r.startCPU()
	t.run(ctx, r.cfg.Duration, r.cfg.Drain, r.cfg.Rate, active, func(idx int, buf []byte, now time.Time) ([]byte, error) {
		buf = appendMessage(buf, sessions[idx^1].Bare, stanza.TypeChat, idx, now)
		return buf, sessions[idx].SendRaw(buf)
	}, r.errs.Add)
	stop()
	t.fill(rep)
	rep.CPU = cpu.end(r, rep.Received)
}
