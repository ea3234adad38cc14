// Package loglevel makes the server's log levels adjustable at run time,
// for the whole server and per module: a slog.Handler wrapper reads the
// module of each logger (its "module" attribute, else its "component"
// attribute, as set with slog.Logger.With) and logs a record only at or
// above that module's level.
package loglevel

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
)

// Keys are the attributes naming a logger's module, the first present
// winning: router modules log with "module", the server's parts with
// "component".
var keys = [...]string{"module", "component"}

// Levels holds the default level and the per-module overrides. It is safe
// for concurrent use; reading a level costs one atomic load.
type Levels struct {
	mu  sync.Mutex // serialises writers
	cur atomic.Pointer[snapshot]
}

// snapshot is an immutable state of Levels.
type snapshot struct {
	def  slog.Level
	mods map[string]slog.Level
}

// New returns Levels with the default level def and no overrides.
func New(def slog.Level) *Levels {
	l := &Levels{}
	l.cur.Store(&snapshot{def: def})
	return l
}

// Default returns the level of modules without an override.
func (l *Levels) Default() slog.Level { return l.cur.Load().def }

// SetDefault sets the level of modules without an override.
func (l *Levels) SetDefault(lvl slog.Level) {
	l.mu.Lock()
	defer l.mu.Unlock()
	old := l.cur.Load()
	l.cur.Store(&snapshot{def: lvl, mods: old.mods})
}

// Set overrides the level of one module.
func (l *Levels) Set(module string, lvl slog.Level) {
	l.mu.Lock()
	defer l.mu.Unlock()
	old := l.cur.Load()
	mods := maps.Clone(old.mods)
	if mods == nil {
		mods = make(map[string]slog.Level)
	}
	mods[module] = lvl
	l.cur.Store(&snapshot{def: old.def, mods: mods})
}

// Reset removes the override of one module: it logs at the default level
// again.
func (l *Levels) Reset(module string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	old := l.cur.Load()
	mods := maps.Clone(old.mods)
	delete(mods, module)
	l.cur.Store(&snapshot{def: old.def, mods: mods})
}

// Level returns the level of module ("" is the default).
func (l *Levels) Level(module string) slog.Level {
	s := l.cur.Load()
	if lvl, ok := s.mods[module]; ok {
		return lvl
	}
	return s.def
}

// Overrides returns a copy of the per-module levels.
func (l *Levels) Overrides() map[string]slog.Level { return maps.Clone(l.cur.Load().mods) }

// Min returns the lowest level any module logs at.
func (l *Levels) Min() slog.Level {
	s := l.cur.Load()
	m := s.def
	for _, lvl := range s.mods {
		m = min(m, lvl)
	}
	return m
}

// Handler wraps next so that records are filtered by the levels of l.
// next should accept every level (its own minimum at or below the
// lowest level l may be set to, such as slog.LevelDebug).
func (l *Levels) Handler(next slog.Handler) slog.Handler {
	return &handler{next: next, levels: l}
}

// Parse parses a level name: debug, info, warn or error (any case).
func Parse(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("loglevel: %q is not a level (debug, info, warn or error)", s)
}

// Name returns the lower-case name of lvl (debug, info, warn, error).
func Name(lvl slog.Level) string { return strings.ToLower(lvl.String()) }

// handler filters the records of one logger by its module's level.
type handler struct {
	next   slog.Handler
	levels *Levels
	module string
	// named: a "module" attribute set the module, which a later
	// "component" attribute does not override.
	named bool
}

// Enabled implements slog.Handler.
func (h *handler) Enabled(ctx context.Context, lvl slog.Level) bool {
	return lvl >= h.levels.Level(h.module) && h.next.Enabled(ctx, lvl)
}

// Handle implements slog.Handler.
func (h *handler) Handle(ctx context.Context, r slog.Record) error { return h.next.Handle(ctx, r) }

// WithAttrs implements slog.Handler: a "module" or "component" attribute
// names the logger's module.
func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.next = h.next.WithAttrs(attrs)
	for _, a := range attrs {
		switch a.Key {
		case keys[0]:
			c.module, c.named = a.Value.String(), true
		case keys[1]:
			if !c.named {
				c.module = a.Value.String()
			}
		}
	}
	return &c
}

// WithGroup implements slog.Handler.
func (h *handler) WithGroup(name string) slog.Handler {
	c := *h
	c.next = h.next.WithGroup(name)
	return &c
}
