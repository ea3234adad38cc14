package mam

import (
	"fmt"
	"strings"
	"time"

	"github.com/parley-xmpp/parley/xmpp/form"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/rsm"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// Namespaces and features.
const (
	// NS is the MAM namespace, feature and FORM_TYPE (XEP-0313).
	NS = "urn:xmpp:mam:2"
	// NSExtended is the feature of before-id, after-id, ids, flipped
	// pages and metadata (XEP-0313 §7).
	NSExtended = "urn:xmpp:mam:2#extended"
	// NSForward is the Stanza Forwarding namespace (XEP-0297).
	NSForward = "urn:xmpp:forward:0"
	// NSDelay is the Delayed Delivery namespace (XEP-0203).
	NSDelay = "urn:xmpp:delay"
)

// Form field vars of XEP-0313 §4.1.
const (
	FieldWith     = "with"
	FieldStart    = "start"
	FieldEnd      = "end"
	FieldBeforeID = "before-id"
	FieldAfterID  = "after-id"
	FieldIDs      = "ids"
)

// FormatTime writes a XEP-0082 DateTime in UTC with the fraction it needs.
func FormatTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.999999Z07:00")
}

// ParseTime reads a XEP-0082 DateTime.
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}, fmt.Errorf("mam: %q is not a XEP-0082 DateTime: %w", s, err)
	}
	return t, nil
}

// Query is an archive query (<query xmlns='urn:xmpp:mam:2'/> in an IQ set).
type Query struct {
	QueryID string
	// Filters of the data form; zero values mean "not given".
	With       jid.JID
	Start, End time.Time
	BeforeID   string
	AfterID    string
	IDs        []string
	// RSM is the paging request; RSM.Max and RSM.Index are -1 when absent.
	RSM rsm.Request
	// FlipPage asks for the page in reverse order (§4.3.4).
	FlipPage bool
}

// NewQuery returns a query with no filter and no paging.
func NewQuery() Query { return Query{RSM: rsm.NewRequest()} }

// Element encodes the query, with a data form when a filter is set and a
// <set/> when paging is asked for.
func (q Query) Element() *stanza.Element {
	el := stanza.New(NS, "query")
	el.Set("queryid", q.QueryID)
	if !q.With.IsZero() || !q.Start.IsZero() || !q.End.IsZero() || q.BeforeID != "" || q.AfterID != "" || len(q.IDs) > 0 {
		f := form.New(form.TypeSubmit, NS)
		if !q.With.IsZero() {
			f.Add(form.Field{Var: FieldWith, Values: []string{q.With.String()}})
		}
		if !q.Start.IsZero() {
			f.Add(form.Field{Var: FieldStart, Values: []string{FormatTime(q.Start)}})
		}
		if !q.End.IsZero() {
			f.Add(form.Field{Var: FieldEnd, Values: []string{FormatTime(q.End)}})
		}
		if q.BeforeID != "" {
			f.Add(form.Field{Var: FieldBeforeID, Values: []string{q.BeforeID}})
		}
		if q.AfterID != "" {
			f.Add(form.Field{Var: FieldAfterID, Values: []string{q.AfterID}})
		}
		if len(q.IDs) > 0 {
			f.Add(form.Field{Var: FieldIDs, Type: form.FieldListMulti, Values: q.IDs})
		}
		el.Append(f.Element())
	}
	if q.RSM.Max >= 0 || q.RSM.HasAfter || q.RSM.HasBefore || q.RSM.Index >= 0 {
		el.Append(q.RSM.Element())
	}
	if q.FlipPage {
		el.Append(stanza.New(NS, "flip-page"))
	}
	return el
}

