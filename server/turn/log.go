package turn

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// logFactory hands pion's loggers to slog: its traces are dropped, its
// errors are warnings (they concern one client's packets, not the server).
type logFactory struct{ log *slog.Logger }

// NewLogger implements logging.LoggerFactory.
func (f logFactory) NewLogger(scope string) logging.LeveledLogger {
	return pionLog{f.log.With("pion", scope)}
}

type pionLog struct{ log *slog.Logger }

func (l pionLog) at(level slog.Level, msg string) {
	l.log.Log(context.Background(), level, "turn: "+msg)
}

func (pionLog) Trace(string)          {}
func (pionLog) Tracef(string, ...any) {}
func (l pionLog) Debug(msg string)    { l.at(slog.LevelDebug, msg) }
func (l pionLog) Debugf(format string, args ...any) {
	l.at(slog.LevelDebug, fmt.Sprintf(format, args...))
}
func (l pionLog) Info(msg string) { l.at(slog.LevelInfo, msg) }
func (l pionLog) Infof(format string, args ...any) {
	l.at(slog.LevelInfo, fmt.Sprintf(format, args...))
}
func (l pionLog) Warn(msg string) { l.at(slog.LevelWarn, msg) }
func (l pionLog) Warnf(format string, args ...any) {
	l.at(slog.LevelWarn, fmt.Sprintf(format, args...))
}
func (l pionLog) Error(msg string) { l.at(slog.LevelWarn, msg) }
func (l pionLog) Errorf(format string, args ...any) {
	l.at(slog.LevelWarn, fmt.Sprintf(format, args...))
}
