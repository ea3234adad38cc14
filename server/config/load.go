package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Load reads the YAML file at path over the defaults of [Default]. A read
// failure is returned wrapped; problems in the file are reported as
// described for [Parse].
func Load(path string) (*Config, error) {
	return LoadModules(path, nil)
}

// LoadModules reads the file at path as [Load] does and also hands the
// modules' sections to their decoders, as [ParseModules] does.
func LoadModules(path string, decoders func(*Config) map[string]SectionDecoder) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: read %s: %w", path, err)
	}
	return ParseModules(path, data, decoders)
}

// Parse reads YAML data over the defaults of [Default]; name is the file
// name used in error messages. An empty document gives the defaults. Lists
// (such as listeners) replace the default list; mappings are merged key by
// key. On failure the result is nil and the error is an [*Error] for a
// single problem or an [Errors] for several, in file order.
//
// The modules' own sections ("modules.<name>") are kept undecoded in
// [Modules.Sections]; see [ParseModules].
func Parse(name string, data []byte) (*Config, error) {
	return ParseModules(name, data, nil)
}

// ParseModules reads YAML data as [Parse] does, then, unless decoders is
// nil, calls it with the configuration read (with the defaults where the
// file has errors) and hands each module section to its decoder as
// [Modules.Configure] does. The problems of the file and those of the
// modules' sections are reported together, in file order.
func ParseModules(name string, data []byte, decoders func(*Config) map[string]SectionDecoder) (*Config, error) {
	c, errs := parse(name, data)
	if c != nil && decoders != nil {
		var (
			es  Errors
			one *Error
		)
		switch err := c.Modules.Configure(decoders(c)); {
		case errors.As(err, &es):
			errs = append(errs, es...)
		case errors.As(err, &one):
			errs = append(errs, one)
		}
		sortErrors(errs)
	}
	if err := asError(errs); err != nil {
		return nil, err
	}
	return c, nil
}

// parse decodes data over the defaults. It returns the configuration
// decoded (nil when the file is not one YAML document) and its problems
// in file order.
func parse(name string, data []byte) (*Config, []*Error) {
	c := Default()
	d := &decoder{file: name, pos: map[string]*yaml.Node{}}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return c, nil
		}
		return nil, []*Error{d.syntaxError(err)}
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		return nil, []*Error{{File: name, Line: extra.Line, Column: extra.Column, Reason: "only one YAML document is allowed"}}
	case !errors.Is(err, io.EOF):
		return nil, []*Error{d.syntaxError(err)}
	}
	if len(doc.Content) > 0 {
		d.config(resolve(doc.Content[0]), c)
	}
	for _, p := range c.problems() {
		if !d.failed[p.key] {
			d.errs = append(d.errs, d.locate(p))
		}
	}
	sortErrors(d.errs)
	return c, d.errs
}

// sortErrors puts located errors in file order; errors at one position
// keep their order.
func sortErrors(es []*Error) {
	slices.SortStableFunc(es, func(a, b *Error) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return a.Column - b.Column
	})
}

// decoder walks a YAML node tree into a Config, collecting errors.
type decoder struct {
	file string
	errs []*Error
	// pos maps each dotted key seen in the file to the node reported for
	// it: the key of a mapping entry, or a list item.
	pos map[string]*yaml.Node
	// failed holds keys that already have a decoding error, so that
	// validation does not report them again.
	failed map[string]bool
}

// field decodes the value val of the entry whose key node (or list item)
// is at and whose dotted path is key.
type field func(at, val *yaml.Node, key string)

// fail records an error for key at node n.
func (d *decoder) fail(n *yaml.Node, key, format string, args ...any) {
	if d.failed == nil {
		d.failed = map[string]bool{}
	}
	d.failed[key] = true
	d.errs = append(d.errs, &Error{File: d.file, Line: n.Line, Column: n.Column, Key: key, Reason: fmt.Sprintf(format, args...)})
}

// locate turns a validation problem into an error at the position of its
// key, or of the nearest enclosing key present in the file.
func (d *decoder) locate(p problem) *Error {
	e := &Error{File: d.file, Key: p.key, Reason: p.reason}
	for k := p.key; k != ""; k = parentKey(k) {
		if n, ok := d.pos[k]; ok {
			e.Line, e.Column = n.Line, n.Column
			break
		}
	}
	return e
}

// parentKey strips the last ".name" or "[i]" from a dotted key.
func parentKey(k string) string {
	i := strings.LastIndexAny(k, ".[")
	if i < 0 {
		return ""
	}
	return k[:i]
}

// syntaxError converts a YAML parser error ("yaml: line 3: ...") into an
// *Error.
func (d *decoder) syntaxError(err error) *Error {
	e := &Error{File: d.file, Reason: strings.TrimPrefix(err.Error(), "yaml: ")}
	if rest, ok := strings.CutPrefix(e.Reason, "line "); ok {
		if num, msg, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(num); err == nil {
				e.Line, e.Reason = n, msg
			}
		}
	}
	e.Reason = "invalid YAML: " + e.Reason
	return e
}

