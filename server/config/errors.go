package config

import (
	"fmt"
	"strings"
)

// Error is one configuration problem, located in the source file.
type Error struct {
	// File is the name of the configuration file ("" when the problem was
	// found by [Config.Validate] on a value not read from a file).
	File string
	// Line and Column are the 1-based position of the offending key or
	// list item; 0 when unknown.
	Line, Column int
	// Key is the dotted path of the offending key, such as
	// "limits.max_stanza_bytes" or "listeners[1].address"; "" for
	// problems with the file as a whole (such as YAML syntax errors).
	Key string
	// Reason says what is wrong, such as "must be at least 1024".
	Reason string
}

// Error formats the problem as "file:line:col: key: reason", leaving out
// the parts that are unknown.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
			if e.Column > 0 {
				fmt.Fprintf(&b, ":%d", e.Column)
			}
		}
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	return b.String()
}

// Errors is a list of configuration problems, in file order. It is
// returned when a file has more than one problem.
type Errors []*Error

// Error formats the problems one per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the individual problems so that errors.As and errors.Is
// look into them.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// asError returns nil for no problems, the single [*Error] for one problem,
// and an [Errors] for more.
func asError(es []*Error) error {
	switch len(es) {
	case 0:
		return nil
	case 1:
		return es[0]
	default:
		return Errors(es)
	}
}
