package adminapi_test

import (
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/parley-xmpp/parley/server/adminapi"
	"github.com/parley-xmpp/parley/server/adminhttp"
)

// recorder is a Mounter that keeps the patterns mounted.
type recorder struct{ patterns []string }

func (r *recorder) HandleAPI(pattern string, _ http.Handler) {
	r.patterns = append(r.patterns, pattern)
}

// mounted returns the patterns the admin listener serves with a method:
// its own and those Mount mounts.
func mounted(t *testing.T) []string {
	t.Helper()
	var rec recorder
	adminapi.Mount(&rec, adminapi.Options{})
	var out []string
	for _, p := range rec.patterns {
		if strings.Contains(p, " ") { // the others answer 405 on the same paths
			out = append(out, p)
		}
	}
	if !slices.Equal(out, adminapi.Routes) {
		t.Errorf("Mount mounts %v, Routes lists %v", out, adminapi.Routes)
	}
	return append(slices.Clone(adminhttp.Routes), out...)
}

// TestOpenAPI: docs/admin-api.yaml is an OpenAPI 3 document whose
// operations are exactly the routes the admin listener serves; each
// operation has responses, the token-protected ones a 401, each path
// parameter is declared, and every $ref resolves.
func TestOpenAPI(t *testing.T) {
	b, err := os.ReadFile("../../docs/admin-api.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("docs/admin-api.yaml: %v", err)
	}
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.") {
		t.Errorf("openapi: %q, want 3.x", v)
	}
	info, _ := doc["info"].(map[string]any)
	if info["title"] == nil || info["version"] == nil {
		t.Errorf("info lacks a title or version: %v", info)
	}
	checkRefs(t, doc, doc, "")

	paths, _ := doc["paths"].(map[string]any)
	var documented []string
	param := regexp.MustCompile(`\{([^}]+)\}`)
	for path, item := range paths {
		item, _ := item.(map[string]any)
		for method, op := range item {
			if method == "parameters" {
				continue
			}
			pattern := strings.ToUpper(method) + " " + path
			documented = append(documented, pattern)
			op, _ := op.(map[string]any)
			responses, _ := op["responses"].(map[string]any)
			if len(responses) == 0 {
				t.Errorf("%s: no responses", pattern)
			}
			if strings.HasPrefix(path, adminhttp.PathAPI) && responses["401"] == nil {
				t.Errorf("%s: no 401 response", pattern)
			}
			for _, m := range param.FindAllStringSubmatch(path, -1) {
				if !declared(doc, m[1], item["parameters"], op["parameters"]) {
					t.Errorf("%s: the path parameter %s is not declared (in: path, required: true)", pattern, m[1])
				}
			}
		}
	}
	served := mounted(t)
	for _, p := range served {
		if !slices.Contains(documented, p) {
			t.Errorf("%s is served but not in docs/admin-api.yaml", p)
		}
	}
	for _, p := range documented {
		if !slices.Contains(served, p) {
			t.Errorf("%s is in docs/admin-api.yaml but not served", p)
		}
	}
}

// declared reports whether one of the parameter lists declares the path
// parameter name.
func declared(doc map[string]any, name string, lists ...any) bool {
	for _, l := range lists {
		ps, _ := l.([]any)
		for _, p := range ps {
			pm, _ := p.(map[string]any)
			if ref, ok := pm["$ref"].(string); ok {
				pm, _ = resolve(doc, ref).(map[string]any)
			}
			if pm["name"] == name && pm["in"] == "path" && pm["required"] == true {
				return true
			}
		}
	}
	return false
}

// checkRefs fails the test for each $ref under v that does not resolve.
func checkRefs(t *testing.T, doc map[string]any, v any, at string) {
	t.Helper()
	switch v := v.(type) {
	case map[string]any:
		for k, c := range v {
			if ref, ok := c.(string); ok && k == "$ref" && resolve(doc, ref) == nil {
				t.Errorf("%s: $ref %s does not resolve", at, ref)
			}
			checkRefs(t, doc, c, at+"/"+k)
		}
	case []any:
		for _, c := range v {
			checkRefs(t, doc, c, at)
		}
	}
}

// resolve returns what a local $ref ("#/components/...") points to, nil
// when nothing.
func resolve(doc map[string]any, ref string) any {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil
	}
	var cur any = doc
	for _, part := range strings.Split(rest, "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[part]
	}
	return cur
}
