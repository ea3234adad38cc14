package logring_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/server/logring"
)

// TestRing: warnings and errors are kept, newest first, up to the
// ring's size; info is not; every record still reaches the wrapped
// handler at its own level; secrets are redacted.
func TestRing(t *testing.T) {
	var out bytes.Buffer
	r := logring.New(3)
	log := slog.New(r.Handler(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelError})))
	log = log.With("component", "s2s").WithGroup("peer")
	log.Info("not kept")
	log.Warn("one", "password", "hunter2")
	log.Warn("two", slog.Group("sasl", "token", "abc"))
	log.Error("three", "remote", "a b")
	log.Error("four", "n", 4)
	recs := r.Records()
	if len(recs) != 3 {
		t.Fatalf("records: %+v", recs)
	}
	var got []string
	for _, rec := range recs {
		got = append(got, fmt.Sprintf("%s %s %s", rec.Level, rec.Message, rec.Attrs))
	}
	want := []string{
		"ERROR four component=s2s peer.n=4",
		`ERROR three component=s2s peer.remote="a b"`,
		"WARN two component=s2s peer.sasl.token=[redacted]",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The wrapped handler logs at its own level: errors only.
	if s := out.String(); strings.Contains(s, "msg=one") || strings.Contains(s, "not kept") || !strings.Contains(s, "four") {
		t.Errorf("wrapped output:\n%s", s)
	}
	if s := out.String(); strings.Contains(s, "hunter2") {
		t.Errorf("a secret in the output: %s", s)
	}
}

// TestBounded: a huge record is cut.
func TestBounded(t *testing.T) {
	r := logring.New(1)
	slog.New(r.Handler(slog.DiscardHandler)).Warn(strings.Repeat("é", 5000), "v", strings.Repeat("x", 10000))
	rec := r.Records()[0]
	if len(rec.Message) > 2100 || len(rec.Attrs) > 2100 {
		t.Errorf("record of %d+%d bytes", len(rec.Message), len(rec.Attrs))
	}
}
