package transfer

import (
	"bufio"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/mam"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// ExportOptions configures Export.
type ExportOptions struct {
	// Log receives progress; nil discards it.
	Log *slog.Logger
}

// Export writes every account of s, grouped by domain, then the
// publish-subscribe services that are not PEP services and the
// invitations, as one XEP-0227 document. Only one account's data is held
// in memory at a time; archives are written page by page.
func Export(ctx context.Context, s storage.Stores, w io.Writer, opts ExportOptions) (Stats, error) {
	var st Stats
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ew := &elemWriter{w: bufio.NewWriterSize(w, 64<<10)}
	users, err := s.Accounts.ListAccounts(ctx, "")
	if err != nil {
		return st, fmt.Errorf("listing accounts: %w", err)
	}
	var domains []string
	for _, u := range users {
		if !slices.Contains(domains, u.Domain()) {
			domains = append(domains, u.Domain())
		}
	}
	slices.Sort(domains)
	ew.raw("<?xml version='1.0' encoding='UTF-8'?>\n<server-data xmlns='" + NSPIE + "'>\n")
	for _, d := range domains {
		ew.raw("<host jid=\"" + escape(d) + "\">\n")
		for _, u := range users {
			if u.Domain() != d {
				continue
			}
			if err := exportUser(ctx, s, ew, u, &st); err != nil {
				return st, fmt.Errorf("exporting %s: %w", u, err)
			}
			log.DebugContext(ctx, "account exported", "user", u.String())
		}
		ew.raw("</host>\n")
	}
	svcs, err := services(ctx, s)
	if err != nil {
		return st, err
	}
	for _, j := range svcs {
		svc, err := ReadService(ctx, s, j)
		if err != nil {
			return st, err
		}
		owner, items, err := nodesElements(svc.Nodes)
		if err != nil {
			return st, fmt.Errorf("pubsub service %s: %w", j, err)
		}
		ew.elem(stanza.New(NS, "pubsub-service", "jid", j.String()).Append(owner, items), NSPIE)
		st.Services++
		st.ServiceNodes += len(svc.Nodes)
	}
	invs, err := s.Invites.ListInvites(ctx)
	if err != nil {
		return st, fmt.Errorf("listing invitations: %w", err)
	}
	for _, inv := range invs {
		ew.elem(inviteElement(inv), NSPIE)
		st.Invites++
	}
	rooms, err := ReadRooms(ctx, s)
	if err != nil {
		return st, err
	}
	for _, r := range rooms {
		ew.elem(roomElement(r), NSPIE)
		st.Rooms++
	}
	ew.raw("</server-data>\n")
	if ew.err != nil {
		return st, fmt.Errorf("writing: %w", ew.err)
	}
	if err := ew.w.Flush(); err != nil {
		return st, fmt.Errorf("writing: %w", err)
	}
	return st, nil
}

// exportUser writes one <user/>.
func exportUser(ctx context.Context, s storage.Stores, ew *elemWriter, u jid.JID, st *Stats) error {
	a, err := ReadAccount(ctx, s, u)
	if err != nil {
		return err
	}
	ew.raw("<user name=\"" + escape(u.Local()) + "\">\n")
	for _, k := range a.Keys {
		ew.elem(scramElement(k), NSPIE)
	}
	if len(a.Roster) > 0 || a.RosterVersion > 0 {
		ew.elem(rosterElement(a.Roster, a.RosterVersion), NSPIE)
	}
	for _, r := range a.Requests {
		ew.elem(requestElement(r, u.Domain()), NSPIE)
	}
	if len(a.Offline) > 0 {
		off := stanza.New(NSPIE, "offline-messages")
		for _, m := range a.Offline {
			el, err := parseStored(m.Stanza)
			if err != nil {
				return fmt.Errorf("offline message: %w", err)
			}
			off.Append(el)
		}
		ew.elem(off, NSPIE)
	}
	if len(a.VCard) > 0 {
		v, err := parseStored(a.VCard)
		if err != nil {
			return fmt.Errorf("vCard: %w", err)
		}
		ew.elem(v, NSPIE)
	}
	if len(a.Private) > 0 {
		p, err := privateElement(a.Private)
		if err != nil {
			return err
		}
		ew.elem(p, NSPIE)
	}
	if len(a.Blocked) > 0 {
		ew.elem(blocklistElement(a.Blocked), NSPIE)
	}
	if a.ArchivePrefs != nil {
		ew.elem(mam.Prefs{Default: a.ArchivePrefs.Default, Always: a.ArchivePrefs.Always, Never: a.ArchivePrefs.Never}.Element(), NSPIE)
	}
	if len(a.PEP) > 0 {
		owner, items, err := nodesElements(a.PEP)
		if err != nil {
			return fmt.Errorf("PEP: %w", err)
		}
		ew.elem(owner, NSPIE)
		ew.elem(items, NSPIE)
	}
	ext, err := accountElement(a)
	if err != nil {
		return err
	}
	if ext != nil {
		ew.elem(ext, NSPIE)
	}
	started := false
	err = ArchivePages(ctx, s.Archive, u, func(ms []storage.ArchivedMessage) error {
		if !started {
			ew.raw("<archive xmlns='" + NSMAM + "'>\n")
			started = true
		}
		for _, m := range ms {
			r, err := archiveResult(m)
			if err != nil {
				return err
			}
			ew.elem(r, NSMAM)
		}
		st.Archived += len(ms)
		return ew.err
	})
	if err != nil {
		return err
	}
	if started {
		ew.raw("</archive>\n")
	}
	ew.raw("</user>\n")
	st.count(a)
	return ew.err
}

// elemWriter writes elements and markup, keeping the first error.
type elemWriter struct {
	w   *bufio.Writer
	buf []byte
	err error
}

func (e *elemWriter) raw(s string) {
	if e.err == nil {
		_, e.err = e.w.WriteString(s)
	}
}

// elem writes el in the default namespace scope, on its own line.
func (e *elemWriter) elem(el *stanza.Element, scope string) {
	if e.err != nil {
		return
	}
	e.buf = append(el.AppendXML(e.buf[:0], scope), '\n')
	_, e.err = e.w.Write(e.buf)
}

// escape escapes s for an attribute value in double quotes.
func escape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
