package mam

import (
	"fmt"
	"time"

	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/rsm"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// Result is one archived message sent in answer to a query (§4.2).
type Result struct {
	QueryID string
	ID      string    // the archive UID
	Stamp   time.Time // when the archive received the message
	Message *stanza.Element
}

// Element returns the <message/> carrying r, from the archive to the
// querying resource, with the given stanza id. The message is not copied:
// the caller must not modify it afterwards.
func (r Result) Element(from, to, id string) *stanza.Element {
	res := stanza.New(NS, "result", "id", r.ID)
	res.Set("queryid", r.QueryID)
	fw := stanza.New(NSForward, "forwarded")
	fw.Append(stanza.New(NSDelay, "delay", "stamp", FormatTime(r.Stamp)), r.Message)
	res.Append(fw)
	m := stanza.New(stanza.NSClient, "message", "to", to, "id", id)
	m.Set("from", from)
	return m.Append(res)
}

// ParseResult decodes a result message; ok is false when msg carries no
// MAM <result/>.
func ParseResult(msg *stanza.Element) (r Result, ok bool, err error) {
	res := msg.Child(NS, "result")
	if res == nil {
		return r, false, nil
	}
	r.QueryID, r.ID = res.Get("queryid"), res.Get("id")
	if r.ID == "" {
		return r, true, fmt.Errorf("mam: <result/> without id")
	}
	fw := res.Child(NSForward, "forwarded")
	if fw == nil {
		return r, true, fmt.Errorf("mam: <result/> without <forwarded/>")
	}
	if d := fw.Child(NSDelay, "delay"); d != nil {
		t, err := ParseTime(d.Get("stamp"))
		if err != nil {
			return r, true, err
		}
		r.Stamp = t
	}
	r.Message = fw.Child("", "message")
	if r.Message == nil || !stanza.IsContentNS(r.Message.Name.Space) {
		return r, true, fmt.Errorf("mam: <forwarded/> holds no message")
	}
	return r, true, nil
}

// Fin is the payload of the IQ result ending a query (§4.3).
type Fin struct {
	Complete bool
	// Unstable marks results that may still change (stable='false').
	Unstable bool
	Set      rsm.Result
}

// Element encodes f.
func (f Fin) Element() *stanza.Element {
	el := stanza.New(NS, "fin")
	if f.Complete {
		el.Set("complete", "true")
	}
	if f.Unstable {
		el.Set("stable", "false")
	}
	return el.Append(f.Set.Element())
}

// ParseFin decodes a <fin/>.
func ParseFin(el *stanza.Element) (Fin, error) {
	if el == nil || el.Name.Space != NS || el.Name.Local != "fin" {
		return Fin{}, fmt.Errorf("mam: not a <fin/>")
	}
	f := Fin{Complete: el.Get("complete") == "true" || el.Get("complete") == "1",
		Unstable: el.Get("stable") == "false" || el.Get("stable") == "0"}
	set, err := rsm.ParseResult(el.Child(rsm.NS, "set"))
	if err != nil {
		return Fin{}, fmt.Errorf("mam: <fin/>: %w", err)
	}
	f.Set = set
	return f, nil
}

// Default archiving policies (XEP-0441 §2.1.1).
const (
	DefaultAlways = "always"
	DefaultNever  = "never"
	DefaultRoster = "roster"
)

// Prefs are a user's archiving preferences (XEP-0441).
type Prefs struct {
	Default       string
	Always, Never []jid.JID
}

// Element encodes p; <always/> and <never/> are always present.
func (p Prefs) Element() *stanza.Element {
	el := stanza.New(NS, "prefs", "default", p.Default)
	list := func(name string, js []jid.JID) *stanza.Element {
		l := stanza.New(NS, name)
		for _, j := range js {
			l.Append(stanza.New(NS, "jid").AppendText(j.String()))
		}
		return l
	}
	return el.Append(list("always", p.Always), list("never", p.Never))
}

// ParsePrefs decodes a <prefs/>; errors are *stanza.Error <bad-request/>
// (an unknown default) or <jid-malformed/>.
func ParsePrefs(el *stanza.Element) (Prefs, error) {
	var p Prefs
	if el == nil || el.Name.Space != NS || el.Name.Local != "prefs" {
		return p, stanza.Errorf(stanza.BadRequest, "not a MAM <prefs/>")
	}
	p.Default = el.Get("default")
	switch p.Default {
	case DefaultAlways, DefaultNever, DefaultRoster:
	default:
		return p, stanza.Errorf(stanza.BadRequest, "default must be always, never or roster, not %q", p.Default)
	}
	for _, name := range []string{"always", "never"} {
		l := el.Child(NS, name)
		if l == nil {
			continue
		}
		for _, c := range l.ChildrenNamed(NS, "jid") {
			j, err := jid.Parse(c.Text())
			if err != nil {
				return p, stanza.Errorf(stanza.JIDMalformed, "%s: %v", name, err)
			}
			if name == "always" {
				p.Always = append(p.Always, j)
			} else {
				p.Never = append(p.Never, j)
			}
		}
	}
	return p, nil
}

// Bound is the first or last message of an archive (§5).
type Bound struct {
	ID    string
	Stamp time.Time
}

// Metadata describes an archive (§5): both bounds are zero for an empty
// archive.
type Metadata struct {
	Start, End Bound
}

// Element encodes m; an empty archive gives an empty <metadata/>.
func (m Metadata) Element() *stanza.Element {
	el := stanza.New(NS, "metadata")
	if m.Start.ID == "" {
		return el
	}
	return el.Append(
		stanza.New(NS, "start", "id", m.Start.ID, "timestamp", FormatTime(m.Start.Stamp)),
		stanza.New(NS, "end", "id", m.End.ID, "timestamp", FormatTime(m.End.Stamp)),
	)
}

// ParseMetadata decodes a <metadata/>.
func ParseMetadata(el *stanza.Element) (Metadata, error) {
	var m Metadata
	if el == nil || el.Name.Space != NS || el.Name.Local != "metadata" {
		return m, fmt.Errorf("mam: not a <metadata/>")
	}
	for _, b := range []struct {
		name string
		into *Bound
	}{{"start", &m.Start}, {"end", &m.End}} {
		c := el.Child(NS, b.name)
		if c == nil {
			continue
		}
		t, err := ParseTime(c.Get("timestamp"))
		if err != nil {
			return m, err
		}
		*b.into = Bound{ID: c.Get("id"), Stamp: t}
	}
	return m, nil
}
