package sm

import (
	"fmt"
	"strconv"

	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// NS is the XEP-0198 namespace.
const NS = "urn:xmpp:sm:3"

// Element names of the namespace.
const (
	NameFeature             = "sm"
	NameEnable              = "enable"
	NameEnabled             = "enabled"
	NameResume              = "resume"
	NameResumed             = "resumed"
	NameFailed              = "failed"
	NameRequest             = "r"
	NameAck                 = "a"
	NameHandledCountTooHigh = "handled-count-too-high"
)

// Is reports whether el is the element local of the namespace.
func Is(el *stanza.Element, local string) bool {
	return el != nil && el.Name.Space == NS && el.Name.Local == local
}

// Feature returns the <sm/> stream feature.
func Feature() *stanza.Element { return stanza.New(NS, NameFeature) }

// Delta returns how far h is ahead of base, modulo 2^32: the number of
// stanzas an ack of h acknowledges when base was acknowledged before.
func Delta(h, base uint32) uint32 { return h - base }

// ParseBool reads an XML Schema boolean ("true", "1", "false", "0"); an
// absent attribute is false.
func ParseBool(s string) (bool, error) {
	switch s {
	case "true", "1":
		return true, nil
	case "", "false", "0":
		return false, nil
	}
	return false, fmt.Errorf("sm: %q is not a boolean", s)
}

// ParseH reads the 'h' attribute of el, an unsigned 32-bit integer.
func ParseH(el *stanza.Element) (uint32, error) {
	s := el.Get("h")
	if s == "" {
		return 0, fmt.Errorf("sm: <%s/> without 'h'", el.Name.Local)
	}
	h, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("sm: 'h' of <%s/>: %w", el.Name.Local, err)
	}
	return uint32(h), nil
}

// Enable is the client's <enable/> request.
type Enable struct {
	Resume bool // the client wants to be able to resume
	Max    int  // preferred maximum resumption time in seconds; 0: none
}

// ParseEnable reads an <enable/> element.
func ParseEnable(el *stanza.Element) (Enable, error) {
	var e Enable
	if !Is(el, NameEnable) {
		return e, fmt.Errorf("sm: not an <enable/>: <%s/>", el.Name.Local)
	}
	r, err := ParseBool(el.Get("resume"))
	if err != nil {
		return e, fmt.Errorf("sm: 'resume' of <enable/>: %w", err)
	}
	e.Resume = r
	if m := el.Get("max"); m != "" {
		n, err := strconv.ParseUint(m, 10, 31)
		if err != nil {
			return e, fmt.Errorf("sm: 'max' of <enable/>: %w", err)
		}
		e.Max = int(n)
	}
	return e, nil
}

// Element returns the <enable/> element.
func (e Enable) Element() *stanza.Element {
	el := stanza.New(NS, NameEnable)
	if e.Resume {
		el.Set("resume", "true")
	}
	if e.Max > 0 {
		el.Set("max", strconv.Itoa(e.Max))
	}
	return el
}

// Enabled is the server's <enabled/> answer.
type Enabled struct {
	ID       string // the SM-ID, required for resumption
	Resume   bool
	Max      int    // the server's maximum resumption time in seconds; 0: none given
	Location string // preferred reconnection address, optional
}

// ParseEnabled reads an <enabled/> element.
func ParseEnabled(el *stanza.Element) (Enabled, error) {
	var e Enabled
	if !Is(el, NameEnabled) {
		return e, fmt.Errorf("sm: not an <enabled/>: <%s/>", el.Name.Local)
	}
	r, err := ParseBool(el.Get("resume"))
	if err != nil {
		return e, fmt.Errorf("sm: 'resume' of <enabled/>: %w", err)
	}
	e.Resume, e.ID, e.Location = r, el.Get("id"), el.Get("location")
	if m := el.Get("max"); m != "" {
		n, err := strconv.ParseUint(m, 10, 31)
		if err != nil {
			return e, fmt.Errorf("sm: 'max' of <enabled/>: %w", err)
		}
		e.Max = int(n)
	}
	if e.Resume && e.ID == "" {
		return e, fmt.Errorf("sm: <enabled resume='true'/> without an id")
	}
	return e, nil
}

