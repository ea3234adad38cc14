package adhoc

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/parley-xmpp/parley/server/storage"
	xadhoc "github.com/parley-xmpp/parley/xmpp/adhoc"
	"github.com/parley-xmpp/parley/xmpp/form"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// AdminFormType is the FORM_TYPE of XEP-0133 forms; NodePrefix starts
// every XEP-0133 command node.
const (
	AdminFormType = "http://jabber.org/protocol/admin"
	NodePrefix    = AdminFormType + "#"
)

// adminCommands returns the XEP-0133 commands, all restricted to admins.
func (m *Module) adminCommands() []*Command {
	cmds := []*Command{
		{Node: "add-user", Name: "Add a User", Form: m.addUserForm, Run: m.addUser},
		{Node: "delete-user", Name: "Delete a User", Form: jidsForm("Deleting a User", "The Jabber ID(s) to delete"), Run: m.deleteUsers},
		{Node: "disable-user", Name: "Disable a User", Form: jidsForm("Disabling a User", "The Jabber ID(s) to disable"), Run: m.disableUsers},
		{Node: "reenable-user", Name: "Re-Enable a User", Form: jidsForm("Re-Enable a User", "The Jabber ID(s) to re-enable"), Run: m.reenableUsers},
		{Node: "end-user-session", Name: "End User Session", Form: jidsForm("Ending a User Session", "The Jabber ID(s) for which to end sessions"), Run: m.endUserSessions},
		{Node: "change-user-password", Name: "Change User Password", Form: m.passwordForm, Run: m.changePassword},
		{Node: "get-online-users-num", Name: "Get Number of Online Users", Run: m.onlineNum},
		{Node: "get-online-users-list", Name: "Get List of Online Users", Form: m.onlineListForm, Run: m.onlineList},
		{Node: "announce", Name: "Send Announcement to Online Users", Form: m.announceForm, Run: m.announce},
	}
	for _, c := range cmds {
		c.Node = NodePrefix + c.Node
		c.Allowed = m.isAdmin
	}
	return cmds
}

func newForm(title, instructions string) *form.Form {
	f := form.New(form.TypeForm, AdminFormType)
	f.Title = title
	f.Instructions = []string{instructions}
	return f
}

func jidsForm(title, label string) func(context.Context) *form.Form {
	return func(context.Context) *form.Form {
		return newForm(title, "Fill out this form.").Add(form.Field{Var: "accountjids", Type: form.FieldJIDMulti, Label: label, Required: true})
	}
}

func resultForm(fields ...form.Field) *form.Form {
	f := form.New(form.TypeResult, AdminFormType)
	for _, fl := range fields {
		f.Add(fl)
	}
	return f
}

// accounts parses JID fields naming local accounts; with full false a
// resource is refused. Invalid data is <not-acceptable/> (XEP-0004 §4).
func (m *Module) accounts(f *form.Form, v string, full bool) ([]jid.JID, error) {
	var out []jid.JID
	fl := f.Field(v)
	if fl == nil {
		return nil, xadhoc.Error(xadhoc.BadPayload, "the required field "+v+" is missing")
	}
	for _, s := range fl.Values {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		j, err := jid.Parse(s)
		if err != nil || j.Local() == "" || !m.host.IsLocal(j.Domain()) || (!full && j.Resource() != "") {
			return nil, stanza.Errorf(stanza.NotAcceptable, "%q is not an account of this server", s)
		}
		if !slices.Contains(out, j) { // XEP-0004 §3.3: duplicates are ignored
			out = append(out, j)
		}
	}
	if len(out) == 0 {
		return nil, xadhoc.Error(xadhoc.BadPayload, "no Jabber ID given in "+v)
	}
	return out, nil
}

func (m *Module) addUserForm(context.Context) *form.Form {
	return newForm("Adding a User", "Fill out this form to add a user.").
		Add(form.Field{Var: "accountjid", Type: form.FieldJIDSingle, Label: "The Jabber ID for the account to be added", Required: true}).
		Add(form.Field{Var: "password", Type: form.FieldTextPrivate, Label: "The password for this account", Required: true}).
		Add(form.Field{Var: "password-verify", Type: form.FieldTextPrivate, Label: "Retype password", Required: true})
}

