package privilege

import (
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/config"
)

// configure parses src and hands its modules.privilege section to m.
func configure(m *Module, src string) error {
	_, err := config.ParseModules("parley.yaml", []byte(src), func(*config.Config) map[string]config.SectionDecoder {
		return map[string]config.SectionDecoder{"privilege": m.Configure}
	})
	return err
}

func TestSection(t *testing.T) {
	m := New(Options{})
	if m.opts.MaxPending != DefaultMaxPending || m.opts.Timeout != DefaultTimeout {
		t.Fatalf("defaults %+v", m.opts)
	}
	if err := configure(m, "modules:\n  privilege: {max_pending: 10, timeout: 5s}\n"); err != nil {
		t.Fatal(err)
	}
	if m.opts.MaxPending != 10 || m.opts.Timeout != 5*time.Second {
		t.Fatalf("configured %+v", m.opts)
	}
	for _, tt := range []struct{ src, want string }{
		{"modules:\n  privilege: {max_pending: 0}\n", "parley.yaml:2:15: modules.privilege.max_pending: must be at least 1"},
		{"modules:\n  privilege: {timeout: 0s}\n", "parley.yaml:2:15: modules.privilege.timeout: must be positive"},
		{"modules:\n  privilege: {timeout: soon}\n", "modules.privilege.timeout: invalid duration"},
	} {
		err := configure(New(Options{}), tt.src)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: err = %v, want %s", tt.src, err, tt.want)
		}
	}
}