// Element returns the <enabled/> element.
func (e Enabled) Element() *stanza.Element {
	el := stanza.New(NS, NameEnabled)
	if e.ID != "" {
		el.Set("id", e.ID)
	}
	if e.Resume {
		el.Set("resume", "true")
	}
	if e.Max > 0 {
		el.Set("max", strconv.Itoa(e.Max))
	}
	if e.Location != "" {
		el.Set("location", e.Location)
	}
	return el
}

// Resume is the client's <resume/> request, and Resumed the server's
// answer: PrevID names the former stream and H counts the stanzas the
// sender handled on it.
type Resume struct {
	PrevID string
	H      uint32
}

// ParseResume reads a <resume/> or <resumed/> element.
func ParseResume(el *stanza.Element) (Resume, error) {
	var r Resume
	if !Is(el, NameResume) && !Is(el, NameResumed) {
		return r, fmt.Errorf("sm: not a <resume/> or <resumed/>: <%s/>", el.Name.Local)
	}
	r.PrevID = el.Get("previd")
	if r.PrevID == "" {
		return r, fmt.Errorf("sm: <%s/> without 'previd'", el.Name.Local)
	}
	h, err := ParseH(el)
	if err != nil {
		return r, err
	}
	r.H = h
	return r, nil
}

// Element returns the <resume/> element.
func (r Resume) Element() *stanza.Element {
	return stanza.New(NS, NameResume, "previd", r.PrevID, "h", strconv.FormatUint(uint64(r.H), 10))
}

// ResumedElement returns the <resumed/> element.
func (r Resume) ResumedElement() *stanza.Element {
	return stanza.New(NS, NameResumed, "previd", r.PrevID, "h", strconv.FormatUint(uint64(r.H), 10))
}

// Failed is a <failed/> answer to <enable/> or <resume/>: a stanza error
// condition (XEP-0198 §6) and, optionally, the count of stanzas the server
// handled on a former stream.
type Failed struct {
	Condition stanza.Condition
	H         uint32
	HasH      bool
}

// Error implements error.
func (f Failed) Error() string { return "sm: failed: " + string(f.Condition) }

// ParseFailed reads a <failed/> element.
func ParseFailed(el *stanza.Element) (Failed, error) {
	var f Failed
	if !Is(el, NameFailed) {
		return f, fmt.Errorf("sm: not a <failed/>: <%s/>", el.Name.Local)
	}
	for _, c := range el.Elements() {
		if c.Name.Space == stanza.NSStanzas && c.Name.Local != "text" {
			f.Condition = stanza.Condition(c.Name.Local)
			break
		}
	}
	if f.Condition == "" {
		f.Condition = stanza.UndefinedCondition
	}
	if el.Has("h") {
		h, err := ParseH(el)
		if err != nil {
			return f, err
		}
		f.H, f.HasH = h, true
	}
	return f, nil
}

// Element returns the <failed/> element.
func (f Failed) Element() *stanza.Element {
	el := stanza.New(NS, NameFailed)
	if f.HasH {
		el.Set("h", strconv.FormatUint(uint64(f.H), 10))
	}
	c := f.Condition
	if c == "" {
		c = stanza.UndefinedCondition
	}
	return el.Append(stanza.New(stanza.NSStanzas, string(c)))
}

// Request returns an ack request <r/>.
func Request() *stanza.Element { return stanza.New(NS, NameRequest) }

// Ack returns an ack <a h/>.
func Ack(h uint32) *stanza.Element {
	return stanza.New(NS, NameAck, "h", strconv.FormatUint(uint64(h), 10))
}

// HandledCountTooHigh returns the stream error of XEP-0198 §6 for a peer
// that acknowledged h stanzas when only sent were sent.
func HandledCountTooHigh(h, sent uint32) *stream.Error {
	return &stream.Error{
		Condition: stream.UndefinedCondition,
		Text:      fmt.Sprintf("You acknowledged %d stanzas, but I only sent you %d so far.", h, sent),
		App: stanza.New(NS, NameHandledCountTooHigh,
			"h", strconv.FormatUint(uint64(h), 10), "send-count", strconv.FormatUint(uint64(sent), 10)),
	}
}
