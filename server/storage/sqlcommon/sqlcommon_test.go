package sqlcommon

import (
	"os/exec"
	"reflect"
	"strings"
	"testing"
)

func TestFilterNumbersPlaceholders(t *testing.T) {
	for _, tc := range []struct {
		d    Dialect
		want string
	}{
		{Dialect{}, "user = ? AND at >= ? AND id IN (?, ?)"},
		{Dialect{Numbered: true}, "user = $1 AND at >= $2 AND id IN ($3, $4)"},
	} {
		base := tc.d.Where("user = ?", "u").And("at >= ?", int64(5))
		in, args := tc.d.In("id", []string{"a", "b"})
		f := base.And(in, args...)
		if f.SQL() != tc.want {
			t.Errorf("SQL = %q, want %q", f.SQL(), tc.want)
		}
		if want := []any{"u", int64(5), "a", "b"}; !reflect.DeepEqual(f.Args(), want) {
			t.Errorf("Args = %v, want %v", f.Args(), want)
		}
		// And leaves its receiver as it was, even when both grow from it.
		x, y := base.And("seq < ?", 1), base.And("seq > ?", 2)
		if len(base.Args()) != 2 || x.Args()[2] != 1 || y.Args()[2] != 2 {
			t.Errorf("And shares arguments: base %v, x %v, y %v", base.Args(), x.Args(), y.Args())
		}
	}
	if in, args := (Dialect{Arrays: true, Numbered: true}).In("id", []string{"a"}); in != "id = ANY(?)" || len(args) != 1 {
		t.Errorf("In with arrays = %q %v", in, args)
	}
}

// TestImportsNoDriver keeps the package driver-free: no database driver
// (database/sql, pgx, sqlite) among its dependencies.
func TestImportsNoDriver(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep == "database/sql" || strings.Contains(dep, "pgx") || strings.Contains(dep, "sqlite") {
			t.Errorf("sqlcommon depends on %s", dep)
		}
	}
}