func (m *Module) addUser(ctx context.Context, _ jid.JID, f *form.Form) (*form.Form, []xadhoc.Note, error) {
	users, err := m.accounts(f, "accountjid", false)
	if err != nil {
		return nil, nil, err
	}
	if len(users) != 1 {
		return nil, nil, stanza.Errorf(stanza.NotAcceptable, "accountjid takes one Jabber ID")
	}
	pw := value(f, "password")
	if pw != value(f, "password-verify") {
		return nil, nil, stanza.Errorf(stanza.NotAcceptable, "the passwords do not match")
	}
	err = m.host.Accounts().Create(ctx, users[0], pw)
	if errors.Is(err, storage.ErrExists) {
		return nil, nil, stanza.Errorf(stanza.Conflict, "%s already exists", users[0])
	}
	if err != nil {
		return nil, nil, fmt.Errorf("adhoc: add user: %w", err)
	}
	return nil, []xadhoc.Note{{Type: xadhoc.NoteInfo, Text: users[0].String() + " was added."}}, nil
}

// eachAccount applies fn to each listed account and reports, in notes,
// those that do not exist (XEP-0050 §4.5: a failing command completes
// with an error note).
func (m *Module) eachAccount(ctx context.Context, f *form.Form, verb string, fn func(jid.JID) error) (*form.Form, []xadhoc.Note, error) {
	users, err := m.accounts(f, "accountjids", false)
	if err != nil {
		return nil, nil, err
	}
	var notes []xadhoc.Note
	for _, u := range users {
		err := fn(u)
		switch {
		case errors.Is(err, storage.ErrNotFound):
			notes = append(notes, xadhoc.Note{Type: xadhoc.NoteError, Text: u.String() + ": no such account"})
		case err != nil:
			return nil, nil, fmt.Errorf("adhoc: %s %s: %w", verb, u, err)
		default:
			notes = append(notes, xadhoc.Note{Type: xadhoc.NoteInfo, Text: u.String() + " was " + verb + "."})
		}
	}
	return nil, notes, nil
}

func (m *Module) deleteUsers(ctx context.Context, _ jid.JID, f *form.Form) (*form.Form, []xadhoc.Note, error) {
	return m.eachAccount(ctx, f, "deleted", func(u jid.JID) error {
		if err := m.host.Accounts().Delete(ctx, u); err != nil {
			return err
		}
		m.endSessions(u, stream.NotAuthorized, "the account was deleted")
		return nil
	})
}

func (m *Module) disableUsers(ctx context.Context, _ jid.JID, f *form.Form) (*form.Form, []xadhoc.Note, error) {
	return m.eachAccount(ctx, f, "disabled", func(u jid.JID) error {
		if err := m.host.Accounts().SetDisabled(ctx, u, true); err != nil {
			return err
		}
		// XEP-0133 §4.3: disabling ends every session.
		m.endSessions(u, stream.NotAuthorized, "the account was disabled")
		return nil
	})
}

func (m *Module) reenableUsers(ctx context.Context, _ jid.JID, f *form.Form) (*form.Form, []xadhoc.Note, error) {
	return m.eachAccount(ctx, f, "re-enabled", func(u jid.JID) error {
		return m.host.Accounts().SetDisabled(ctx, u, false)
	})
}

// endUserSessions ends all sessions of bare JIDs and the one session of
// full JIDs (XEP-0133 §4.5).
func (m *Module) endUserSessions(_ context.Context, _ jid.JID, f *form.Form) (*form.Form, []xadhoc.Note, error) {
	targets, err := m.accounts(f, "accountjids", true)
	if err != nil {
		return nil, nil, err
	}
	var notes []xadhoc.Note
	for _, t := range targets {
		n := m.endSessions(t, stream.PolicyViolation, "the session was ended by an administrator")
		notes = append(notes, xadhoc.Note{Type: xadhoc.NoteInfo, Text: fmt.Sprintf("%s: %d session(s) ended.", t, n)})
	}
	return nil, notes, nil
}

// endSessions closes the sessions of target (all of a bare JID, or the
// one of a full JID) with a stream error, and returns how many.
func (m *Module) endSessions(target jid.JID, cond stream.Condition, text string) int {
	n := 0
	for _, s := range m.host.Sessions().Sessions(target.Bare()) {
		if target.Resource() != "" && s.JID() != target {
			continue
		}
		s.Conn().Close(&stream.Error{Condition: cond, Text: text})
		n++
	}
	return n
}

func (m *Module) passwordForm(context.Context) *form.Form {
	return newForm("Changing a User Password", "Fill out this form to change a user's password.").
		Add(form.Field{Var: "accountjid", Type: form.FieldJIDSingle, Label: "The Jabber ID for this account", Required: true}).
		Add(form.Field{Var: "password", Type: form.FieldTextPrivate, Label: "The password for this account", Required: true})
}

