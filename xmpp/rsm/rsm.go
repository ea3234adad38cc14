package rsm

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// NS is the Result Set Management namespace (XEP-0059).
const NS = "http://jabber.org/protocol/rsm"

// ErrInvalid is wrapped by every decoding error of this package.
var ErrInvalid = errors.New("rsm: invalid result set element")

// Request is the <set/> of a request (XEP-0059 §2).
type Request struct {
	// Max is the page size; -1 when absent (the responder chooses).
	Max int
	// After is the UID the page starts after (§2.2); HasAfter tells an
	// absent <after/> from an empty one.
	After    string
	HasAfter bool
	// Before is the UID the page ends before (§2.3); HasBefore with an
	// empty Before asks for the last page (§2.5).
	Before    string
	HasBefore bool
	// Index is the index of the first item wanted (§2.6); -1 when absent.
	Index int
}

// NewRequest returns a request with no max and no index.
func NewRequest() Request { return Request{Max: -1, Index: -1} }

// Element encodes the request.
func (r Request) Element() *stanza.Element {
	set := stanza.New(NS, "set")
	if r.Max >= 0 {
		set.Append(stanza.New(NS, "max").AppendText(strconv.Itoa(r.Max)))
	}
	if r.HasAfter {
		set.Append(stanza.New(NS, "after").AppendText(r.After))
	}
	if r.HasBefore {
		set.Append(stanza.New(NS, "before").AppendText(r.Before))
	}
	if r.Index >= 0 {
		set.Append(stanza.New(NS, "index").AppendText(strconv.Itoa(r.Index)))
	}
	return set
}

// ParseRequest decodes the <set/> of a request. max and index must be
// non-negative integers; an empty <after/> is an error (an empty <before/>
// is the last-page request).
func ParseRequest(set *stanza.Element) (Request, error) {
	r := NewRequest()
	if set == nil || set.Name.Space != NS || set.Name.Local != "set" {
		return r, fmt.Errorf("%w: not an rsm <set/>", ErrInvalid)
	}
	for _, c := range set.Elements() {
		if c.Name.Space != NS {
			continue
		}
		switch c.Name.Local {
		case "max":
			n, err := nonNegative(c.Text())
			if err != nil {
				return r, fmt.Errorf("%w: <max/>: %w", ErrInvalid, err)
			}
			r.Max = n
		case "index":
			n, err := nonNegative(c.Text())
			if err != nil {
				return r, fmt.Errorf("%w: <index/>: %w", ErrInvalid, err)
			}
			r.Index = n
		case "after":
			r.After, r.HasAfter = c.Text(), true
			if r.After == "" {
				return r, fmt.Errorf("%w: empty <after/>", ErrInvalid)
			}
		case "before":
			r.Before, r.HasBefore = c.Text(), true
		}
	}
	return r, nil
}

func nonNegative(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a non-negative integer", s)
	}
	return n, nil
}

// Result is the <set/> of a response (XEP-0059 §2.1).
type Result struct {
	First      string
	FirstIndex int // -1: no index attribute
	Last       string
	Count      int // -1: no <count/>
}

// Element encodes the result. <first/> and <last/> are omitted for an
// empty page.
func (r Result) Element() *stanza.Element {
	set := stanza.New(NS, "set")
	if r.First != "" {
		first := stanza.New(NS, "first").AppendText(r.First)
		if r.FirstIndex >= 0 {
			first.Set("index", strconv.Itoa(r.FirstIndex))
		}
		set.Append(first)
	}
	if r.Last != "" {
		set.Append(stanza.New(NS, "last").AppendText(r.Last))
	}
	if r.Count >= 0 {
		set.Append(stanza.New(NS, "count").AppendText(strconv.Itoa(r.Count)))
	}
	return set
}

// ParseResult decodes the <set/> of a response.
func ParseResult(set *stanza.Element) (Result, error) {
	r := Result{FirstIndex: -1, Count: -1}
	if set == nil || set.Name.Space != NS || set.Name.Local != "set" {
		return r, fmt.Errorf("%w: not an rsm <set/>", ErrInvalid)
	}
	if first := set.Child(NS, "first"); first != nil {
		r.First = first.Text()
		if idx := first.Get("index"); idx != "" {
			n, err := nonNegative(idx)
			if err != nil {
				return r, fmt.Errorf("%w: <first index/>: %w", ErrInvalid, err)
			}
			r.FirstIndex = n
		}
	}
	r.Last = set.ChildText(NS, "last")
	if c := set.Child(NS, "count"); c != nil {
		n, err := nonNegative(c.Text())
		if err != nil {
			return r, fmt.Errorf("%w: <count/>: %w", ErrInvalid, err)
		}
		r.Count = n
	}
	return r, nil
}
