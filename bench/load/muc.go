package load

import (
	"context"
	"errors"
	"fmt"
	"slices"
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

// fieldPersistent is the room configuration form's field (XEP-0045
// §10.2) that makes a room persistent.
const fieldPersistent = "muc#roomconfig_persistentroom"

// archiveFields are the names servers give the room archiving switch:
// muc#roomconfig_enablearchiving (Parley, Prosody's mod_muc_mam) and
// mam (ejabberd's mod_mam).
var archiveFields = [...]string{"muc#roomconfig_enablearchiving", "mam", "muc#roomconfig_mam"}

// IDs of the room creator's configuration requests.
const (
	idConfigGet = "config-get"
	idConfigSet = "config-set"
)

// configSubmission turns a room's configuration form into the submitted
// form of an archived room: every field keeps its value (one without a
// value is left out) but the persistence and archiving switches, which
// are turned on. It fails when the form lacks either switch.
func configSubmission(form *stanza.Element) (*stanza.Element, error) {
	if form == nil {
		return nil, errors.New("no configuration form")
	}
	out := stanza.New(nsData, "x", "type", "submit")
	persistent, archive := false, false
	for _, f := range form.ChildrenNamed(nsData, "field") {
		name := f.Get("var")
		if name == "" || f.Get("type") == "fixed" {
			continue
		}
		field := stanza.New(nsData, "field", "var", name)
		switch {
		case name == fieldPersistent:
			persistent = true
			field.Append(stanza.New(nsData, "value").AppendText("1"))
		case slices.Contains(archiveFields[:], name):
			archive = true
			field.Append(stanza.New(nsData, "value").AppendText("1"))
		default:
			values := f.ChildrenNamed(nsData, "value")
			if len(values) == 0 {
				continue // left out: the room keeps its setting
			}
			for _, v := range values {
				field.Append(stanza.New(nsData, "value").AppendText(v.Text()))
			}
		}
		out.Append(field)
	}
	switch {
	case !persistent:
		return nil, fmt.Errorf("room configuration form without %s", fieldPersistent)
	case !archive:
		return nil, fmt.Errorf("room configuration form without an archiving field (%s)", strings.Join(archiveFields[:], ", "))
	}
	return out, nil
}

// roomName returns the localpart of room k: persistent archived rooms
// have names of their own, per room size, so that they never meet the
// temporary rooms of other runs.
func roomName(k, size int, archive bool) string {
	if archive {
		return fmt.Sprintf("benchmam%dx%d", size, k)
	}
	return fmt.Sprintf("benchroom%d", k)
}

// runMUC puts the sessions in rooms of RoomSize occupants; every occupant
// sends groupchat messages and each should reach every occupant (the
// sender's echo included). Each room's first occupant creates it: an
// instant room (the default configuration), or with Archive a persistent
// room with archiving, set with the configuration form the server
// offers; a room that already exists is entered as it is. The report
// gives the time the occupants took to enter (JoinSeconds).
func (r *runner) runMUC(ctx context.Context, rep *Report) error {
	service, err := r.findMUC(ctx)
	if err != nil {
		return err
	}
	if service == "" {
		rep.Skipped = "not supported by this server (no MUC service found with service discovery)"
		return nil
	}
	n, size, archive := r.cfg.Count, r.cfg.RoomSize, r.cfg.Archive
	rep.RoomSize, rep.Archive = size, archive
	room := func(i int) string { return roomName(i/size, size, archive) + "@" + service }
	t := newTraffic(n, size, r.cfg.Window)
	var joined atomic.Int64
	messages := r.bodyHandler(t, stanza.TypeGroupchat)
	configure := func(s *Session, el *stanza.Element) {
		if el.Type() == stanza.TypeError {
			r.errs.Add(fmt.Errorf("MUC room configuration refused: %s", errorCondition(el)))
			return
		}
		switch el.ID() {
		case idConfigGet:
			var form *stanza.Element
			if q := el.Child(nsMUCOwner, "query"); q != nil {
				form = q.Child(nsData, "x")
			}
			x, err := configSubmission(form)
			if err != nil {
				r.errs.Add(fmt.Errorf("MUC: %w", err))
				return
			}
			s.Send(stanza.NewIQ(stanza.TypeSet, idConfigSet, el.From(), stanza.New(nsMUCOwner, "query").Append(x)))
		case idConfigSet:
			joined.Add(1) // the room is open now
		}
	}
	h := func(s *Session, el *stanza.Element) {
		switch stanza.KindOf(el) {
		case stanza.KindIQ:
			configure(s, el)
			return
		case stanza.KindPresence:
		default:
			messages(s, el)
			return
		}
		x := el.Child(nsMUCUser, "x")
		if el.Type() == stanza.TypeError {
			if _, _, nick := strings.Cut(el.From(), "/"); nick {
				r.errs.Add(errors.New("MUC join refused"))
			}
			return
		}
		if x == nil {
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
		if !created {
			joined.Add(1)
			return
		}
		bare, _, _ := strings.Cut(el.From(), "/")
		if archive {
			// Ask for the form and submit it with persistence and
			// archiving on (XEP-0045 §10.1.3).
			s.Send(stanza.NewIQ(stanza.TypeGet, idConfigGet, bare, stanza.New(nsMUCOwner, "query")))
			return
		}
		// Accept the default configuration: an instant room
		// (XEP-0045 §10.1.2).
		q := stanza.New(nsMUCOwner, "query").Append(stanza.New(nsData, "x", "type", "submit"))
		s.Send(stanza.NewIQ(stanza.TypeSet, idConfigSet, bare, q))
	}
	sessions := r.loginAll(ctx, rep, LoginOptions{Register: r.cfg.Create}, h)
	defer r.closeAll(sessions)
	join := func(i int) error {
		x := stanza.New(nsMUC, "x").Append(stanza.New(nsMUC, "history", "maxstanzas", "0"))
		return sessions[i].Send(stanza.New(stanza.NSClient, "presence", "to", fmt.Sprintf("%s/u%d", room(i), i)).Append(x))
	}
	// Room creators first, then everyone else. JoinSeconds counts the
	// two passes, not the pauses after them.
	var want atomic.Int64
	var joining time.Duration
	stopJoin := r.progress(ctx, func() string { return fmt.Sprintf("occupants in %d/%d", joined.Load(), want.Load()) })
	defer stopJoin()
	for pass := range 2 {
		start := time.Now()
		for i, s := range sessions {
			if s == nil || (i%size == 0) != (pass == 0) {
				continue
			}
			if err := join(i); err != nil {
				r.errs.Add(err)
				continue
			}
			want.Add(1)
		}
		wait := r.cfg.JoinTimeout
		if wait <= 0 {
			wait = setupTimeout
		}
		deadline := time.Now().Add(wait)
		for joined.Load() < want.Load() && time.Now().Before(deadline) {
			if err := sleep(ctx, 5*time.Millisecond); err != nil {
				return err
			}
		}
		joining += time.Since(start)
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
	if joined.Load() < want.Load() {
		return fmt.Errorf("load: only %d of %d occupants joined (errors seen: %v)", joined.Load(), want.Load(), r.errs.Kinds())
	}
	stopJoin()
	rep.JoinSeconds = joining.Seconds()
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
