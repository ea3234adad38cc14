package router_test

import (
	"slices"
	"testing"

	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/xmpp/form"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// discoModule advertises features and forms for the server.
type discoModule struct {
	features []string
	forms    []string // FORM_TYPEs
}

func (*discoModule) Name() string { return "disco-probe" }

func (m *discoModule) Register(r module.Registrar) error {
	for _, f := range m.features {
		r.Feature(module.TargetServer, f)
	}
	r.Identity(module.TargetServer, module.Identity{Category: "server", Type: "im"})
	for _, typ := range m.forms {
		r.DiscoForm(module.TargetServer, testForm(typ))
	}
	return nil
}

func testForm(typ string) *stanza.Element {
	return form.New("result", typ).Element()
}

func formTypes(v *module.DiscoView) []string {
	var out []string
	for _, x := range v.Forms {
		f, err := form.Parse(x)
		if err != nil {
			panic(err)
		}
		out = append(out, f.FormType())
	}
	return out
}

// TestNestDisco: what is nested for a namespace replaces the modules'
// features (the namespace and its '#' sub-features, not another
// namespace it is the prefix of) and forms of that namespace, without
// repeating what is listed already; each change is a new generation;
// nil restores the modules' own.
func TestNestDisco(t *testing.T) {
	r := newRouter(t, []module.Module{&discoModule{
		features: []string{"urn:a", "urn:a#x", "urn:ab", "urn:c"},
		forms:    []string{"urn:a", "urn:c"},
	}})
	before := r.DiscoView(module.TargetServer)
	if !slices.Equal(before.Features, []string{"urn:a", "urn:a#x", "urn:ab", "urn:c"}) {
		t.Fatalf("features %v", before.Features)
	}
	r.NestDisco(module.TargetServer, "urn:a", &module.NestedDisco{
		Identities: []module.Identity{{Category: "server", Type: "im"}, {Category: "component", Type: "generic"}},
		Features:   []string{"urn:a", "urn:a#y", "urn:c"},
		Forms:      []*stanza.Element{testForm("urn:a"), testForm("urn:c"), testForm("urn:d")},
	})
	v := r.DiscoView(module.TargetServer)
	if v.Gen == before.Gen {
		t.Errorf("generation %d unchanged", v.Gen)
	}
	if !slices.Equal(v.Features, []string{"urn:a", "urn:a#y", "urn:ab", "urn:c"}) {
		t.Errorf("nested features %v", v.Features)
	}
	if len(v.Identities) != 2 {
		t.Errorf("nested identities %v", v.Identities)
	}
	if got := formTypes(v); !slices.Equal(got, []string{"urn:c", "urn:a", "urn:d"}) {
		t.Errorf("nested forms %v", got)
	}
	if acc := r.DiscoView(module.TargetAccount); len(acc.Features) != 0 {
		t.Errorf("account features %v", acc.Features)
	}
	// An empty nesting leaves the namespace out.
	r.NestDisco(module.TargetServer, "urn:a", &module.NestedDisco{})
	if v := r.DiscoView(module.TargetServer); !slices.Equal(v.Features, []string{"urn:ab", "urn:c"}) || !slices.Equal(formTypes(v), []string{"urn:c"}) {
		t.Errorf("emptied: %v, %v", v.Features, formTypes(v))
	}
	r.NestDisco(module.TargetServer, "urn:a", nil)
	after := r.DiscoView(module.TargetServer)
	if !slices.Equal(after.Features, before.Features) || !slices.Equal(formTypes(after), formTypes(before)) || after.Gen <= v.Gen {
		t.Errorf("restored: %+v", after)
	}
}
