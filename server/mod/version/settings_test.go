package version

import (
	"errors"
	"testing"

	"github.com/parley-xmpp/parley/server/config"
)

// configure parses src and hands its modules.version section to m.
func configure(m *Module, src string) error {
	_, err := config.ParseModules("parley.yaml", []byte(src), func(*config.Config) map[string]config.SectionDecoder {
		return map[string]config.SectionDecoder{"version": m.Configure}
	})
	return err
}

func TestSection(t *testing.T) {
	m := New("Parley", "1", false)
	if err := configure(m, "modules:\n  version: {hide: true}\n  disabled: [version, ping]\n"); err != nil || !m.hide {
		t.Fatalf("hide = %v, err %v; want true", m.hide, err)
	}
	// A section without hide means false, whatever the module was built
	// with.
	if err := configure(m, "modules:\n  version: {}\n"); err != nil || m.hide {
		t.Fatalf("hide = %v, err %v; want false", m.hide, err)
	}
}

func TestSectionErrors(t *testing.T) {
	for src, want := range map[string]string{
		"modules:\n  version: {hide: 1}\n":      `parley.yaml:2:13: modules.version.hide: must be true or false, not "1"`,
		"modules:\n  version:\n    os: linux\n": "parley.yaml:3:5: modules.version.os: unknown key (known keys: hide)",
		"modules:\n  version: yes\n":            `parley.yaml:2:3: modules.version: must be a mapping, not "yes"`,
	} {
		m := New("Parley", "1", true)
		err := configure(m, src)
		var e *config.Error
		if !errors.As(err, &e) || err.Error() != want {
			t.Errorf("%q: err = %v, want %s", src, err, want)
		}
		if !m.hide {
			t.Errorf("%q: a section with errors changed the module", src)
		}
	}
}
