package adhoc

import (
	"context"
	"fmt"
	"time"

	"github.com/parley-xmpp/parley/server/module"
	xadhoc "github.com/parley-xmpp/parley/xmpp/adhoc"
	"github.com/parley-xmpp/parley/xmpp/form"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// S2SNode is the node of the command listing the server-to-server links
// (administrators only); S2SFormType is the FORM_TYPE of its result.
const (
	S2SNode     = "s2s-list"
	S2SFormType = "urn:parley:s2s:links"
)

// The fields of the result: parallel columns, one value per link, in the
// same order in each. An empty value is written as none.
const (
	fieldLocal     = "local"
	fieldRemote    = "remote"
	fieldDirection = "direction"
	fieldState     = "state"
	fieldAuth      = "auth"
	fieldTLS       = "tls"
	fieldSince     = "since"
	none           = "-"
)

// s2sCommand lists the federation's links (Host.Federation).
func (m *Module) s2sCommand() *Command {
	return &Command{
		Node: S2SNode, Name: "List Server-to-Server Links", Allowed: m.isAdmin,
		Run: func(context.Context, jid.JID, *form.Form) (*form.Form, []xadhoc.Note, error) {
			links := m.host.Federation().Links()
			return LinksForm(links), []xadhoc.Note{{Type: xadhoc.NoteInfo, Text: fmt.Sprintf("%d server-to-server link(s).", len(links))}}, nil
		},
	}
}

// LinksForm is the result form of the s2s-list command.
func LinksForm(links []module.FederationLink) *form.Form {
	cols := map[string][]string{}
	for _, l := range links {
		dir, since := "out", none
		if l.Incoming {
			dir = "in"
		}
		if !l.Since.IsZero() {
			since = l.Since.UTC().Format(time.RFC3339)
		}
		for v, s := range map[string]string{fieldLocal: l.Local, fieldRemote: l.Remote, fieldDirection: dir,
			fieldState: l.State, fieldAuth: l.Auth, fieldTLS: l.TLS, fieldSince: since} {
			if s == "" {
				s = none
			}
			cols[v] = append(cols[v], s)
		}
	}
	f := form.New(form.TypeResult, S2SFormType)
	f.Title = "Server-to-server links"
	for _, c := range []struct{ v, label string }{
		{fieldRemote, "Remote domain"}, {fieldDirection, "Direction (in or out)"}, {fieldAuth, "Authentication"},
		{fieldTLS, "TLS version"}, {fieldSince, "Up since (UTC)"}, {fieldLocal, "Local domain"}, {fieldState, "State"},
	} {
		f.Add(form.Field{Var: c.v, Type: form.FieldTextMulti, Label: c.label, Values: cols[c.v]})
	}
	return f
}

// ParseLinks reads the result form of the s2s-list command.
func ParseLinks(f *form.Form) ([]module.FederationLink, error) {
	if f.FormType() != S2SFormType {
		return nil, fmt.Errorf("adhoc: not an s2s link list (FORM_TYPE %q)", f.FormType())
	}
	col := func(v string) []string {
		if fl := f.Field(v); fl != nil {
			return fl.Values
		}
		return nil
	}
	remote := col(fieldRemote)
	n := len(remote)
	get := func(v string, i int) (string, error) {
		c := col(v)
		if len(c) != n {
			return "", fmt.Errorf("adhoc: s2s link list: field %s has %d values for %d links", v, len(c), n)
		}
		if c[i] == none {
			return "", nil
		}
		return c[i], nil
	}
	out := make([]module.FederationLink, 0, n)
	for i := range n {
		var l module.FederationLink
		var dir, since string
		for _, p := range []struct {
			v   string
			dst *string
		}{{fieldRemote, &l.Remote}, {fieldLocal, &l.Local}, {fieldDirection, &dir}, {fieldState, &l.State},
			{fieldAuth, &l.Auth}, {fieldTLS, &l.TLS}, {fieldSince, &since}} {
			s, err := get(p.v, i)
			if err != nil {
				return nil, err
			}
			*p.dst = s
		}
		l.Incoming = dir == "in"
		if since != "" {
			t, err := time.Parse(time.RFC3339, since)
			if err != nil {
				return nil, fmt.Errorf("adhoc: s2s link list: since %q: %w", since, err)
			}
			l.Since = t
		}
		out = append(out, l)
	}
	return out, nil
}
