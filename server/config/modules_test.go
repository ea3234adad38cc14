package config

import (
	"errors"
	"strings"
	"testing"
)

// testDecoders stands for the modules of a server: "mam" and "muc" with a
// key or two each, "version" with one.
func testDecoders(got map[string]int) func(*Config) map[string]SectionDecoder {
	return func(*Config) map[string]SectionDecoder {
		return map[string]SectionDecoder{
			"mam": func(s Section) error {
				var n int
				return s.Decode(Fields{"retention_days": func(v Value) { v.Int(&n); got["mam"] = n }}, func(report Report) {
					if n < 0 {
						report("retention_days", "must not be negative")
					}
				})
			},
			"muc": func(s Section) error {
				var h, maxH int
				return s.Decode(Fields{
					"history":     func(v Value) { v.Int(&h) },
					"max_history": func(v Value) { v.Int(&maxH) },
				}, func(report Report) {
					if h > maxH {
						report("history", "must not exceed %s.max_history (%d)", s.Key(), maxH)
					}
				})
			},
			"version": func(s Section) error {
				var hide bool
				return s.Decode(Fields{"hide": func(v Value) { v.Bool(&hide) }}, nil)
			},
		}
	}
}

func TestModuleSectionErrors(t *testing.T) {
	tests := []parseErrorCase{
		{"unknown module", "modules:\n  disabled: [ping]\n  mamm: {default: roster}\n", 3, 3, "modules.mamm", "unknown key (known keys: disabled, mam, muc, version)"},
		{"module without settings", "modules:\n  ping: {}\n", 2, 3, "modules.ping", "unknown key (known keys: disabled, mam, muc, version)"},
		{"unknown module key", "modules:\n  muc:\n    history_length: 3\n", 3, 5, "modules.muc.history_length", "unknown key (known keys: history, max_history)"},
		{"module key type", "modules:\n  version: {hide: 1}\n", 2, 13, "modules.version.hide", `must be true or false, not "1"`},
		{"module key twice", "modules:\n  mam:\n    retention_days: 1\n    retention_days: 2\n", 4, 5, "modules.mam.retention_days", "set twice (first at line 3)"},
		{"module value", "modules:\n  mam:\n    retention_days: -1\n", 3, 5, "modules.mam.retention_days", "must not be negative"},
		{"module check of an absent key", "modules:\n  muc: {history: 5}\n", 2, 9, "modules.muc.history", "must not exceed modules.muc.max_history (0)"},
		{"section not a mapping", "modules:\n  mam: [a]\n", 2, 3, "modules.mam", "must be a mapping, not a list"},
		{"section twice", "modules:\n  mam: {}\n  mam: {}\n", 3, 3, "modules.mam", "set twice (first at line 2)"},
	}
	testParseErrors(t, tests, func(name string, data []byte) (*Config, error) {
		return ParseModules(name, data, testDecoders(map[string]int{}))
	})
}

// TestModuleErrorsReportedWithTheFile: the modules' problems and those of
// the rest of the file come back together, in file order.
func TestModuleErrorsReportedWithTheFile(t *testing.T) {
	src := "log:\n  format: xml\nmodules:\n  mam: {retention_days: -1}\n  nope: {}\nlimits:\n  max_depth: 1\n"
	_, err := ParseModules("p.yaml", []byte(src), testDecoders(map[string]int{}))
	if keys, want := errorKeys(t, err), "log.format modules.mam.retention_days modules.nope limits.max_depth"; keys != want {
		t.Errorf("keys = %v, want %s\n%v", keys, want, err)
	}
	if !strings.Contains(err.Error(), "p.yaml:4:9: modules.mam.retention_days: must not be negative") {
		t.Errorf("Error() = %q", err)
	}
}

func TestModuleSectionsDecodedByModules(t *testing.T) {
	got := map[string]int{}
	c, err := ParseModules("p.yaml", []byte("modules:\n  disabled: [mam]\n  mam: {retention_days: 30}\n"), testDecoders(got))
	if err != nil {
		t.Fatal(err)
	}
	// A disabled module's section is still decoded and checked.
	if got["mam"] != 30 || !c.Modules.IsDisabled("mam") {
		t.Errorf("decoded %v, disabled %v", got, c.Modules.Disabled)
	}
	// Plain Parse keeps sections for the modules, unchecked.
	c, err = Parse("p.yaml", []byte("modules:\n  nope: {x: 1}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := c.Modules.Section("nope"); !ok || s.Key() != "modules.nope" {
		t.Errorf("sections = %+v", c.Modules.Sections)
	}
	if err := c.Modules.Configure(testDecoders(got)(c)); err == nil || err.Error() != "p.yaml:2:3: modules.nope: unknown key (known keys: disabled, mam, muc, version)" {
		t.Errorf("Configure = %v", err)
	}
}

func TestSetSection(t *testing.T) {
	var m Modules
	m.SetSection("mam", map[string]any{"retention_days": 7})
	m.SetSection("mam", map[string]any{"retention_days": 9})
	got := map[string]int{}
	if err := m.Configure(testDecoders(got)(nil)); err != nil || got["mam"] != 9 || len(m.Sections) != 1 {
		t.Fatalf("Configure = %v, decoded %v, sections %d", err, got, len(m.Sections))
	}
	m.SetSection("mam", map[string]any{"retention_days": -1})
	if err := m.Configure(testDecoders(got)(nil)); err == nil || err.Error() != "modules.mam.retention_days: must not be negative" {
		t.Errorf("Configure = %v", err)
	}
	m.SetSection("version", map[string]any{"hide": unencodable{}})
	if err := m.Configure(testDecoders(got)(nil)); err == nil || !strings.Contains(err.Error(), "modules.version: cannot be encoded") {
		t.Errorf("Configure = %v", err)
	}
}

// unencodable is a value whose YAML encoding fails.
type unencodable struct{}

func (unencodable) MarshalYAML() (any, error) { return nil, errors.New("no YAML") }
