package adhoc

import (
	"errors"
	"fmt"

	"github.com/parley-xmpp/parley/xmpp/form"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// NS is the XEP-0050 namespace; it is also the disco node listing an
// entity's commands (§2.2).
const NS = "http://jabber.org/protocol/commands"

// ErrInvalid is wrapped by every decoding error of this package.
var ErrInvalid = errors.New("adhoc: invalid command")

// Action is the action attribute of a request (XEP-0050 §4.1).
type Action string

// Actions.
const (
	ActionExecute  Action = "execute"
	ActionCancel   Action = "cancel"
	ActionPrev     Action = "prev"
	ActionNext     Action = "next"
	ActionComplete Action = "complete"
)

// Status is the status attribute of a response (XEP-0050 §4.1).
type Status string

// Statuses.
const (
	StatusExecuting Status = "executing"
	StatusCompleted Status = "completed"
	StatusCanceled  Status = "canceled"
)

// NoteType is the severity of a note (XEP-0050 §4.3).
type NoteType string

// Note types.
const (
	NoteInfo  NoteType = "info"
	NoteWarn  NoteType = "warn"
	NoteError NoteType = "error"
)

// Note is a <note/> of a response.
type Note struct {
	Type NoteType
	Text string
}

// Actions is the <actions/> element of a response: the actions allowed at
// this stage and which one "execute" means (XEP-0050 §4.2).
type Actions struct {
	Execute Action // empty: not stated (clients then assume "next")
	Allowed []Action
}

// Command is a <command/> element, request or response.
type Command struct {
	Node      string
	SessionID string
	Action    Action // requests; empty means execute
	Status    Status // responses
	Lang      string
	Actions   *Actions
	Notes     []Note
	Form      *form.Form
}

// Element returns the <command/> element.
func (c *Command) Element() *stanza.Element {
	el := stanza.New(NS, "command", "node", c.Node)
	el.Set("sessionid", c.SessionID)
	el.Set("action", string(c.Action))
	el.Set("status", string(c.Status))
	el.SetNS(stanza.NSXML, "lang", c.Lang)
	if c.Actions != nil {
		a := stanza.New(NS, "actions")
		a.Set("execute", string(c.Actions.Execute))
		for _, x := range c.Actions.Allowed {
			a.Append(stanza.New(NS, string(x)))
		}
		el.Append(a)
	}
	if c.Form != nil {
		el.Append(c.Form.Element())
	}
	for _, n := range c.Notes {
		ne := stanza.New(NS, "note")
		ne.Set("type", string(n.Type))
		el.Append(ne.AppendText(n.Text))
	}
	return el
}

// Parse decodes a <command/> element. A missing node, an unknown action or
// status, an unknown note type or a malformed data form is an error
// wrapping ErrInvalid; errors.Is(err, ErrMalformedAction) tells an unknown
// action apart (XEP-0050 §4.4 <malformed-action/>).
func Parse(el *stanza.Element) (*Command, error) {
	if el == nil || el.Name.Space != NS || el.Name.Local != "command" {
		return nil, fmt.Errorf("%w: not a command element", ErrInvalid)
	}
	c := &Command{
		Node:      el.Get("node"),
		SessionID: el.Get("sessionid"),
		Action:    Action(el.Get("action")),
		Status:    Status(el.Get("status")),
		Lang:      el.Lang(),
	}
	if c.Node == "" {
		return nil, fmt.Errorf("%w: command without node", ErrInvalid)
	}
	if el.Has("sessionid") && c.SessionID == "" {
		return nil, fmt.Errorf("%w: empty sessionid", ErrInvalid)
	}
	switch c.Action {
	case "", ActionExecute, ActionCancel, ActionPrev, ActionNext, ActionComplete:
	default:
		return nil, fmt.Errorf("%w: %w %q", ErrInvalid, ErrMalformedAction, c.Action)
	}
	switch c.Status {
	case "", StatusExecuting, StatusCompleted, StatusCanceled:
	default:
		return nil, fmt.Errorf("%w: unknown status %q", ErrInvalid, c.Status)
	}
	for _, ch := range el.Elements() {
		switch {
		case ch.Name.Space == NS && ch.Name.Local == "actions":
			a := &Actions{Execute: Action(ch.Get("execute"))}
			for _, x := range ch.Elements() {
				if x.Name.Space == NS {
					a.Allowed = append(a.Allowed, Action(x.Name.Local))
				}
			}
			c.Actions = a
		case ch.Name.Space == NS && ch.Name.Local == "note":
			t := NoteType(ch.Get("type"))
			switch t {
			case "":
				t = NoteInfo
			case NoteInfo, NoteWarn, NoteError:
			default:
				return nil, fmt.Errorf("%w: unknown note type %q", ErrInvalid, t)
			}
			c.Notes = append(c.Notes, Note{Type: t, Text: ch.Text()})
		case ch.Name.Space == form.NS && ch.Name.Local == "x" && c.Form == nil:
			f, err := form.Parse(ch)
			if err != nil {
				return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
			}
			c.Form = f
		}
	}
	return c, nil
}

// ErrMalformedAction is wrapped by Parse's error for an unknown action.
var ErrMalformedAction = errors.New("malformed action")

// Specific error conditions of XEP-0050 §4.4.
const (
	MalformedAction = "malformed-action"
	BadAction       = "bad-action"
	BadLocale       = "bad-locale"
	BadPayload      = "bad-payload"
	BadSessionID    = "bad-sessionid"
	SessionExpired  = "session-expired"
)

// Error returns the stanza error XEP-0050 §4.4 defines for a specific
// condition: <bad-request/> with it, or <not-allowed/> for
// session-expired. text may be empty.
func Error(specific, text string) *stanza.Error {
	cond := stanza.BadRequest
	if specific == SessionExpired {
		cond = stanza.NotAllowed
	}
	e := &stanza.Error{Condition: cond, Text: text, App: stanza.New(NS, specific)}
	if cond == stanza.NotAllowed {
		e.Type = stanza.ErrCancel
	} else {
		e.Type = stanza.ErrModify
	}
	return e
}
