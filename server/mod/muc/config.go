package muc

import (
	"encoding/xml"
	"strconv"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/disco"
	"github.com/parley-xmpp/parley/xmpp/form"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/mam"
	"github.com/parley-xmpp/parley/xmpp/muc"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stanzaid"
)

// Values of muc#roomconfig_whois and muc#roomconfig_allowpm.
const (
	whoisModerators = "moderators"
	whoisAnyone     = "anyone"
	pmAnyone        = "anyone"
	pmParticipants  = "participants"
	pmModerators    = "moderators"
	pmNone          = "none"
)

// Field vars of the room configuration form (XEP-0045 §10.2, §15.5.3).
const (
	fName        = "muc#roomconfig_roomname"
	fDesc        = "muc#roomconfig_roomdesc"
	fLang        = "muc#roomconfig_lang"
	fSubject     = "muc#roomconfig_changesubject"
	fInvites     = "muc#roomconfig_allowinvites"
	fPM          = "muc#roomconfig_allowpm"
	fMaxUsers    = "muc#roomconfig_maxusers"
	fPublic      = "muc#roomconfig_publicroom"
	fPersistent  = "muc#roomconfig_persistentroom"
	fModerated   = "muc#roomconfig_moderatedroom"
	fMembersOnly = "muc#roomconfig_membersonly"
	fProtected   = "muc#roomconfig_passwordprotectedroom"
	fSecret      = "muc#roomconfig_roomsecret"
	fWhoIs       = "muc#roomconfig_whois"
	fHistory     = "muc#maxhistoryfetch"
	fLogging     = "muc#roomconfig_enablelogging"
	fArchive     = "muc#roomconfig_enablearchiving"
	fAdmins      = "muc#roomconfig_roomadmins"
	fOwners      = "muc#roomconfig_roomowners"
)

// roomConfig is a room's configuration.
type roomConfig struct {
	Name, Desc, Lang string
	ChangeSubject    bool
	AllowInvites     bool
	AllowPM          string
	MaxUsers         int // 0: no limit
	Public           bool
	Persistent       bool
	Moderated        bool
	MembersOnly      bool
	Protected        bool
	Secret           string
	WhoIs            string
	MaxHistory       int
	// Archive keeps a persistent room's messages in its archive
	// (XEP-0313 on the room JID); a temporary room never has one.
	Archive bool
}

func (m *Module) defaultConfig() roomConfig {
	return roomConfig{
		AllowPM:    pmAnyone,
		MaxUsers:   m.opts.MaxUsers,
		Public:     true,
		WhoIs:      whoisModerators,
		MaxHistory: m.opts.History,
		Archive:    !m.opts.NoArchive,
	}
}

// values encodes the configuration for storage.
func (c roomConfig) values() map[string][]string {
	b := func(v bool) []string { return []string{strconv.FormatBool(v)} }
	s := func(v string) []string { return []string{v} }
	return map[string][]string{
		fName: s(c.Name), fDesc: s(c.Desc), fLang: s(c.Lang),
		fSubject: b(c.ChangeSubject), fInvites: b(c.AllowInvites), fPM: s(c.AllowPM),
		fMaxUsers: s(strconv.Itoa(c.MaxUsers)), fPublic: b(c.Public), fPersistent: b(c.Persistent),
		fModerated: b(c.Moderated), fMembersOnly: b(c.MembersOnly), fProtected: b(c.Protected),
		fSecret: s(c.Secret), fWhoIs: s(c.WhoIs), fHistory: s(strconv.Itoa(c.MaxHistory)),
		fArchive: b(c.Archive),
	}
}

// configFromValues decodes a stored configuration; values it cannot read
// keep their defaults.
func (m *Module) configFromValues(v map[string][]string) roomConfig {
	c := m.defaultConfig()
	if err := m.applyValues(&c, v); err != nil {
		m.log.Warn("muc: stored room configuration partly unreadable", "err", err)
	}
	return c
}