// ParseQuery decodes a query. Its errors are *stanza.Error values:
// <bad-request/> for a malformed form or <set/>, <not-acceptable/> for a
// field value that does not parse (XEP-0004 §3.3), and
// <feature-not-implemented/> for a field the server does not know
// (XEP-0313 §4.1.5).
func ParseQuery(el *stanza.Element) (Query, error) {
	q := NewQuery()
	if el == nil || el.Name.Space != NS || el.Name.Local != "query" {
		return q, stanza.Errorf(stanza.BadRequest, "not a MAM query")
	}
	q.QueryID = el.Get("queryid")
	if el.Get("node") != "" {
		return q, stanza.Errorf(stanza.FeatureNotImplemented, "pubsub archives are not served here")
	}
	if set := el.Child(rsm.NS, "set"); set != nil {
		r, err := rsm.ParseRequest(set)
		if err != nil {
			return q, stanza.Errorf(stanza.BadRequest, "%v", err)
		}
		q.RSM = r
	}
	q.FlipPage = el.Child(NS, "flip-page") != nil
	x := el.Child(form.NS, "x")
	if x == nil {
		return q, nil
	}
	f, err := form.Parse(x)
	if err != nil {
		return q, stanza.Errorf(stanza.BadRequest, "%v", err)
	}
	if f.Type != form.TypeSubmit {
		return q, stanza.Errorf(stanza.BadRequest, "the filter form must be of type submit, not %q", f.Type)
	}
	if ft := f.FormType(); ft != NS {
		return q, stanza.Errorf(stanza.BadRequest, "FORM_TYPE %q is not %s", ft, NS)
	}
	for _, fd := range f.Fields {
		if err := q.setField(fd); err != nil {
			return q, err
		}
	}
	return q, nil
}

func (q *Query) setField(fd form.Field) error {
	single := func() (string, error) {
		if len(fd.Values) != 1 || strings.TrimSpace(fd.Values[0]) == "" {
			return "", stanza.Errorf(stanza.NotAcceptable, "field %q needs exactly one value", fd.Var)
		}
		return strings.TrimSpace(fd.Values[0]), nil
	}
	switch fd.Var {
	case form.FormTypeVar:
	case FieldWith:
		v, err := single()
		if err != nil {
			return err
		}
		j, perr := jid.Parse(v)
		if perr != nil {
			return stanza.Errorf(stanza.NotAcceptable, "'with' is not a JID: %v", perr)
		}
		q.With = j
	case FieldStart, FieldEnd:
		v, err := single()
		if err != nil {
			return err
		}
		t, perr := ParseTime(v)
		if perr != nil {
			return stanza.Errorf(stanza.NotAcceptable, "%q: %v", fd.Var, perr)
		}
		if fd.Var == FieldStart {
			q.Start = t
		} else {
			q.End = t
		}
	case FieldBeforeID:
		v, err := single()
		if err != nil {
			return err
		}
		q.BeforeID = v
	case FieldAfterID:
		v, err := single()
		if err != nil {
			return err
		}
		q.AfterID = v
	case FieldIDs:
		for _, v := range fd.Values {
			if v = strings.TrimSpace(v); v == "" {
				return stanza.Errorf(stanza.NotAcceptable, "empty value in 'ids'")
			}
			q.IDs = append(q.IDs, v)
		}
		if len(q.IDs) == 0 {
			return stanza.Errorf(stanza.NotAcceptable, "'ids' without values")
		}
	default:
		return stanza.Errorf(stanza.FeatureNotImplemented, "unknown filter field %q", fd.Var)
	}
	return nil
}

// QueryForm returns the form a server returns to an IQ get of <query/>
// (§4.1.6): every field it supports, none marked required.
func QueryForm() *stanza.Element {
	f := form.New(form.TypeForm, NS)
	f.Add(form.Field{Var: FieldWith, Type: form.FieldJIDSingle})
	f.Add(form.Field{Var: FieldStart, Type: form.FieldTextSingle})
	f.Add(form.Field{Var: FieldEnd, Type: form.FieldTextSingle})
	f.Add(form.Field{Var: FieldBeforeID, Type: form.FieldTextSingle})
	f.Add(form.Field{Var: FieldAfterID, Type: form.FieldTextSingle})
	validate := stanza.New("http://jabber.org/protocol/xdata-validate", "validate", "datatype", "xs:string")
	validate.Append(stanza.New("http://jabber.org/protocol/xdata-validate", "open"))
	f.Add(form.Field{Var: FieldIDs, Type: form.FieldListMulti, Extra: []*stanza.Element{validate}})
	return stanza.New(NS, "query").Append(f.Element())
}
