package transfer_test

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/server/transfer"
	"github.com/parley-xmpp/parley/server/transfer/transfertest"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// accounts lists every account of s as strings.
func accounts(t *testing.T, s storage.Stores) []string {
	t.Helper()
	list, err := s.Accounts.ListAccounts(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, u := range list {
		out = append(out, u.String())
	}
	slices.Sort(out)
	return out
}

// services lists the pubsub services of s.
func services(t *testing.T, s storage.Stores) []jid.JID {
	t.Helper()
	l, ok := s.Accounts.(storage.Lister)
	if !ok {
		t.Fatal("no Lister")
	}
	svc, err := l.PubSubServices(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// TestImportConflictImportsNothing imports a dump into a database that
// already holds the dump's last account: the import must fail naming that
// account and leave the database exactly as it was — not with the
// accounts met before the conflict imported, as it did.
func TestImportConflictImportsNothing(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			src := openSQLite(t)
			transfertest.Fill(t, src)
			var dump bytes.Buffer
			if _, err := transfer.Export(t.Context(), src, &dump, transfer.ExportOptions{}); err != nil {
				t.Fatal(err)
			}
			// The account written last in the dump.
			var last jid.JID
			lastAt := -1
			srcAccounts, err := src.Accounts.ListAccounts(t.Context(), "")
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range srcAccounts {
				if i := strings.Index(dump.String(), fmt.Sprintf("<user name=%q", u.Local())); i > lastAt {
					last, lastAt = u, i
				}
			}

			dst := b.open(t)
			keep := jid.MustParse("keep@example.org")
			for _, u := range []jid.JID{last, keep} {
				if err := dst.Accounts.CreateAccount(t.Context(), u, nil); err != nil {
					t.Fatal(err)
				}
			}
			before := accounts(t, dst)
			_, err = transfer.Import(t.Context(), dst, bytes.NewReader(dump.Bytes()), "", transfer.ImportOptions{})
			var ce *transfer.ConflictError
			if !errors.As(err, &ce) || !errors.Is(err, storage.ErrExists) {
				t.Fatalf("import: %v, want a ConflictError", err)
			}
			if ce.Total != 1 || len(ce.Records) != 1 || ce.Records[0] != "account "+last.String() ||
				!strings.Contains(err.Error(), "account "+last.String()) {
				t.Fatalf("conflicts %+v (%v), want account %s alone", ce, err, last)
			}
			if got := accounts(t, dst); !slices.Equal(got, before) {
				t.Fatalf("accounts after the failed import: %v, want %v", got, before)
			}
			if svc := services(t, dst); len(svc) != 0 {
				t.Fatalf("pubsub services after the failed import: %v", svc)
			}
			if keys, err := dst.Accounts.Keys(t.Context(), last); err != nil || len(keys) != 0 {
				t.Fatalf("the existing account's keys changed: %v %v", keys, err)
			}

			// Cut short half-way through, the dump is not well-formed
			// XML: nothing of it is imported either.
			if err := dst.Accounts.DeleteAccount(t.Context(), last); err != nil {
				t.Fatal(err)
			}
			before = accounts(t, dst)
			cut := dump.Bytes()[:lastAt]
			if _, err := transfer.Import(t.Context(), dst, bytes.NewReader(cut), "", transfer.ImportOptions{}); err == nil {
				t.Fatal("a truncated dump imported")
			}
			if got := accounts(t, dst); !slices.Equal(got, before) {
				t.Fatalf("accounts after the truncated import: %v, want %v", got, before)
			}

			// With force the same dump replaces what exists.
			if err := dst.Accounts.CreateAccount(t.Context(), last, nil); err != nil {
				t.Fatal(err)
			}
			st, err := transfer.Import(t.Context(), dst, bytes.NewReader(dump.Bytes()), "", transfer.ImportOptions{Force: true})
			if err != nil || st.Replaced != 1 || st.Accounts != len(srcAccounts) {
				t.Fatalf("forced import: %+v %v", st, err)
			}
		})
	}
}

// TestImportConflictsAreListedBounded imports a dump of 25 accounts twice:
// the second import names the first 20 conflicts and counts them all.
func TestImportConflictsAreListedBounded(t *testing.T) {
	src := openSQLite(t)
	for i := range 25 {
		if err := src.Accounts.CreateAccount(t.Context(), jid.MustParse(fmt.Sprintf("u%02d@example.org", i)), nil); err != nil {
			t.Fatal(err)
		}
	}
	var dump bytes.Buffer
	if _, err := transfer.Export(t.Context(), src, &dump, transfer.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	dst := openSQLite(t)
	if _, err := transfer.Import(t.Context(), dst, bytes.NewReader(dump.Bytes()), "", transfer.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := transfer.Import(t.Context(), dst, bytes.NewReader(dump.Bytes()), "", transfer.ImportOptions{})
	var ce *transfer.ConflictError
	if !errors.As(err, &ce) || ce.Total != 25 || len(ce.Records) != 20 || ce.Records[0] != "account u00@example.org" {
		t.Fatalf("second import: %v", err)
	}
	if !strings.Contains(err.Error(), "25 records already exist") || !strings.Contains(err.Error(), "and 5 more") {
		t.Fatalf("message %q", err)
	}
}