// applyValues sets the fields present in v, checking each value; it stops
// at the first bad one.
func (m *Module) applyValues(c *roomConfig, v map[string][]string) error {
	one := func(k string) (string, bool) {
		vs, ok := v[k]
		if !ok {
			return "", false
		}
		if len(vs) == 0 {
			return "", true
		}
		return vs[0], true
	}
	bools := []struct {
		k   string
		dst *bool
	}{
		{fSubject, &c.ChangeSubject}, {fInvites, &c.AllowInvites}, {fPublic, &c.Public},
		{fPersistent, &c.Persistent}, {fModerated, &c.Moderated}, {fMembersOnly, &c.MembersOnly},
		{fProtected, &c.Protected}, {fArchive, &c.Archive},
	}
	for _, f := range bools {
		if s, ok := one(f.k); ok {
			b, err := form.ParseBool(s)
			if err != nil {
				return stanza.Errorf(stanza.NotAcceptable, "%s: not a boolean", f.k)
			}
			*f.dst = b
		}
	}
	texts := []struct {
		k   string
		dst *string
	}{{fName, &c.Name}, {fDesc, &c.Desc}, {fLang, &c.Lang}, {fSecret, &c.Secret}}
	for _, f := range texts {
		if s, ok := one(f.k); ok {
			*f.dst = s
		}
	}
	if s, ok := one(fPM); ok {
		switch s {
		case pmAnyone, pmParticipants, pmModerators, pmNone:
			c.AllowPM = s
		default:
			return stanza.Errorf(stanza.NotAcceptable, "%s: unknown value %q", fPM, s)
		}
	}
	if s, ok := one(fWhoIs); ok {
		switch s {
		case whoisModerators, whoisAnyone:
			c.WhoIs = s
		default:
			return stanza.Errorf(stanza.NotAcceptable, "%s: unknown value %q", fWhoIs, s)
		}
	}
	if s, ok := one(fMaxUsers); ok {
		switch n, err := strconv.Atoi(s); {
		case s == "" || s == "none":
			c.MaxUsers = 0
		case err != nil || n < 0:
			return stanza.Errorf(stanza.NotAcceptable, "%s: not a number", fMaxUsers)
		default:
			c.MaxUsers = n
		}
	}
	if s, ok := one(fHistory); ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return stanza.Errorf(stanza.NotAcceptable, "%s: not a number", fHistory)
		}
		c.MaxHistory = min(n, m.opts.MaxHistory)
	}
	if s, ok := one(fLogging); ok {
		if b, err := form.ParseBool(s); err != nil || b {
			return stanza.Errorf(stanza.NotAcceptable, "%s: this service keeps no public logs", fLogging)
		}
	}
	if c.Protected && c.Secret == "" {
		return stanza.Errorf(stanza.NotAcceptable, "a password-protected room needs a password")
	}
	return nil
}

