package loglevel_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/server/loglevel"
)

// TestModuleLevels: a module's override changes what its loggers write,
// not what the others write; Reset brings it back to the default.
func TestModuleLevels(t *testing.T) {
	var buf bytes.Buffer
	lv := loglevel.New(slog.LevelInfo)
	log := slog.New(lv.Handler(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	router := log.With("component", "router")
	muc := log.With("component", "router").With("module", "muc")
	emit := func() string {
		buf.Reset()
		router.Debug("router-debug")
		muc.Debug("muc-debug")
		muc.Info("muc-info")
		log.Debug("root-debug")
		return buf.String()
	}
	if out := emit(); strings.Contains(out, "debug") || !strings.Contains(out, "muc-info") {
		t.Errorf("default info: %q", out)
	}
	lv.Set("muc", slog.LevelDebug)
	if out := emit(); !strings.Contains(out, "muc-debug") || strings.Contains(out, "router-debug") || strings.Contains(out, "root-debug") {
		t.Errorf("muc at debug: %q", out)
	}
	lv.Set("muc", slog.LevelError)
	if out := emit(); out != "" {
		t.Errorf("muc at error: %q", out)
	}
	lv.Reset("muc")
	lv.SetDefault(slog.LevelDebug)
	if out := emit(); !strings.Contains(out, "router-debug") || !strings.Contains(out, "muc-debug") || !strings.Contains(out, "root-debug") {
		t.Errorf("default debug: %q", out)
	}
	if lv.Min() != slog.LevelDebug || len(lv.Overrides()) != 0 {
		t.Errorf("Min %v, overrides %v", lv.Min(), lv.Overrides())
	}
}

func TestParse(t *testing.T) {
	for s, want := range map[string]slog.Level{"debug": slog.LevelDebug, "INFO": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError} {
		if got, err := loglevel.Parse(s); err != nil || got != want {
			t.Errorf("Parse(%q) = %v, %v", s, got, err)
		}
	}
	if _, err := loglevel.Parse("loud"); err == nil {
		t.Error("Parse(loud) succeeded")
	}
}
