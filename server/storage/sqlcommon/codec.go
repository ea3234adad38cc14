package sqlcommon

import (
	"fmt"
	"strings"
	"time"

	"github.com/parley-xmpp/parley/xmpp/jid"
)

// UserKey is the database key of user: its bare JID.
func UserKey(user jid.JID) string { return user.Bare().String() }

// Nanos converts t to UTC Unix nanoseconds, the way times are stored.
func Nanos(t time.Time) int64 { return t.UTC().UnixNano() }

// FromNanos converts stored UTC Unix nanoseconds back to a time in UTC.
func FromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// NonNil returns b, or an empty non-nil slice, so that NOT NULL byte
// columns take an empty value.
func NonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// ParseJID parses a stored JID; what names it in the error.
func (d Dialect) ParseJID(s, what string) (jid.JID, error) {
	j, err := jid.Parse(s)
	if err != nil {
		return jid.JID{}, fmt.Errorf("%s: stored %s %q: %w", d.Name, what, s, err)
	}
	return j, nil
}

// ParseJIDs parses a list of stored JIDs; nil for an empty list.
func (d Dialect) ParseJIDs(ss []string, what string) ([]jid.JID, error) {
	var out []jid.JID
	for _, s := range ss {
		j, err := d.ParseJID(s, what)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, nil
}

// JIDStrings is the string form of each JID of js.
func JIDStrings(js []jid.JID) []string {
	out := make([]string, len(js))
	for i, j := range js {
		out[i] = j.String()
	}
	return out
}

// JoinJIDs stores a JID list in one text column, a JID a line (a JID has
// no newline); SplitJIDs reads it back.
func JoinJIDs(js []jid.JID) string { return strings.Join(JIDStrings(js), "\n") }

// SplitJIDs reads a list stored by JoinJIDs.
func (d Dialect) SplitJIDs(s, what string) ([]jid.JID, error) {
	if s == "" {
		return nil, nil
	}
	return d.ParseJIDs(strings.Split(s, "\n"), what)
}

// jidList is a stored JID list as scanned: a text array where the
// dialect has arrays, one text a JID a line (JoinJIDs) otherwise.
type jidList struct {
	arr  []string
	text string
}

// jidListDest is the scan destination of l in the dialect.
func (d Dialect) jidListDest(l *jidList) any {
	if d.Arrays {
		return &l.arr
	}
	return &l.text
}

// jids parses a scanned list; what names its JIDs in errors.
func (d Dialect) jids(l jidList, what string) ([]jid.JID, error) {
	if d.Arrays {
		return d.ParseJIDs(l.arr, what)
	}
	return d.SplitJIDs(l.text, what)
}

// jidListArg is how js is stored in the dialect.
func (d Dialect) jidListArg(js []jid.JID) any {
	if d.Arrays {
		return JIDStrings(js)
	}
	return JoinJIDs(js)
}

// ScanJID reads a row of one stored JID; what names it in errors.
func (d Dialect) ScanJID(what string) func(Row) (jid.JID, error) {
	return func(row Row) (jid.JID, error) {
		var s string
		if err := row.Scan(&s); err != nil {
			return jid.JID{}, err
		}
		return d.ParseJID(s, what)
	}
}