// configForm is the form an owner fills in (XEP-0045 §10.2).
func (m *Module) configForm(rm *room) *stanza.Element {
	c := rm.cfg
	f := form.New(form.TypeForm, muc.NSRoomConfig)
	f.Title = "Configuration of " + rm.jid.String()
	b := func(v bool) []string {
		if v {
			return []string{"1"}
		}
		return []string{"0"}
	}
	opts := func(vals ...string) []*stanza.Element {
		var out []*stanza.Element
		for _, v := range vals {
			out = append(out, stanza.New(form.NS, "option").Append(stanza.New(form.NS, "value").AppendText(v)))
		}
		return out
	}
	maxUsers := "none"
	if c.MaxUsers > 0 {
		maxUsers = strconv.Itoa(c.MaxUsers)
	}
	jids := func(a muc.Affiliation) []string {
		var out []string
		for _, j := range rm.affList(a) {
			out = append(out, j.String())
		}
		return out
	}
	f.Add(form.Field{Var: fName, Type: form.FieldTextSingle, Label: "Natural-language room name", Values: []string{c.Name}}).
		Add(form.Field{Var: fDesc, Type: form.FieldTextSingle, Label: "Short description of the room", Values: []string{c.Desc}}).
		Add(form.Field{Var: fLang, Type: form.FieldTextSingle, Label: "Natural language of discussions", Values: []string{c.Lang}}).
		Add(form.Field{Var: fSubject, Type: form.FieldBoolean, Label: "Allow occupants to change the subject", Values: b(c.ChangeSubject)}).
		Add(form.Field{Var: fInvites, Type: form.FieldBoolean, Label: "Allow occupants to invite others", Values: b(c.AllowInvites)}).
		Add(form.Field{Var: fPM, Type: form.FieldListSingle, Label: "Who may send private messages", Values: []string{c.AllowPM},
			Extra: opts(pmAnyone, pmParticipants, pmModerators, pmNone)}).
		Add(form.Field{Var: fMaxUsers, Type: form.FieldListSingle, Label: "Maximum number of occupants", Values: []string{maxUsers},
			Extra: opts("10", "20", "30", "50", "100", "none")}).
		Add(form.Field{Var: fPublic, Type: form.FieldBoolean, Label: "Make room publicly searchable", Values: b(c.Public)}).
		Add(form.Field{Var: fPersistent, Type: form.FieldBoolean, Label: "Make room persistent", Values: b(c.Persistent)}).
		Add(form.Field{Var: fModerated, Type: form.FieldBoolean, Label: "Make room moderated", Values: b(c.Moderated)}).
		Add(form.Field{Var: fMembersOnly, Type: form.FieldBoolean, Label: "Make room members-only", Values: b(c.MembersOnly)}).
		Add(form.Field{Var: fProtected, Type: form.FieldBoolean, Label: "Password required to enter", Values: b(c.Protected)}).
		Add(form.Field{Var: fSecret, Type: form.FieldTextPrivate, Label: "Password", Values: []string{c.Secret}}).
		Add(form.Field{Var: fWhoIs, Type: form.FieldListSingle, Label: "Who may discover real JIDs", Values: []string{c.WhoIs},
			Extra: opts(whoisModerators, whoisAnyone)}).
		Add(form.Field{Var: fHistory, Type: form.FieldTextSingle, Label: "Maximum number of history messages returned by the room",
			Values: []string{strconv.Itoa(c.MaxHistory)}}).
		Add(form.Field{Var: fLogging, Type: form.FieldBoolean, Label: "Enable public logging", Values: []string{"0"}}).
		Add(form.Field{Var: fArchive, Type: form.FieldBoolean, Label: "Archive the messages of a persistent room (XEP-0313)", Values: b(c.Archive)}).
		Add(form.Field{Var: fAdmins, Type: form.FieldJIDMulti, Label: "Full list of room admins", Values: jids(affAdminVal)}).
		Add(form.Field{Var: fOwners, Type: form.FieldJIDMulti, Label: "Full list of room owners", Values: jids(affOwnerVal)})
	return f.Element()
}

// submitted is a parsed configuration submission.
type submitted struct {
	cfg            roomConfig
	admins, owners []jid.JID
	hasAdmins      bool
	hasOwners      bool
}

// parseSubmit reads a submitted configuration form on top of the current
// configuration.
func (m *Module) parseSubmit(rm *room, x *stanza.Element) (*submitted, error) {
	f, err := form.Parse(x)
	if err != nil {
		return nil, stanza.Errorf(stanza.BadRequest, "%v", err)
	}
	if ft := f.FormType(); ft != "" && ft != muc.NSRoomConfig {
		return nil, stanza.Errorf(stanza.BadRequest, "not a muc#roomconfig form")
	}
	vals := make(map[string][]string, len(f.Fields))
	s := &submitted{}
	for _, fd := range f.Fields {
		switch fd.Var {
		case fAdmins, fOwners:
			var list []jid.JID
			for _, v := range fd.Values {
				j, err := jid.Parse(v)
				if err != nil || j.Resource() != "" {
					return nil, stanza.Errorf(stanza.JIDMalformed, "%s: %q is not a bare JID", fd.Var, v)
				}
				list = append(list, j)
			}
			if fd.Var == fAdmins {
				s.admins, s.hasAdmins = list, true
			} else {
				s.owners, s.hasOwners = list, true
			}
		default:
			vals[fd.Var] = fd.Values
		}
	}
	s.cfg = rm.cfg
	if err := m.applyValues(&s.cfg, vals); err != nil {
		return nil, err
	}
	if s.hasOwners && len(s.owners) == 0 {
		return nil, stanza.Errorf(stanza.Conflict, "a room needs an owner")
	}
	return s, nil
}

