package transfer

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/form"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// nsRoomConfig is the FORM_TYPE of the exported room configuration
// (XEP-0045 §15.5.3).
const nsRoomConfig = "http://jabber.org/protocol/muc#roomconfig"

// Room is a persistent multi-user chat room (XEP-0045) with its
// affiliations. XEP-0227 1.1 leaves MUC services out of scope (§1), so
// rooms travel as <muc-room xmlns=NS/> after the hosts.
type Room struct {
	storage.MUCRoom
	Affiliations []storage.MUCAffiliation
}

// ReadRooms returns every stored room with its affiliations, sorted.
func ReadRooms(ctx context.Context, s storage.Stores) ([]Room, error) {
	if s.MUC == nil {
		return nil, nil
	}
	rooms, err := s.MUC.MUCRooms(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("listing MUC rooms: %w", err)
	}
	out := make([]Room, 0, len(rooms))
	for _, r := range rooms {
		affs, err := s.MUC.RoomAffiliations(ctx, r.JID)
		if err != nil {
			return nil, fmt.Errorf("room %s: %w", r.JID, err)
		}
		out = append(out, Room{MUCRoom: r, Affiliations: affs})
	}
	return out, nil
}

// WriteRoom stores a room, replacing one with the same JID.
func WriteRoom(ctx context.Context, s storage.Stores, r Room) error {
	if s.MUC == nil {
		return errors.New("the backend has no MUC store")
	}
	if err := s.MUC.DeleteRoom(ctx, r.JID); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("room %s: %w", r.JID, err)
	}
	if err := s.MUC.PutRoom(ctx, r.MUCRoom); err != nil {
		return fmt.Errorf("room %s: %w", r.JID, err)
	}
	for _, a := range r.Affiliations {
		if err := s.MUC.SetRoomAffiliation(ctx, r.JID, a); err != nil {
			return fmt.Errorf("room %s: affiliation of %s: %w", r.JID, a.JID, err)
		}
	}
	return nil
}

// copyRooms copies every room and verifies the copies.
func copyRooms(ctx context.Context, from, to storage.Stores, st *Stats) error {
	rooms, err := ReadRooms(ctx, from)
	if err != nil {
		return err
	}
	for _, r := range rooms {
		if err := WriteRoom(ctx, to, r); err != nil {
			return err
		}
		got, err := to.MUC.MUCRoom(ctx, r.JID)
		if err != nil {
			return fmt.Errorf("verifying room %s: %w", r.JID, err)
		}
		affs, err := to.MUC.RoomAffiliations(ctx, r.JID)
		if err != nil {
			return fmt.Errorf("verifying room %s: %w", r.JID, err)
		}
		if !sameRoom(Room{MUCRoom: got, Affiliations: affs}, r) {
			return fmt.Errorf("verifying room %s: the target's copy differs from the source", r.JID)
		}
		st.Rooms++
	}
	return nil
}

// sameRoom compares two rooms, times by instant.
func sameRoom(a, b Room) bool {
	return a.JID == b.JID && a.Subject == b.Subject && a.SubjectBy == b.SubjectBy && a.Created.Equal(b.Created) &&
		reflect.DeepEqual(nilIfEmptyMap(a.Config), nilIfEmptyMap(b.Config)) &&
		reflect.DeepEqual(nilIfEmpty(a.Affiliations), nilIfEmpty(b.Affiliations))
}

func nilIfEmptyMap(m map[string][]string) map[string][]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

// roomElement encodes a room as <muc-room xmlns=NS/>: the configuration
// as a muc#roomconfig result form, the subject and the affiliations.
func roomElement(r Room) *stanza.Element {
	el := stanza.New(NS, "muc-room", "jid", r.JID.String(), "created", stamp(r.Created))
	f := form.New(form.TypeResult, nsRoomConfig)
	for _, k := range sortedKeys(r.Config) {
		f.Add(form.Field{Var: k, Values: r.Config[k]})
	}
	el.Append(f.Element())
	if r.Subject != "" || r.SubjectBy != "" {
		s := stanza.New(NS, "subject").AppendText(r.Subject)
		if r.SubjectBy != "" {
			s.Set("by", r.SubjectBy)
		}
		el.Append(s)
	}
	for _, a := range r.Affiliations {
		ae := stanza.New(NS, "affiliation", "jid", a.JID.String(), "affiliation", a.Affiliation)
		if a.Nick != "" {
			ae.Set("nick", a.Nick)
		}
		if a.Reason != "" {
			ae.Set("reason", a.Reason)
		}
		el.Append(ae)
	}
	return el
}

// parseRoom decodes a <muc-room/>; now stamps a room without a creation
// time.
func parseRoom(el *stanza.Element, now time.Time) (Room, error) {
	j, err := jid.Parse(el.Get("jid"))
	if err != nil || j.Local() == "" || j.Resource() != "" {
		return Room{}, fmt.Errorf("muc-room: %q is not a room JID", el.Get("jid"))
	}
	r := Room{MUCRoom: storage.MUCRoom{JID: j, Created: now, Config: map[string][]string{}}}
	if c := el.Get("created"); c != "" {
		if r.Created, err = parseStamp(c); err != nil {
			return Room{}, fmt.Errorf("muc-room %s: %w", j, err)
		}
	}
	for _, c := range el.Elements() {
		switch {
		case c.Name.Space == form.NS && c.Name.Local == "x":
			f, err := form.Parse(c)
			if err != nil {
				return Room{}, fmt.Errorf("muc-room %s: configuration: %w", j, err)
			}
			for _, fd := range f.Fields {
				if fd.Var != form.FormTypeVar && fd.Var != "" {
					r.Config[fd.Var] = slices.Clone(fd.Values)
				}
			}
		case c.Name.Space == NS && c.Name.Local == "subject":
			r.Subject, r.SubjectBy = c.Text(), c.Get("by")
		case c.Name.Space == NS && c.Name.Local == "affiliation":
			aj, err := jid.Parse(c.Get("jid"))
			if err != nil || aj.Resource() != "" {
				return Room{}, fmt.Errorf("muc-room %s: affiliation of %q: not a bare JID", j, c.Get("jid"))
			}
			switch aff := c.Get("affiliation"); aff {
			case "owner", "admin", "member", "outcast":
				r.Affiliations = append(r.Affiliations, storage.MUCAffiliation{JID: aj, Affiliation: aff,
					Nick: c.Get("nick"), Reason: c.Get("reason")})
			default:
				return Room{}, fmt.Errorf("muc-room %s: unknown affiliation %q", j, aff)
			}
		}
	}
	slices.SortFunc(r.Affiliations, func(a, b storage.MUCAffiliation) int {
		switch {
		case a.JID.String() < b.JID.String():
			return -1
		case a.JID.String() > b.JID.String():
			return 1
		}
		return 0
	})
	return r, nil
}

// importRoom stores a parsed <muc-room/>, refusing to replace an existing
// room unless forced.
func (im *importer) importRoom(el *stanza.Element) error {
	r, err := parseRoom(el, im.opts.Now())
	if err != nil {
		im.skipped(err.Error())
		return nil
	}
	if im.s.MUC == nil {
		return errors.New("the backend has no MUC store")
	}
	if _, err := im.s.MUC.MUCRoom(im.ctx, r.JID); err == nil && !im.opts.Force {
		im.conflict("room " + r.JID.String())
		return nil
	}
	if im.totalConflicts > 0 {
		return nil
	}
	if err := WriteRoom(im.ctx, im.s, r); err != nil {
		return err
	}
	im.st.Rooms++
	return nil
}
