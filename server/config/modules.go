package config

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Modules is the modules section. Which modules are disabled is the
// server's business; every other key names a module whose settings the
// module decodes itself (see [Section]).
type Modules struct {
	// Disabled names modules not to load. Key "disabled".
	Disabled []string
	// Sections are the modules' own sections, "modules.<name>", in file
	// order, not yet decoded: [Modules.Configure] hands each to its
	// module.
	Sections []Section
}

// IsDisabled reports whether the module called name is disabled.
func (m Modules) IsDisabled(name string) bool { return slices.Contains(m.Disabled, name) }

// Section returns the section of the module called name, if the
// configuration has one.
func (m Modules) Section(name string) (Section, bool) {
	for _, s := range m.Sections {
		if s.name == name {
			return s, true
		}
	}
	return Section{}, false
}

// SetSection sets the section of the module called name from values, as
// if the file had "modules: {name: values}"; it replaces a section of that
// name. It is for configurations built in code (tests, embedders): values
// map keys to strings, integers, booleans or lists of strings. A value
// YAML cannot encode makes the section's Decode fail.
func (m *Modules) SetSection(name string, values map[string]any) {
	s := Section{name: name, key: sectionKey(name), at: &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: name}, val: new(yaml.Node)}
	if err := s.val.Encode(values); err != nil {
		s.err = fmt.Errorf("cannot be encoded: %w", err)
	}
	for i := range m.Sections {
		if m.Sections[i].name == name {
			m.Sections[i] = s
			return
		}
	}
	m.Sections = append(m.Sections, s)
}

// SectionDecoder decodes and checks a module's section; it is the
// module's Configure method.
type SectionDecoder func(Section) error

// Configure hands each section to the decoder of the module it names and
// returns nil, an [*Error] or [Errors] in file order, as [Parse] does. A
// section naming no module of decoders is an unknown key, reported as an
// unknown key anywhere else in the file is. Modules without a section are
// not called: they keep the defaults they were built with. A decoder's
// error that is not an [*Error] or [Errors] is reported at its section.
func (m Modules) Configure(decoders map[string]SectionDecoder) error {
	var es []*Error
	for _, s := range m.Sections {
		dec, ok := decoders[s.name]
		if !ok {
			known := slices.Sorted(maps.Keys(decoders))
			known = append(known, "disabled")
			slices.Sort(known)
			es = append(es, s.errorf("unknown key (known keys: %s)", strings.Join(known, ", ")))
			continue
		}
		es = append(es, s.flatten(dec(s))...)
	}
	sortErrors(es)
	return asError(es)
}

// Section is a module's section of the configuration, "modules.<name>",
// with the positions of its keys in the file. Its module decodes it with
// [Section.Decode], which reports problems exactly as the rest of the file
// is reported: file, line, column, dotted key and reason.
type Section struct {
	file string
	name string
	key  string     // "modules.<name>"
	at   *yaml.Node // the section's key
	val  *yaml.Node // its value
	err  error      // set by SetSection when the values could not be encoded
}

// Name is the module's name, the key of the section under modules.
func (s Section) Name() string { return s.name }

// Key is the dotted key of the section, "modules.<name>"; messages that
// refer to one of its keys name it as Key() + ".key".
func (s Section) Key() string { return s.key }

// Fields maps the keys a section accepts to the functions that decode
// their values; any other key is rejected as unknown.
type Fields map[string]func(v Value)

// Report records an invalid value found after decoding: key is relative
// to the section ("history" for modules.muc.history; "" for the section
// itself) and the reason is formatted as by fmt.Sprintf.
type Report func(key, format string, args ...any)

// Decode decodes the section, a mapping, with fields, and then runs check
// (if not nil) to validate what was decoded; a value that failed to decode
// is not reported again by check. It returns nil, an [*Error] or [Errors]
// in file order. An empty section decodes nothing.
func (s Section) Decode(fields Fields, check func(report Report)) error {
	if s.err != nil {
		return s.errorf("%v", s.err)
	}
	d := &decoder{file: s.file, pos: map[string]*yaml.Node{}}
	if s.val != nil {
		fs := make(map[string]field, len(fields))
		for name, fn := range fields {
			fs[name] = func(at, v *yaml.Node, key string) { fn(Value{d: d, at: at, n: v, key: key}) }
		}
		d.pos[s.key] = s.at
		d.mapping(s.at, resolve(s.val), s.key, fs)
	}
	if check != nil {
		check(func(key, format string, args ...any) {
			p := problem{key: s.key, reason: fmt.Sprintf(format, args...)}
			if key != "" {
				p.key += "." + key
			}
			if !d.failed[p.key] {
				d.errs = append(d.errs, d.locate(p))
			}
		})
	}
	sortErrors(d.errs)
	return asError(d.errs)
}

// errorf returns an error at the section's key.
func (s Section) errorf(format string, args ...any) *Error {
	e := &Error{File: s.file, Key: s.key, Reason: fmt.Sprintf(format, args...)}
	if s.at != nil {
		e.Line, e.Column = s.at.Line, s.at.Column
	}
	return e
}

// flatten turns what a section's decoder returned into located errors.
func (s Section) flatten(err error) []*Error {
	if err == nil {
		return nil
	}
	var es Errors
	if errors.As(err, &es) {
		return es
	}
	var e *Error
	if errors.As(err, &e) {
		return []*Error{e}
	}
	return []*Error{s.errorf("%v", err)}
}

// sectionKey is the dotted key of a module's section.
func sectionKey(name string) string { return "modules." + name }

// Value is the value of one key of a module's section. Its methods decode
// it with the checks and messages used for the whole file; a value of the
// wrong type is reported and leaves out unchanged.
type Value struct {
	d     *decoder
	at, n *yaml.Node
	key   string
}

// Key is the value's dotted key, such as "modules.mam.default".
func (v Value) Key() string { return v.key }

// String decodes a string; unquoted numbers and booleans are rejected. It
// reports whether it succeeded.
func (v Value) String(out *string) bool { return v.d.str(v.at, v.n, v.key, out) }

// Int decodes an integer.
func (v Value) Int(out *int) { v.d.integer(v.at, v.n, v.key, out) }

// Bool decodes true or false.
func (v Value) Bool(out *bool) { v.d.boolean(v.at, v.n, v.key, out) }

// Size decodes a byte size: an integer or a string such as "256KiB"
// (see [ParseSize]).
func (v Value) Size(out *int) { v.d.size(v.at, v.n, v.key, out) }

// Duration decodes a duration such as "30s" (see [ParseDuration]).
func (v Value) Duration(out *time.Duration) { v.d.duration(v.at, v.n, v.key, out) }

// Strings decodes a list of strings.
func (v Value) Strings(out *[]string) { v.d.stringList(v.at, v.n, v.key, out) }

// Fail reports the value as invalid, for checks a decoding method cannot
// make (the reason is formatted as by fmt.Sprintf).
func (v Value) Fail(format string, args ...any) { v.d.fail(v.at, v.key, format, args...) }
