package turn

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// logFactory hands pion's loggers to slog: its traces and debug lines
// (several per relayed packet) are dropped, its errors are warnings (they
// concern one client's packets, not the server).
type logFactory struct{ log *slog.Logger }

// NewLogger implements logging.LoggerFactory.
func (f logFactory) NewLogger(scope string) logging.LeveledLogger {
	return pionLog{f.log.With("pion", scope)}
}

type pionLog struct{ log *slog.Logger }

func (l pionLog) at(level slog.Level, format string, args ...any) {
	if !l.log.Enabled(context.Background(), level) {
		return
	}
	if len(args) > 0 {
		format = fmt.Sprintf(format, args...)
	}
	l.log.Log(context.Background(), level, "turn: "+format)
}

func (pionLog) Trace(string)                        {}
func (pionLog) Tracef(string, ...any)               {}
func (pionLog) Debug(string)                        {}
func (pionLog) Debugf(string, ...any)               {}
func (l pionLog) Info(msg string)                   { l.at(slog.LevelInfo, "%s", msg) }
func (l pionLog) Infof(format string, args ...any)  { l.at(slog.LevelInfo, format, args...) }
func (l pionLog) Warn(msg string)                   { l.at(slog.LevelWarn, "%s", msg) }
func (l pionLog) Warnf(format string, args ...any)  { l.at(slog.LevelWarn, format, args...) }
func (l pionLog) Error(msg string)                  { l.at(slog.LevelWarn, "%s", msg) }
func (l pionLog) Errorf(format string, args ...any) { l.at(slog.LevelWarn, format, args...) }
