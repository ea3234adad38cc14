package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/server/config"
)

// TestServeLoggerKeepsWarnings: the server's logger keeps its warnings
// and errors for the web admin pages whatever its levels, and writes
// only what its levels allow.
func TestServeLoggerKeepsWarnings(t *testing.T) {
	cfg := config.Default()
	cfg.Log.Level = slog.LevelError
	var out bytes.Buffer
	log, levels, recent := newLeveledLogger(cfg, &out)
	log = log.With("component", "s2s")
	log.Warn("dialback failed", "remote", "example.net", "secret", "s3cr3t")
	log.Info("not kept")
	levels.Set("s2s", slog.LevelDebug)
	log.Debug("written, not kept")
	recs := recent.Records()
	if len(recs) != 1 || recs[0].Message != "dialback failed" || !strings.Contains(recs[0].Attrs, "secret=[redacted]") {
		t.Fatalf("kept: %+v", recs)
	}
	if s := out.String(); strings.Contains(s, "dialback failed") || !strings.Contains(s, "written, not kept") {
		t.Errorf("written:\n%s", s)
	}
}