// infoForm is the muc#roominfo extended information of a room (XEP-0045
// §6.4).
func (m *Module) infoForm(rm *room) *stanza.Element {
	f := form.New(form.TypeResult, muc.NSRoomInfo)
	subjMod := "0"
	if rm.cfg.ChangeSubject {
		subjMod = "1"
	}
	f.Add(form.Field{Var: "muc#roominfo_description", Label: "Description", Values: []string{rm.cfg.Desc}}).
		Add(form.Field{Var: "muc#roominfo_subject", Label: "Subject", Values: []string{rm.subject}}).
		Add(form.Field{Var: "muc#roominfo_occupants", Label: "Number of occupants", Values: []string{strconv.Itoa(len(rm.occ))}}).
		Add(form.Field{Var: "muc#roominfo_subjectmod", Label: "Occupants may change the subject", Values: []string{subjMod}}).
		Add(form.Field{Var: fSubject, Label: "Occupants may change the subject", Values: []string{subjMod}}).
		Add(form.Field{Var: fHistory, Label: "Maximum number of history messages", Values: []string{strconv.Itoa(rm.cfg.MaxHistory)}})
	if rm.cfg.Lang != "" {
		f.Add(form.Field{Var: "muc#roominfo_lang", Label: "Language", Values: []string{rm.cfg.Lang}})
	}
	if len(rm.avatars) > 0 {
		f.Add(form.Field{Var: fAvatarHash, Type: form.FieldTextMulti, Label: "Avatar hash", Values: rm.avatars})
	}
	if rm.cfg.WhoIs == whoisAnyone {
		// The owners are the room's contacts; a semi-anonymous room does
		// not give their addresses away.
		var owners []string
		for _, j := range rm.affList(affOwnerVal) {
			owners = append(owners, j.String())
		}
		if len(owners) > 0 {
			f.Add(form.Field{Var: "muc#roominfo_contactjid", Type: form.FieldJIDMulti, Label: "Contact Addresses", Values: owners})
		}
	}
	return f.Element()
}

// occupantItems is the disco#items answer of a room (XEP-0045 §6.5): its
// occupant JIDs, to its occupants and to whoever could enter and see them
// (a public room that is neither members-only nor password-protected);
// nothing to anyone else, nor for a node.
func (m *Module) occupantItems(rm *room, from jid.JID, node string) disco.Items {
	res := disco.Items{Node: node}
	if node != "" || rm.locked {
		return res
	}
	open := rm.cfg.Public && !rm.cfg.MembersOnly && !rm.cfg.Protected && m.affiliation(rm, from) != affOutcastVal
	if rm.real[from] == nil && !open {
		return res
	}
	for _, o := range rm.occupants() {
		res.Items = append(res.Items, disco.Item{JID: o.jid})
	}
	return res
}

// features are the disco#info features describing a room (XEP-0045 §6.4).
func (m *Module) features(rm *room) []string {
	pick := func(b bool, yes, no string) string {
		if b {
			return yes
		}
		return no
	}
	c := rm.cfg
	f := []string{
		muc.NS, muc.NSSelfPing, nsOccupantID, nsRetract, nsModerate, nsModerate0, nsVCard,
		pick(c.Public, "muc_public", "muc_hidden"),
		pick(c.Persistent, "muc_persistent", "muc_temporary"),
		pick(c.MembersOnly, "muc_membersonly", "muc_open"),
		pick(c.Moderated, "muc_moderated", "muc_unmoderated"),
		pick(c.WhoIs == whoisAnyone, "muc_nonanonymous", "muc_semianonymous"),
		pick(c.Protected, "muc_passwordprotected", "muc_unsecured"),
	}
	if m.archiving(rm) {
		f = append(f, mam.NS, mam.NSExtended, stanzaid.NS)
		if _, ok := m.archives.(storage.ArchiveRewriter); ok {
			f = append(f, nsTombstone)
		}
	}
	return f
}

func xmlName(local string) xml.Name { return xml.Name{Local: local} }