// resolve follows alias nodes to their anchors.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// isNull reports whether n is an empty or explicit null value.
func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// kindName describes the kind of a node for error messages.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "empty"
		}
		return strconv.Quote(n.Value)
	default:
		return "unexpected YAML"
	}
}

// mapping decodes the entries of mapping node n (at path) with fields,
// rejecting unknown and repeated keys. A null value is an empty mapping.
func (d *decoder) mapping(at, n *yaml.Node, path string, fields map[string]field) {
	d.mappingOr(at, n, path, fields, nil)
}

// mappingOr decodes mapping node n as mapping does, passing the entries
// whose key is not in fields to other (unknown keys when nil).
func (d *decoder) mappingOr(at, n *yaml.Node, path string, fields map[string]field, other field) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.fail(at, path, "must be a mapping, not %s", kindName(n))
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" {
			d.fail(k, path, "keys must be plain names")
			continue
		}
		key := k.Value
		if path != "" {
			key = path + "." + k.Value
		}
		if line, dup := seen[k.Value]; dup {
			d.fail(k, key, "set twice (first at line %d)", line)
			continue
		}
		seen[k.Value] = k.Line
		fn, ok := fields[k.Value]
		if !ok && other != nil {
			fn, ok = other, true
		}
		if !ok {
			d.fail(k, key, "unknown key (known keys: %s)", strings.Join(slices.Sorted(mapsKeys(fields)), ", "))
			continue
		}
		d.pos[key] = k
		fn(k, v, key)
	}
}

// mapsKeys returns the keys of m.
func mapsKeys(m map[string]field) func(yield func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// sequence calls item for each element of list node n (at path), with
// paths "path[i]". A null value is an empty list. It reports whether n was
// a list.
func (d *decoder) sequence(at, n *yaml.Node, path string, item func(i int, it *yaml.Node, key string)) bool {
	if isNull(n) {
		return true
	}
	if n.Kind != yaml.SequenceNode {
		d.fail(at, path, "must be a list, not %s", kindName(n))
		return false
	}
	for i, it := range n.Content {
		key := fmt.Sprintf("%s[%d]", path, i)
		it = resolve(it)
		d.pos[key] = it
		item(i, it, key)
	}
	return true
}

// scalar returns the text of scalar node n, failing for lists, mappings
// and empty values.
func (d *decoder) scalar(at, n *yaml.Node, key, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		d.fail(at, key, "must be %s, not %s", want, kindName(n))
		return "", false
	}
	return n.Value, true
}

// str decodes a string; unquoted numbers and booleans are rejected.
func (d *decoder) str(at, n *yaml.Node, key string, out *string) bool {
	s, ok := d.scalar(at, n, key, "a string")
	if !ok {
		return false
	}
	if n.Tag != "!!str" {
		d.fail(at, key, "must be a string, not %s (quote it)", strings.TrimPrefix(n.Tag, "!!"))
		return false
	}
	*out = s
	return true
}

// integer decodes an integer.
func (d *decoder) integer(at, n *yaml.Node, key string, out *int) {
	if _, ok := d.scalar(at, n, key, "an integer"); !ok {
		return
	}
	var v int
	if n.Tag != "!!int" || n.Decode(&v) != nil {
		d.fail(at, key, "must be an integer, not %q", n.Value)
		return
	}
	*out = v
}

// boolean decodes true or false.
func (d *decoder) boolean(at, n *yaml.Node, key string, out *bool) {
	if _, ok := d.scalar(at, n, key, "true or false"); !ok {
		return
	}
	var v bool
	if n.Tag != "!!bool" || n.Decode(&v) != nil {
		d.fail(at, key, "must be true or false, not %q", n.Value)
		return
	}
	*out = v
}

// size decodes a byte size: an integer or a string such as "256KiB".
func (d *decoder) size(at, n *yaml.Node, key string, out *int) {
	s, ok := d.scalar(at, n, key, "a size")
	if !ok {
		return
	}
	if n.Tag != "!!int" && n.Tag != "!!str" {
		d.fail(at, key, "must be a size such as 65536 or 256KiB, not %q", s)
		return
	}
	v, err := ParseSize(s)
	if err != nil {
		d.fail(at, key, "%v", err)
		return
	}
	*out = v
}

// duration decodes a duration such as "30s".
func (d *decoder) duration(at, n *yaml.Node, key string, out *time.Duration) {
	s, ok := d.scalar(at, n, key, "a duration")
	if !ok {
		return
	}
	v, err := ParseDuration(s)
	if err != nil {
		d.fail(at, key, "%v", err)
		return
	}
	*out = v
}

// stringList decodes a list of strings.
func (d *decoder) stringList(at, n *yaml.Node, key string, out *[]string) {
	list, before := []string{}, len(d.errs)
	ok := d.sequence(at, n, key, func(_ int, it *yaml.Node, ik string) {
		var s string
		if d.str(it, it, ik, &s) {
			list = append(list, s)
		}
	})
	if ok && len(d.errs) == before {
		*out = list
	}
}
