// Package logring keeps the server's most recent warnings and errors in
// memory, for the web admin pages (server/webadmin): a slog.Handler
// wrapper records each record of level WARN or above in a ring buffer of
// fixed size, then passes every record on to the handler it wraps.
//
// Attributes whose key names a secret (password, token, secret, …) are
// kept as "[redacted]", and each record's text is bounded in bytes, so
// the ring is bounded in bytes too.
package logring

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// DefaultSize is the number of records a ring keeps by default.
const DefaultSize = 200

// maxText bounds the stored text of one record (message and
// attributes), in bytes.
const maxText = 2048

// Record is one kept log record.
type Record struct {
	Time    time.Time
	Level   slog.Level
	Message string
	// Attrs are the record's attributes as key=value text, secrets
	// redacted.
	Attrs string
}

// Ring keeps the last records of level WARN or above.
type Ring struct {
	mu    sync.Mutex
	recs  []Record // a ring: next is the oldest once full
	next  int
	full  bool
	level slog.Level
}

// New returns a ring of size records (DefaultSize if size < 1).
func New(size int) *Ring {
	if size < 1 {
		size = DefaultSize
	}
	return &Ring{recs: make([]Record, size), level: slog.LevelWarn}
}

// Records returns the kept records, newest first.
func (r *Ring) Records() []Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Record
	if r.full {
		out = append(out, r.recs[r.next:]...)
	}
	out = append(out, r.recs[:r.next]...)
	slices.Reverse(out)
	return out
}

func (r *Ring) add(rec Record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs[r.next] = rec
	r.next++
	if r.next == len(r.recs) {
		r.next, r.full = 0, true
	}
}

// Handler wraps next: records of level WARN or above are kept in r, and
// every record is passed on to next as it would be without r.
func (r *Ring) Handler(next slog.Handler) slog.Handler {
	return &handler{ring: r, next: next}
}

type handler struct {
	ring   *Ring
	next   slog.Handler
	prefix string // the WithGroup/WithAttrs attributes, as text
	group  string // the open group, "a.b."
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.ring.level || h.next.Enabled(ctx, l)
}

func (h *handler) Handle(ctx context.Context, rec slog.Record) error {
	if rec.Level >= h.ring.level {
		var b strings.Builder
		b.WriteString(h.prefix)
		rec.Attrs(func(a slog.Attr) bool {
			writeAttr(&b, h.group, a)
			return b.Len() < maxText
		})
		h.ring.add(Record{Time: rec.Time, Level: rec.Level, Message: bound(rec.Message, maxText), Attrs: bound(strings.TrimSpace(b.String()), maxText)})
	}
	if !h.next.Enabled(ctx, rec.Level) {
		return nil
	}
	return h.next.Handle(ctx, rec)
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	var b strings.Builder
	b.WriteString(h.prefix)
	for _, a := range attrs {
		writeAttr(&b, h.group, a)
	}
	return &handler{ring: h.ring, next: h.next.WithAttrs(attrs), prefix: bound(b.String(), maxText), group: h.group}
}

func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &handler{ring: h.ring, next: h.next.WithGroup(name), prefix: h.prefix, group: h.group + name + "."}
}

// writeAttr writes " key=value" (groups flattened to "g.key"), with
// the value of a secret's key redacted.
func writeAttr(b *strings.Builder, group string, a slog.Attr) {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		g := group
		if a.Key != "" {
			g += a.Key + "."
		}
		for _, ga := range v.Group() {
			writeAttr(b, g, ga)
		}
		return
	}
	if a.Key == "" {
		return
	}
	b.WriteByte(' ')
	b.WriteString(group)
	b.WriteString(a.Key)
	b.WriteByte('=')
	if Secret(a.Key) {
		b.WriteString("[redacted]")
		return
	}
	s := v.String()
	if strings.ContainsAny(s, " \t\n\"=") || s == "" {
		s = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\t", `\t`).Replace(s) + `"`
	}
	b.WriteString(s)
}

// secretWords are parts of an attribute key that name a secret.
var secretWords = []string{"password", "passwd", "secret", "token", "cookie", "authorization", "credential", "key"}

// Secret reports whether an attribute key names a secret, whose value
// is never kept: it contains password, secret, token, cookie, key, …
// (case-insensitive).
func Secret(key string) bool {
	k := strings.ToLower(key)
	for _, w := range secretWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// bound cuts s to at most n bytes, on a rune boundary, marking the cut.
func bound(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8Start(c byte) bool { return c&0xC0 != 0x80 }