func (m *Module) changePassword(ctx context.Context, requester jid.JID, f *form.Form) (*form.Form, []xadhoc.Note, error) {
	users, err := m.accounts(f, "accountjid", false)
	if err != nil {
		return nil, nil, err
	}
	if len(users) != 1 {
		return nil, nil, stanza.Errorf(stanza.NotAcceptable, "accountjid takes one Jabber ID")
	}
	err = m.host.Accounts().SetPassword(ctx, users[0], value(f, "password"))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil, stanza.Errorf(stanza.ItemNotFound, "%s does not exist", users[0])
	}
	if err != nil {
		return nil, nil, fmt.Errorf("adhoc: change password: %w", err)
	}
	// Whoever knew the old password is logged out: every session of the
	// account ends, but the administrator's own when changing their own.
	n := 0
	for _, s := range m.host.Sessions().Sessions(users[0]) {
		if s.JID() == requester {
			continue
		}
		s.Conn().Close(&stream.Error{Condition: stream.Reset, Text: "the account's password was changed by an administrator"})
		n++
	}
	m.host.Logger().InfoContext(ctx, "adhoc: password changed by an administrator", "user", users[0].String(), "admin", requester.String(), "sessions_ended", n)
	return nil, []xadhoc.Note{{Type: xadhoc.NoteInfo, Text: fmt.Sprintf("The password of %s was changed; %d session(s) ended.", users[0], n)}}, nil
}

// online returns the bare JIDs with at least one session, sorted.
func (m *Module) online() []string {
	var out []string
	for _, s := range m.host.Sessions().All() {
		b := s.JID().Bare().String()
		if len(out) == 0 || out[len(out)-1] != b {
			out = append(out, b)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func (m *Module) onlineNum(context.Context, jid.JID, *form.Form) (*form.Form, []xadhoc.Note, error) {
	return resultForm(form.Field{Var: "onlineusersnum", Label: "The number of online users",
		Values: []string{strconv.Itoa(len(m.online()))}}), nil, nil
}

func (m *Module) onlineListForm(context.Context) *form.Form {
	f := newForm("Requesting List of Online Users", "Fill out this form to request the online users of this service.")
	fl := form.Field{Var: "max_items", Type: form.FieldListSingle, Label: "Maximum number of items to show"}
	for _, n := range []string{"25", "50", "75", "100", "150", "200"} {
		fl.Extra = append(fl.Extra, option(n, n))
	}
	fl.Extra = append(fl.Extra, option("None", "none"))
	return f.Add(fl)
}

func (m *Module) onlineList(_ context.Context, _ jid.JID, f *form.Form) (*form.Form, []xadhoc.Note, error) {
	users := m.online()
	switch v := value(f, "max_items"); v {
	case "", "none":
	default:
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, nil, stanza.Errorf(stanza.NotAcceptable, "max_items %q is not a positive number", v)
		}
		users = users[:min(n, len(users))]
	}
	return resultForm(form.Field{Var: "onlineuserjids", Type: form.FieldJIDMulti, Label: "The list of all online users", Values: users}), nil, nil
}

func (m *Module) announceForm(context.Context) *form.Form {
	return newForm("Making an Announcement", "Fill out this form to make an announcement to all active users of this service.").
		Add(form.Field{Var: "announcement", Type: form.FieldTextMulti, Label: "Announcement", Required: true})
}

// announce sends a headline from the domain to every bound session
// (XEP-0133 §4.23), through the router so that delivery rules apply.
func (m *Module) announce(ctx context.Context, from jid.JID, f *form.Form) (*form.Form, []xadhoc.Note, error) {
	text := strings.Join(f.Field("announcement").Values, "\n")
	domain := m.domainFor(from)
	n := 0
	for _, s := range m.host.Sessions().All() {
		msg := stanza.NewMessage(stanza.TypeHeadline, s.JID().String(), text)
		msg.Set("from", domain)
		m.host.Route(ctx, msg)
		n++
	}
	return nil, []xadhoc.Note{{Type: xadhoc.NoteInfo, Text: fmt.Sprintf("The announcement was sent to %d session(s).", n)}}, nil
}

// value returns the first value of a field of f, or "".
func value(f *form.Form, v string) string {
	if fl := f.Field(v); fl != nil && len(fl.Values) > 0 {
		return fl.Values[0]
	}
	return ""
}

// option returns an <option/> of a list field (XEP-0004 §3.2).
func option(label, v string) *stanza.Element {
	o := stanza.New(form.NS, "option")
	o.Set("label", label)
	return o.Append(stanza.New(form.NS, "value").AppendText(v))
}
