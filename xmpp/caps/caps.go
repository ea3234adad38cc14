package caps

import (
	"cmp"
	"crypto/sha1" // XEP-0115 §8.1: SHA-1 is mandatory to implement.
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strings"

	"github.com/parley-xmpp/parley/xmpp/disco"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// NS is the XEP-0115 namespace, also its disco feature.
const NS = "http://jabber.org/protocol/caps"

// Hash names of the IANA "Hash Function Textual Names" registry that this
// package supports in the 'hash' attribute.
const (
	SHA1   = "sha-1"
	SHA256 = "sha-256"
	SHA512 = "sha-512"
)

// Errors of this package.
var (
	// ErrUnsupportedHash: the hash name is not one this package computes.
	ErrUnsupportedHash = errors.New("caps: unsupported hash function")
	// ErrIllFormed: a disco#info result breaks XEP-0115 §5.4 step 3.
	ErrIllFormed = errors.New("caps: ill-formed disco#info result")
	// ErrInvalid: a <c/> element lacks a required attribute.
	ErrInvalid = errors.New("caps: invalid <c/> element")
)

const formType = "FORM_TYPE"

// VerificationString returns the string S of XEP-0115 §5.1 for info, before
// hashing. Forms without a hidden FORM_TYPE field are ignored (§5.4 step
// 3.6).
func VerificationString(info disco.Info) string {
	var b strings.Builder
	ids := slices.Clone(info.Identities)
	slices.SortFunc(ids, func(a, b disco.Identity) int {
		return cmp.Or(
			strings.Compare(a.Category, b.Category),
			strings.Compare(a.Type, b.Type),
			strings.Compare(a.Lang, b.Lang),
			strings.Compare(a.Name, b.Name),
		)
	})
	for _, id := range ids {
		b.WriteString(id.Category + "/" + id.Type + "/" + id.Lang + "/" + id.Name + "<")
	}
	features := slices.Clone(info.Features)
	slices.Sort(features)
	for _, f := range features {
		b.WriteString(f + "<")
	}
	forms := parseForms(info.Forms)
	slices.SortFunc(forms, func(a, b form) int { return strings.Compare(a.typ, b.typ) })
	for _, f := range forms {
		b.WriteString(f.typ + "<")
		slices.SortFunc(f.fields, func(a, b field) int { return strings.Compare(a.name, b.name) })
		for _, fl := range f.fields {
			b.WriteString(fl.name + "<")
			values := slices.Clone(fl.values)
			slices.Sort(values)
			for _, v := range values {
				b.WriteString(v + "<")
			}
		}
	}
	return b.String()
}

// Ver returns the 'ver' attribute for info: the verification string hashed
// with the named function and encoded in padded standard base64 (§5.1 step
// 9).
func Ver(info disco.Info, hashName string) (string, error) {
	h, err := newHash(hashName)
	if err != nil {
		return "", err
	}
	h.Write([]byte(VerificationString(info)))
	return base64.StdEncoding.EncodeToString(h.Sum(nil)), nil
}

func newHash(name string) (hash.Hash, error) {
	switch name {
	case SHA1:
		return sha1.New(), nil
	case SHA256:
		return sha256.New(), nil
	case SHA512:
		return sha512.New(), nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnsupportedHash, name)
}

// Check applies the well-formedness rules of XEP-0115 §5.4 step 3 (3.3 to
// 3.5): no duplicate identity, no duplicate feature, no two forms with the
// same FORM_TYPE and no FORM_TYPE field with differing values. A receiver
// must not cache a 'ver' for a result that fails Check.
func Check(info disco.Info) error {
	seenID := make(map[disco.Identity]bool, len(info.Identities))
	for _, id := range info.Identities {
		if seenID[id] {
			return fmt.Errorf("%w: identity %s/%s/%s/%s repeated", ErrIllFormed, id.Category, id.Type, id.Lang, id.Name)
		}
		seenID[id] = true
	}
	seenF := make(map[string]bool, len(info.Features))
	for _, f := range info.Features {
		if seenF[f] {
			return fmt.Errorf("%w: feature %q repeated", ErrIllFormed, f)
		}
		seenF[f] = true
	}
	seenForm := make(map[string]bool, len(info.Forms))
	for _, x := range info.Forms {
		for _, fl := range x.ChildrenNamed(disco.NSData, "field") {
			if fl.Get("var") != formType {
				continue
			}
			vals := values(fl)
			for _, v := range vals {
				if v != vals[0] {
					return fmt.Errorf("%w: FORM_TYPE with differing values", ErrIllFormed)
				}
			}
		}
	}
	for _, f := range parseForms(info.Forms) {
		if seenForm[f.typ] {
			return fmt.Errorf("%w: two forms of FORM_TYPE %q", ErrIllFormed, f.typ)
		}
		seenForm[f.typ] = true
	}
	return nil
}

// Caps is the content of a <c xmlns='http://jabber.org/protocol/caps'/>
// element (§4).
type Caps struct {
	Hash string // empty in the legacy format (§6)
	Node string
	Ver  string
}

// Element returns the <c/> element for c.
func (c Caps) Element() *stanza.Element {
	el := stanza.New(NS, "c")
	el.Set("hash", c.Hash)
	el.Set("node", c.Node)
	el.Set("ver", c.Ver)
	return el
}

// Parse decodes a <c/> element; node and ver are required, hash is
// reported empty when absent (legacy format).
func Parse(el *stanza.Element) (Caps, error) {
	if el == nil || el.Name.Space != NS || el.Name.Local != "c" {
		return Caps{}, fmt.Errorf("%w: not a caps element", ErrInvalid)
	}
	c := Caps{Hash: el.Get("hash"), Node: el.Get("node"), Ver: el.Get("ver")}
	if c.Node == "" || c.Ver == "" {
		return Caps{}, fmt.Errorf("%w: node and ver are required", ErrInvalid)
	}
	return c, nil
}

type field struct {
	name   string
	values []string
}

type form struct {
	typ    string
	fields []field
}

func values(fl *stanza.Element) []string {
	var out []string
	for _, v := range fl.ChildrenNamed(disco.NSData, "value") {
		out = append(out, v.Text())
	}
	return out
}

// parseForms keeps the forms that have a hidden FORM_TYPE field.
func parseForms(els []*stanza.Element) []form {
	var out []form
	for _, x := range els {
		var f form
		ok := false
		for _, fl := range x.ChildrenNamed(disco.NSData, "field") {
			name := fl.Get("var")
			if name == formType {
				if vals := values(fl); fl.Get("type") == "hidden" && len(vals) > 0 {
					f.typ = vals[0]
					ok = true
				}
				continue
			}
			f.fields = append(f.fields, field{name: name, values: values(fl)})
		}
		if ok {
			out = append(out, f)
		}
	}
	return out
}
