package sqlcommon

import (
	"context"
	"reflect"
	"testing"

	"github.com/parley-xmpp/parley/xmpp/jid"
)

var (
	sqliteLike   = Dialect{Name: "sqlite", UserColumn: "user", RowID: "rowid", OctetLength: "LENGTH"}
	postgresLike = Dialect{Name: "postgres", Numbered: true, UserColumn: "username", Arrays: true,
		NullLimit: true, UserLocks: true, Sequences: true, OctetLength: "octet_length"}
)

func TestDialectRendersStatements(t *testing.T) {
	text := `SELECT {len}(stanza) FROM offline WHERE {user} = ? AND id = ?`
	for _, tc := range []struct {
		d             Dialect
		want, order   string
		update, share string
	}{
		{sqliteLike, `SELECT LENGTH(stanza) FROM offline WHERE user = ? AND id = ?`, "rowid", "", ""},
		{postgresLike, `SELECT octet_length(stanza) FROM offline WHERE username = $1 AND id = $2`, "seq", " FOR UPDATE", " FOR SHARE"},
	} {
		if got := tc.d.SQL(text); got != tc.want {
			t.Errorf("%s: SQL = %q, want %q", tc.d.Name, got, tc.want)
		}
		if got := tc.d.InsertOrder("seq"); got != tc.order {
			t.Errorf("%s: InsertOrder = %q, want %q", tc.d.Name, got, tc.order)
		}
		if tc.d.ForUpdate() != tc.update || tc.d.ForShare() != tc.share {
			t.Errorf("%s: ForUpdate %q, ForShare %q", tc.d.Name, tc.d.ForUpdate(), tc.d.ForShare())
		}
	}
}

// recorder is a Tx that records the statements it runs.
type recorder struct {
	Querier
	texts []string
	args  [][]any
}

func (r *recorder) Exec(_ context.Context, text string, args ...any) (int64, error) {
	r.texts, r.args = append(r.texts, text), append(r.args, args)
	return 0, nil
}

func TestLockUserOnlyWhereWritersRunConcurrently(t *testing.T) {
	var rec recorder
	if err := sqliteLike.LockUser(context.Background(), &rec, LockOffline, "a@x"); err != nil || len(rec.texts) != 0 {
		t.Fatalf("single writer: LockUser ran %q, %v", rec.texts, err)
	}
	if err := postgresLike.LockUser(context.Background(), &rec, LockOffline, "a@x"); err != nil {
		t.Fatal(err)
	}
	want := []any{int32(LockOffline), "a@x"}
	if len(rec.texts) != 1 || rec.texts[0] != `SELECT pg_advisory_xact_lock($1, hashtext($2))` || !reflect.DeepEqual(rec.args[0], want) {
		t.Fatalf("LockUser ran %q %v", rec.texts, rec.args)
	}
}

func TestListCodecs(t *testing.T) {
	js := []jid.JID{jid.MustParse("a@x"), jid.MustParse("b@x/r")}
	if got := sqliteLike.jidListArg(js); got != "a@x\nb@x/r" {
		t.Errorf("text list = %q", got)
	}
	if got := postgresLike.jidListArg(js); !reflect.DeepEqual(got, []string{"a@x", "b@x/r"}) {
		t.Errorf("array list = %v", got)
	}
	for _, d := range []Dialect{sqliteLike, postgresLike} {
		var l jidList
		switch dest := d.jidListDest(&l).(type) {
		case *string:
			*dest = sqliteLike.jidListArg(js).(string)
		case *[]string:
			*dest = JIDStrings(js)
		}
		got, err := d.jids(l, "test JID")
		if err != nil || !reflect.DeepEqual(got, js) {
			t.Errorf("%s: read back %v, %v", d.Name, got, err)
		}
	}
	if g, err := sqliteLike.groupsArg(nil); err != nil || g != "[]" {
		t.Errorf("no groups as JSON = %v, %v", g, err)
	}
	if g, _ := postgresLike.groupsArg(nil); !reflect.DeepEqual(g, []string{}) {
		t.Errorf("no groups as array = %#v", g)
	}
	it, err := sqliteLike.RosterItem("c@x", "C", `["g"]`, 3, true, false)
	if err != nil || it.Contact.String() != "c@x" || !reflect.DeepEqual(it.Groups, []string{"g"}) || !it.AskOut {
		t.Errorf("RosterItem = %+v, %v", it, err)
	}
}
