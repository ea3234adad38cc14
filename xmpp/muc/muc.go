package muc

import (
	"fmt"
	"strconv"
	"time"

	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// Namespaces of XEP-0045, XEP-0249 and XEP-0410.
const (
	NS           = "http://jabber.org/protocol/muc"
	NSUser       = NS + "#user"
	NSAdmin      = NS + "#admin"
	NSOwner      = NS + "#owner"
	NSRoomConfig = NS + "#roomconfig"
	NSRoomInfo   = NS + "#roominfo"
	NSRequest    = NS + "#request"
	// NSSelfPing is the XEP-0410 feature: the service answers pings to
	// an occupant JID itself.
	NSSelfPing = NS + "#self-ping-optimization"
	// NSConference is XEP-0249's direct invitation.
	NSConference = "jabber:x:conference"
	// NSDelay is XEP-0203's delayed delivery, on discussion history.
	NSDelay = "urn:xmpp:delay"
)

// Role is an occupant's role in a room (XEP-0045 §5.1).
type Role uint8

// Roles, in increasing privilege.
const (
	RoleNone Role = iota
	RoleVisitor
	RoleParticipant
	RoleModerator
)

var roleNames = [...]string{"none", "visitor", "participant", "moderator"}

// String returns the role as XEP-0045 writes it.
func (r Role) String() string {
	if int(r) < len(roleNames) {
		return roleNames[r]
	}
	return "none"
}

// ParseRole reads a role attribute.
func ParseRole(s string) (Role, error) {
	for i, n := range roleNames {
		if n == s {
			return Role(i), nil
		}
	}
	return RoleNone, fmt.Errorf("muc: unknown role %q", s)
}

// Affiliation is a user's long-lived relation to a room (XEP-0045 §5.2).
type Affiliation uint8

// Affiliations, in increasing privilege (outcast lowest).
const (
	AffOutcast Affiliation = iota
	AffNone
	AffMember
	AffAdmin
	AffOwner
)

var affNames = [...]string{"outcast", "none", "member", "admin", "owner"}

// String returns the affiliation as XEP-0045 writes it.
func (a Affiliation) String() string {
	if int(a) < len(affNames) {
		return affNames[a]
	}
	return "none"
}

// ParseAffiliation reads an affiliation attribute.
func ParseAffiliation(s string) (Affiliation, error) {
	for i, n := range affNames {
		if n == s {
			return Affiliation(i), nil
		}
	}
	return AffNone, fmt.Errorf("muc: unknown affiliation %q", s)
}

// Status codes of XEP-0045 §15.6.
const (
	StatusNonAnonymous   = 100
	StatusAffChanged     = 101
	StatusConfigChanged  = 104
	StatusSelf           = 110
	StatusLogging        = 170
	StatusCreated        = 201
	StatusNickAssigned   = 210
	StatusBanned         = 301
	StatusNewNick        = 303
	StatusKicked         = 307
	StatusAffRemoved     = 321
	StatusMembersOnly    = 322
	StatusShutdown       = 332
	StatusTechnicalError = 333
)

// Item is the <item/> of muc#user presence and of muc#admin requests.
type Item struct {
	Affiliation string // empty: absent
	Role        string // empty: absent
	JID         string // the real JID, when disclosed
	Nick        string
	Reason      string
	Actor       string // nick of the moderator who acted, optional
}

// Element encodes the item in namespace ns (NSUser or NSAdmin).
func (it Item) Element(ns string) *stanza.Element {
	el := stanza.New(ns, "item")
	if it.Affiliation != "" {
		el.Set("affiliation", it.Affiliation)
	}
	if it.JID != "" {
		el.Set("jid", it.JID)
	}
	if it.Nick != "" {
		el.Set("nick", it.Nick)
	}
	if it.Role != "" {
		el.Set("role", it.Role)
	}
	if it.Actor != "" {
		el.Append(stanza.New(ns, "actor", "nick", it.Actor))
	}
	if it.Reason != "" {
		el.Append(stanza.New(ns, "reason").AppendText(it.Reason))
	}
	return el
}

// ParseItem decodes an <item/>.
func ParseItem(el *stanza.Element) Item {
	it := Item{
		Affiliation: el.Get("affiliation"),
		Role:        el.Get("role"),
		JID:         el.Get("jid"),
		Nick:        el.Get("nick"),
		Reason:      el.ChildText(el.Name.Space, "reason"),
	}
	if a := el.Child(el.Name.Space, "actor"); a != nil {
		it.Actor = a.Get("nick")
	}
	return it
}

// UserX builds <x xmlns=NSUser/> with the items and status codes.
func UserX(items []Item, codes ...int) *stanza.Element {
	x := stanza.New(NSUser, "x")
	for _, it := range items {
		x.Append(it.Element(NSUser))
	}
	for _, c := range codes {
		x.Append(stanza.New(NSUser, "status", "code", strconv.Itoa(c)))
	}
	return x
}

// StatusCodes returns the status codes of a muc#user <x/>.
func StatusCodes(x *stanza.Element) []int {
	if x == nil {
		return nil
	}
	var out []int
	for _, s := range x.ChildrenNamed(NSUser, "status") {
		if n, err := strconv.Atoi(s.Get("code")); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// History is the discussion history a joining user asks for (XEP-0045
// §7.2.15); a negative limit is absent.
type History struct {
	MaxChars, MaxStanzas, Seconds int
	Since                         time.Time // zero: absent
}

// NoLimit is the value of an absent History limit.
const NoLimit = -1

// ParseHistory reads the <history/> child of a join's <x/>; x may be nil.
func ParseHistory(x *stanza.Element) (History, error) {
	h := History{MaxChars: NoLimit, MaxStanzas: NoLimit, Seconds: NoLimit}
	if x == nil {
		return h, nil
	}
	el := x.Child(NS, "history")
	if el == nil {
		return h, nil
	}
	for _, f := range []struct {
		name string
		dst  *int
	}{{"maxchars", &h.MaxChars}, {"maxstanzas", &h.MaxStanzas}, {"seconds", &h.Seconds}} {
		if !el.Has(f.name) {
			continue
		}
		n, err := strconv.Atoi(el.Get(f.name))
		if err != nil || n < 0 {
			return h, fmt.Errorf("muc: history %s=%q: not a non-negative integer", f.name, el.Get(f.name))
		}
		*f.dst = n
	}
	if s := el.Get("since"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return h, fmt.Errorf("muc: history since=%q: %w", s, err)
		}
		h.Since = t
	}
	return h, nil
}

// Element encodes the request as <history/> in NS.
func (h History) Element() *stanza.Element {
	el := stanza.New(NS, "history")
	if h.MaxChars >= 0 {
		el.Set("maxchars", strconv.Itoa(h.MaxChars))
	}
	if h.MaxStanzas >= 0 {
		el.Set("maxstanzas", strconv.Itoa(h.MaxStanzas))
	}
	if h.Seconds >= 0 {
		el.Set("seconds", strconv.Itoa(h.Seconds))
	}
	if !h.Since.IsZero() {
		el.Set("since", h.Since.UTC().Format(time.RFC3339))
	}
	return el
}

// Join builds the presence that enters a room as occupant (room/nick),
// with an optional password and history request.
func Join(occupant jid.JID, password string, h *History) *stanza.Element {
	x := stanza.New(NS, "x")
	if h != nil {
		x.Append(h.Element())
	}
	if password != "" {
		x.Append(stanza.New(NS, "password").AppendText(password))
	}
	return stanza.New(stanza.NSClient, "presence", "to", occupant.String()).Append(x)
}

// DirectInvite is a XEP-0249 invitation.
type DirectInvite struct {
	Room     jid.JID
	Password string
	Reason   string
	Continue bool
	Thread   string
}

// Element encodes the invitation as <x xmlns=NSConference/>.
func (d DirectInvite) Element() *stanza.Element {
	x := stanza.New(NSConference, "x", "jid", d.Room.String())
	if d.Password != "" {
		x.Set("password", d.Password)
	}
	if d.Reason != "" {
		x.Set("reason", d.Reason)
	}
	if d.Continue {
		x.Set("continue", "true")
		if d.Thread != "" {
			x.Set("thread", d.Thread)
		}
	}
	return x
}
