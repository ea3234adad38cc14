package stream

import (
	"context"
	"log/slog"
)

// connLog logs for one connection: each record carries the connection's
// attributes — the client's address, then the authenticated user and the
// bound JID once there are — added when a record is written rather than
// kept preformatted in a logger derived with With for every connection
// (three derivations cost an idle session over a kilobyte of heap).
// Records below the logger's level cost nothing; the zero connLog (a
// conn made without newConn, in tests) discards them.
type connLog struct{ c *conn }

// Debug logs at debug level.
func (l connLog) Debug(msg string, args ...any) { l.log(slog.LevelDebug, msg, args) }

// Info logs at info level.
func (l connLog) Info(msg string, args ...any) { l.log(slog.LevelInfo, msg, args) }

// Warn logs at warning level.
func (l connLog) Warn(msg string, args ...any) { l.log(slog.LevelWarn, msg, args) }

// Error logs at error level.
func (l connLog) Error(msg string, args ...any) { l.log(slog.LevelError, msg, args) }

func (l connLog) log(level slog.Level, msg string, args []any) {
	c := l.c
	if c == nil || c.cfg.Log == nil {
		return
	}
	lg := c.cfg.Log
	ctx := context.Background()
	if !lg.Enabled(ctx, level) {
		return
	}
	all := make([]any, 0, 6+len(args))
	all = append(all, "remote", c.t.RemoteAddr())
	if c.logUser {
		all = append(all, "user", c.user.String())
	}
	if c.fullJID != "" {
		all = append(all, "jid", c.fullJID)
	}
	lg.Log(ctx, level, msg, append(all, args...)...)
}
