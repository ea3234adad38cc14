package load

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// Namespaces of the MUC scenario.
const (
	nsDiscoItems = "http://jabber.org/protocol/disco#items"
	nsDiscoInfo  = "http://jabber.org/protocol/disco#info"
	nsMUC        = "http://jabber.org/protocol/muc"
	nsMUCUser    = "http://jabber.org/protocol/muc#user"
	nsMUCOwner   = "http://jabber.org/protocol/muc#owner"
	nsData       = "jabber:x:data"
)

// findMUC asks the server (disco#items, then disco#info of each item) for
// a service with a conference/text identity; "" means none.
func (r *runner) findMUC(ctx context.Context) (string, error) {
	lctx, cancel := context.WithTimeout(ctx, r.cfg.LoginTimeout)
	defer cancel()
	s, err := r.cfg.Dialer.Login(lctx, r.cfg.First, r.cfg.Account(r.cfg.First), LoginOptions{Register: r.cfg.Create, NoPresence: true})
	if err != nil {
		return "", fmt.Errorf("load: MUC discovery login: %w", err)
	}
	defer s.Close()
	stop := context.AfterFunc(lctx, func() { s.conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	items, err := s.iq(stanza.NewIQ(stanza.TypeGet, "items1", r.cfg.Dialer.Domain, stanza.New(nsDiscoItems, "query")))
	if err != nil {
		return "", nil // no disco#items: no MUC either
	}
	var jids []string
	if q := items.Child(nsDiscoItems, "query"); q != nil {
		for _, it := range q.ChildrenNamed(nsDiscoItems, "item") {
			jids = append(jids, it.Get("jid"))
		}
	}
	for i, j := range jids {
		info, err := s.iq(stanza.NewIQ(stanza.TypeGet, fmt.Sprintf("info%d", i), j, stanza.New(nsDiscoInfo, "query")))
		if err != nil {
			continue
		}
		if q := info.Child(nsDiscoInfo, "query"); q != nil {
			for _, id := range q.ChildrenNamed(nsDiscoInfo, "identity") {
				if id.Get("category") == "conference" && id.Get("type") == "text" {
					return j, nil
				}
			}
		}
	}
	return "", nil
}

// runMUC puts the sessions in rooms of RoomSize occupants; every occupant
// sends groupchat messages and each should reach every occupant (the
// sender's echo included).
func (r *runner) runMUC(ctx context.Context, rep *Report) error {
	service, err := r.findMUC(ctx)
	if err != nil {
		return err
	}
	if service == "" {
		rep.Skipped = "not supported by this server (no MUC service found with service discovery)"
		return nil
	}
	n, size := r.cfg.Count, r.cfg.RoomSize
	room := func(i int) string { return fmt.Sprintf("benchroom%d@%s", i/size, service) }
	t := newTraffic(n, size, r.cfg.Window)
	var joined atomic.Int64
	messages := r.bodyHandler(t, stanza.TypeGroupchat)
	h := func(s *Session, el *stanza.Element) {
		if stanza.KindOf(el) != stanza.KindPresence {
			messages(s, el)
			return
		}
		x := el.Child(nsMUCUser, "x")
		if x == nil {
			return
		}
		if el.Type() == stanza.TypeError {
			r.errs.Add(errors.New("MUC join refused"))
			return
		}
		self, created := false, false
		for _, st := range x.ChildrenNamed(nsMUCUser, "status") {
			self = self || st.Get("code") == "110"
			created = created || st.Get("code") == "201"
		}
		if !self {
			return
		}
		if created {
			// Accept the default configuration: an instant room
			// (XEP-0045 §10.1.2).
			bare, _, _ := strings.Cut(el.From(), "/")
			q := stanza.New(nsMUCOwner, "query").Append(stanza.New(nsData, "x", "type", "submit"))
			s.Send(stanza.NewIQ(stanza.TypeSet, "create", bare, q))
		}
		joined.Add(1)
	}
	sessions := r.loginAll(ctx, rep, LoginOptions{Register: r.cfg.Create}, h)
	defer r.closeAll(sessions)
	join := func(i int) error {
		x := stanza.New(nsMUC, "x").Append(stanza.New(nsMUC, "history", "maxstanzas", "0"))
		return sessions[i].Send(stanza.New(stanza.NSClient, "presence", "to", fmt.Sprintf("%s/u%d", room(i), i)).Append(x))
	}
	// Room creators first, then everyone else.
	want := int64(0)
	for pass := range 2 {
		for i, s := range sessions {
			if s == nil || (i%size == 0) != (pass == 0) {
				continue
			}
			if err := join(i); err != nil {
				r.errs.Add(err)
				continue
			}
			want++
		}
		deadline := time.Now().Add(setupTimeout)
		for joined.Load() < want && time.Now().Before(deadline) {
			if err := sleep(ctx, 20*time.Millisecond); err != nil {
				return err
			}
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
	if joined.Load() < want {
		return fmt.Errorf("load: only %d of %d occupants joined", joined.Load(), want)
	}
	active := make([]bool, n)
	for i, s := range sessions {
		active[i] = s != nil
	}
	stop := r.progress(ctx, func() string { return t.progressLine(&r.errs) })
	t.run(ctx, r.cfg.Duration, r.cfg.Drain, r.cfg.Rate, active, func(idx int, buf []byte, now time.Time) ([]byte, error) {
		buf = appendMessage(buf, room(idx), stanza.TypeGroupchat, idx, now)
		return buf, sessions[idx].SendRaw(buf)
	}, r.errs.Add)
	stop()
	t.fill(rep)
	return ctx.Err()
}
