package form

import (
	"errors"
	"fmt"
	"strings"

	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// NS is the data forms namespace (XEP-0004).
const NS = "jabber:x:data"

// FormTypeVar is the var of the hidden field naming a form's type (XEP-0068).
const FormTypeVar = "FORM_TYPE"

// Form types (XEP-0004 §3.1).
const (
	TypeForm   = "form"
	TypeSubmit = "submit"
	TypeCancel = "cancel"
	TypeResult = "result"
)

// Field types (XEP-0004 §3.3).
const (
	FieldBoolean     = "boolean"
	FieldFixed       = "fixed"
	FieldHidden      = "hidden"
	FieldJIDMulti    = "jid-multi"
	FieldJIDSingle   = "jid-single"
	FieldListMulti   = "list-multi"
	FieldListSingle  = "list-single"
	FieldTextMulti   = "text-multi"
	FieldTextPrivate = "text-private"
	FieldTextSingle  = "text-single"
)

// ErrInvalid is wrapped by every decoding error of this package.
var ErrInvalid = errors.New("form: invalid data form")

// Field is one <field/> of a form.
type Field struct {
	Var      string
	Type     string // empty: text-single in forms, unspecified in submissions
	Label    string
	Required bool
	Values   []string
	// Extra holds child elements this package does not model (options,
	// <desc/>, XEP-0122 <validate/>), written back as they are.
	Extra []*stanza.Element
}

// Value returns the first value, or "".
func (f Field) Value() string {
	if len(f.Values) == 0 {
		return ""
	}
	return f.Values[0]
}

// Form is a data form (<x xmlns='jabber:x:data'/>).
type Form struct {
	Type         string
	Title        string
	Instructions []string
	Fields       []Field
}

// New returns a form of the given type whose first field is the hidden
// FORM_TYPE with value formType (omitted when formType is empty).
func New(typ, formType string) *Form {
	f := &Form{Type: typ}
	if formType != "" {
		f.Fields = append(f.Fields, Field{Var: FormTypeVar, Type: FieldHidden, Values: []string{formType}})
	}
	return f
}

// FormType returns the value of the FORM_TYPE field, or "".
func (f *Form) FormType() string {
	if fd := f.Field(FormTypeVar); fd != nil {
		return fd.Value()
	}
	return ""
}

// Field returns the field with the given var, or nil.
func (f *Form) Field(v string) *Field {
	for i := range f.Fields {
		if f.Fields[i].Var == v {
			return &f.Fields[i]
		}
	}
	return nil
}

// Add appends a field and returns f.
func (f *Form) Add(fd Field) *Form {
	f.Fields = append(f.Fields, fd)
	return f
}

// Element encodes the form.
func (f *Form) Element() *stanza.Element {
	x := stanza.New(NS, "x", "type", f.Type)
	if f.Title != "" {
		x.Append(stanza.New(NS, "title").AppendText(f.Title))
	}
	for _, in := range f.Instructions {
		x.Append(stanza.New(NS, "instructions").AppendText(in))
	}
	for _, fd := range f.Fields {
		el := stanza.New(NS, "field")
		el.Set("var", fd.Var)
		el.Set("type", fd.Type)
		el.Set("label", fd.Label)
		if fd.Required {
			el.Append(stanza.New(NS, "required"))
		}
		for _, v := range fd.Values {
			el.Append(stanza.New(NS, "value").AppendText(v))
		}
		for _, e := range fd.Extra {
			el.Append(e.Clone())
		}
		x.Append(el)
	}
	return x
}

// Find returns the first data form child of parent whose FORM_TYPE is
// formType (any form when formType is empty), or nil.
func Find(parent *stanza.Element, formType string) *stanza.Element {
	for _, x := range parent.ChildrenNamed(NS, "x") {
		if formType == "" {
			return x
		}
		for _, fd := range x.ChildrenNamed(NS, "field") {
			if fd.Get("var") == FormTypeVar && fd.ChildText(NS, "value") == formType {
				return x
			}
		}
	}
	return nil
}

// Parse decodes a data form. It checks what XEP-0004 §3 requires of any
// form: a known form type, fields with a var (except fixed ones), at most
// one value in single-valued fields, a known field type, and booleans
// written as 0, 1, false or true.
func Parse(x *stanza.Element) (*Form, error) {
	if x == nil || x.Name.Space != NS || x.Name.Local != "x" {
		return nil, fmt.Errorf("%w: not a jabber:x:data <x/>", ErrInvalid)
	}
	f := &Form{Type: x.Get("type")}
	switch f.Type {
	case TypeForm, TypeSubmit, TypeCancel, TypeResult:
	default:
		return nil, fmt.Errorf("%w: form type %q", ErrInvalid, f.Type)
	}
	seen := map[string]bool{}
	for _, c := range x.Elements() {
		if c.Name.Space != NS {
			continue
		}
		switch c.Name.Local {
		case "title":
			f.Title = c.Text()
		case "instructions":
			f.Instructions = append(f.Instructions, c.Text())
		case "field":
			fd, err := parseField(c)
			if err != nil {
				return nil, err
			}
			if fd.Var != "" {
				if seen[fd.Var] {
					return nil, fmt.Errorf("%w: field %q appears twice", ErrInvalid, fd.Var)
				}
				seen[fd.Var] = true
			}
			f.Fields = append(f.Fields, fd)
		}
	}
	return f, nil
}

func parseField(c *stanza.Element) (Field, error) {
	fd := Field{Var: c.Get("var"), Type: c.Get("type"), Label: c.Get("label")}
	switch fd.Type {
	case "", FieldBoolean, FieldFixed, FieldHidden, FieldJIDMulti, FieldJIDSingle,
		FieldListMulti, FieldListSingle, FieldTextMulti, FieldTextPrivate, FieldTextSingle:
	default:
		return Field{}, fmt.Errorf("%w: field %q has unknown type %q", ErrInvalid, fd.Var, fd.Type)
	}
	if fd.Var == "" && fd.Type != FieldFixed {
		return Field{}, fmt.Errorf("%w: a field of type %q without var", ErrInvalid, fd.Type)
	}
	for _, e := range c.Elements() {
		switch {
		case e.Name.Space == NS && e.Name.Local == "value":
			fd.Values = append(fd.Values, e.Text())
		case e.Name.Space == NS && e.Name.Local == "required":
			fd.Required = true
		default:
			fd.Extra = append(fd.Extra, e)
		}
	}
	switch fd.Type {
	case FieldJIDMulti, FieldListMulti, FieldTextMulti:
	case "":
		// XEP-0004 §3.2: fields of submitted and result forms may omit the
		// type; the receiver knows it from the form it sent, so several
		// values are not an error here.
	default:
		if len(fd.Values) > 1 {
			return Field{}, fmt.Errorf("%w: field %q of type %q has %d values", ErrInvalid, fd.Var, fd.Type, len(fd.Values))
		}
	}
	if fd.Type == FieldBoolean && len(fd.Values) == 1 {
		if _, err := ParseBool(fd.Values[0]); err != nil {
			return Field{}, fmt.Errorf("%w: field %q: %w", ErrInvalid, fd.Var, err)
		}
	}
	return fd, nil
}

// ParseBool reads an XML Schema boolean as XEP-0004 §3.3 writes it.
func ParseBool(s string) (bool, error) {
	switch strings.TrimSpace(s) {
	case "1", "true":
		return true, nil
	case "0", "false":
		return false, nil
	}
	return false, fmt.Errorf("%w: %q is not a boolean", ErrInvalid, s)
}
