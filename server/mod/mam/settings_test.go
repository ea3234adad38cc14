package mam

import (
	"errors"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/mam"
)

// configure parses src and hands its modules.mam section to m.
func configure(m *Module, src string) error {
	_, err := config.ParseModules("parley.yaml", []byte(src), func(*config.Config) map[string]config.SectionDecoder {
		return map[string]config.SectionDecoder{"mam": m.Configure}
	})
	return err
}

func TestSection(t *testing.T) {
	m := New(Options{Default: mam.DefaultNever, Retention: time.Hour}).(*Module)
	if err := configure(m, "modules:\n  mam: {default: roster, retention_days: 365, queue_bytes: 1048576}\n"); err != nil {
		t.Fatal(err)
	}
	if m.opts.Default != mam.DefaultRoster || m.opts.Retention != 365*24*time.Hour || m.opts.QueueBytes != 1<<20 {
		t.Errorf("options = %+v", m.opts)
	}
	// Keys left out take their defaults.
	if err := configure(m, "modules:\n  mam:\n"); err != nil {
		t.Fatal(err)
	}
	if m.opts.Default != mam.DefaultAlways || m.opts.Retention != 0 || m.opts.QueueBytes != 0 {
		t.Errorf("options = %+v", m.opts)
	}
}

func TestSectionErrors(t *testing.T) {
	for _, tt := range []struct {
		src       string
		line, col int
		want      string
	}{
		{"modules:\n  mam:\n    default: sometimes\n", 3, 5, `parley.yaml:3:5: modules.mam.default: must be "always", "roster" or "never", not "sometimes"`},
		{"modules:\n  mam:\n    retention_days: -1\n", 3, 5, "parley.yaml:3:5: modules.mam.retention_days: must not be negative"},
		{"modules:\n  mam:\n    queue_bytes: -1\n", 3, 5, "parley.yaml:3:5: modules.mam.queue_bytes: must not be negative"},
		{"modules:\n  mam:\n    retention_days: 1d\n", 3, 5, `parley.yaml:3:5: modules.mam.retention_days: must be an integer, not "1d"`},
	} {
		m := New(Options{}).(*Module)
		err := configure(m, tt.src)
		var e *config.Error
		if !errors.As(err, &e) || e.Line != tt.line || e.Column != tt.col || err.Error() != tt.want {
			t.Errorf("%q: err = %v, want %s", tt.src, err, tt.want)
		}
	}
}
