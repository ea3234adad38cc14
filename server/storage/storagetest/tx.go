package storagetest

import (
	"errors"
	"testing"

	"github.com/parley-xmpp/parley/server/storage"
)

// txTests check storage.Transactor: all of InTx or nothing.
var txTests = []subtest{
	{"CommitKeepsEverything", testTxCommit},
	{"FailureKeepsNothing", testTxRollback},
	{"FailedCallInsideLeavesNothing", testTxFailedCall},
}

// transactor returns the backend's Transactor, failing the test if it has
// none.
func transactor(t *testing.T, s storage.Stores) storage.Transactor {
	t.Helper()
	tr, ok := s.Accounts.(storage.Transactor)
	if !ok {
		t.Fatalf("%T does not implement storage.Transactor", s.Accounts)
	}
	return tr
}

// txWrites creates bob with a roster item and an archived message.
func txWrites(t *testing.T, s storage.Stores) error {
	ctx := t.Context()
	if err := s.Accounts.CreateAccount(ctx, bob, []storage.SCRAMKey{key("SHA-256", 2)}); err != nil {
		return err
	}
	if _, err := s.Roster.PutRosterItem(ctx, bob, storage.RosterItem{Contact: alice, Name: "Alice"}); err != nil {
		return err
	}
	return s.Archive.AppendArchive(ctx, bob, storage.ArchivedMessage{ID: "tx-1", With: alice, At: archiveBase, Stanza: []byte("<m/>")})
}

func testTxCommit(t *testing.T, s storage.Stores) {
	err := transactor(t, s).InTx(t.Context(), func(tx storage.Stores) error { return txWrites(t, tx) })
	noErr(t, "InTx", err)
	if ok, err := s.Accounts.AccountExists(t.Context(), bob); err != nil || !ok {
		t.Fatalf("bob after commit: %v %v", ok, err)
	}
	items, _, err := s.Roster.RosterItems(t.Context(), bob)
	if err != nil || len(items) != 1 {
		t.Fatalf("bob's roster after commit: %v %v", items, err)
	}
	page, err := s.Archive.QueryArchive(t.Context(), bob, storage.ArchiveQuery{Index: -1, Max: -1})
	if err != nil || len(page.Messages) != 1 {
		t.Fatalf("bob's archive after commit: %d messages, %v", len(page.Messages), err)
	}
}

func testTxRollback(t *testing.T, s storage.Stores) {
	create(t, s, alice)
	boom := errors.New("boom")
	err := transactor(t, s).InTx(t.Context(), func(tx storage.Stores) error {
		if err := txWrites(t, tx); err != nil {
			return err
		}
		if err := tx.Accounts.DeleteAccount(t.Context(), alice); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx = %v, want fn's error", err)
	}
	if ok, err := s.Accounts.AccountExists(t.Context(), bob); err != nil || ok {
		t.Fatalf("bob exists after a rollback: %v %v", ok, err)
	}
	if ok, err := s.Accounts.AccountExists(t.Context(), alice); err != nil || !ok {
		t.Fatalf("alice's deletion survived a rollback: %v %v", ok, err)
	}
	page, err := s.Archive.QueryArchive(t.Context(), bob, storage.ArchiveQuery{Index: -1, Max: -1})
	if err != nil || len(page.Messages) != 0 {
		t.Fatalf("bob's archive after rollback: %d messages, %v", len(page.Messages), err)
	}
	// The store works normally afterwards.
	create(t, s, bob)
}

func testTxFailedCall(t *testing.T, s storage.Stores) {
	create(t, s, alice)
	err := transactor(t, s).InTx(t.Context(), func(tx storage.Stores) error {
		// A call that fails inside leaves nothing and fn goes on.
		wantErr(t, "CreateAccount(alice) inside InTx", tx.Accounts.CreateAccount(t.Context(), alice, nil), storage.ErrExists)
		if err := txWrites(t, tx); err != nil {
			return err
		}
		wantErr(t, "duplicate AppendArchive inside InTx",
			tx.Archive.AppendArchive(t.Context(), bob, storage.ArchivedMessage{ID: "tx-1", With: alice, At: archiveBase, Stanza: []byte("<m/>")}),
			storage.ErrExists)
		return nil
	})
	noErr(t, "InTx", err)
	keys, err := s.Accounts.Keys(t.Context(), alice)
	if err != nil || len(keys) != 1 {
		t.Fatalf("alice's keys: %v %v", keys, err)
	}
	if ok, err := s.Accounts.AccountExists(t.Context(), bob); err != nil || !ok {
		t.Fatalf("bob after commit: %v %v", ok, err)
	}
}
