package storagetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/storage"
)

// fastTests check storage.FastTokens (XEP-0484 tokens).
var fastTests = []subtest{
	{"SlotsAndRotation", testFastSlots},
	{"ReplayCounter", testFastReplay},
	{"ClientsAndUsersApart", testFastApart},
	{"PasswordChangeRevokes", testFastPasswordChange},
	{"AccountDeletionRevokes", testFastAccountDeletion},
	{"UnknownAccount", testFastUnknownAccount},
}

const (
	clientA = "d4565fa7-4d72-4749-b3d3-740edbf87770"
	clientB = "0d3a5a4e-3d6b-4c7e-9a55-0d3c1e0f6b1a"
)

// fastToken returns a token whose bytes derive from seed.
func fastToken(seed byte, expiry time.Time) storage.FastToken {
	return storage.FastToken{
		ID:        bytes.Repeat([]byte{seed}, 16),
		Key:       bytes.Repeat([]byte{seed + 1}, 32),
		Mechanism: "HT-SHA-256-NONE",
		Expiry:    expiry,
	}
}

// slots returns the client's tokens by slot, failing on duplicates.
func slots(t *testing.T, s storage.Stores, client string) map[storage.FastSlot]storage.FastToken {
	t.Helper()
	list, err := s.Fast.FastTokens(t.Context(), alice, client)
	noErr(t, "FastTokens", err)
	out := map[storage.FastSlot]storage.FastToken{}
	for _, tk := range list {
		if _, dup := out[tk.Slot]; dup {
			t.Fatalf("two tokens in slot %d", tk.Slot)
		}
		out[tk.Slot] = tk
	}
	return out
}

func testFastSlots(t *testing.T, s storage.Stores) {
	ctx := t.Context()
	create(t, s, alice)
	exp := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	one := fastToken(1, exp)
	noErr(t, "PutFastToken", s.Fast.PutFastToken(ctx, alice, clientA, one))
	got := slots(t, s, clientA)
	n, ok := got[storage.FastNew]
	if !ok || len(got) != 1 || !bytes.Equal(n.ID, one.ID) || !bytes.Equal(n.Key, one.Key) || n.Mechanism != one.Mechanism || !n.Expiry.Equal(exp) || n.Count != 0 {
		t.Fatalf("after put: %+v", got)
	}
	// A second unused token replaces the first one.
	two := fastToken(2, exp.Add(time.Hour))
	noErr(t, "PutFastToken", s.Fast.PutFastToken(ctx, alice, clientA, two))
	got = slots(t, s, clientA)
	if len(got) != 1 || !bytes.Equal(got[storage.FastNew].ID, two.ID) {
		t.Fatalf("an unused token was not replaced: %+v", got)
	}
	wantErr(t, "UseFastToken(replaced)", s.Fast.UseFastToken(ctx, alice, clientA, one.ID, 0), storage.ErrNotFound)
	// Using it moves it to the current slot.
	noErr(t, "UseFastToken", s.Fast.UseFastToken(ctx, alice, clientA, two.ID, 0))
	got = slots(t, s, clientA)
	if len(got) != 1 || !bytes.Equal(got[storage.FastCurrent].ID, two.ID) {
		t.Fatalf("after use: %+v", got)
	}
	// A rotation: the new token waits beside the current one...
	three := fastToken(3, exp.Add(2*time.Hour))
	noErr(t, "PutFastToken", s.Fast.PutFastToken(ctx, alice, clientA, three))
	got = slots(t, s, clientA)
	if len(got) != 2 || !bytes.Equal(got[storage.FastCurrent].ID, two.ID) || !bytes.Equal(got[storage.FastNew].ID, three.ID) {
		t.Fatalf("after rotation: %+v", got)
	}
	// ...the current one still works...
	noErr(t, "UseFastToken(current)", s.Fast.UseFastToken(ctx, alice, clientA, two.ID, 0))
	// ...until the new one is used, which revokes it.
	noErr(t, "UseFastToken(new)", s.Fast.UseFastToken(ctx, alice, clientA, three.ID, 0))
	got = slots(t, s, clientA)
	if len(got) != 1 || !bytes.Equal(got[storage.FastCurrent].ID, three.ID) {
		t.Fatalf("after using the rotated token: %+v", got)
	}
	wantErr(t, "UseFastToken(revoked)", s.Fast.UseFastToken(ctx, alice, clientA, two.ID, 0), storage.ErrNotFound)
	noErr(t, "DeleteFastToken", s.Fast.DeleteFastToken(ctx, alice, clientA, three.ID))
	noErr(t, "DeleteFastToken(absent)", s.Fast.DeleteFastToken(ctx, alice, clientA, three.ID))
	if got := slots(t, s, clientA); len(got) != 0 {
		t.Fatalf("after delete: %+v", got)
	}
}

func testFastReplay(t *testing.T, s storage.Stores) {
	ctx := t.Context()
	create(t, s, alice)
	tk := fastToken(1, time.Now().Add(time.Hour))
	noErr(t, "PutFastToken", s.Fast.PutFastToken(ctx, alice, clientA, tk))
	noErr(t, "UseFastToken(5)", s.Fast.UseFastToken(ctx, alice, clientA, tk.ID, 5))
	wantErr(t, "UseFastToken(5 again)", s.Fast.UseFastToken(ctx, alice, clientA, tk.ID, 5), storage.ErrReplayed)
	wantErr(t, "UseFastToken(4)", s.Fast.UseFastToken(ctx, alice, clientA, tk.ID, 4), storage.ErrReplayed)
	noErr(t, "UseFastToken(no count)", s.Fast.UseFastToken(ctx, alice, clientA, tk.ID, 0))
	noErr(t, "UseFastToken(6)", s.Fast.UseFastToken(ctx, alice, clientA, tk.ID, 6))
	if got := slots(t, s, clientA)[storage.FastCurrent]; got.Count != 6 {
		t.Fatalf("count = %d, want 6", got.Count)
	}
}

func testFastApart(t *testing.T, s storage.Stores) {
	ctx := t.Context()
	create(t, s, alice)
	create(t, s, bob)
	exp := time.Now().Add(time.Hour)
	noErr(t, "PutFastToken A", s.Fast.PutFastToken(ctx, alice, clientA, fastToken(1, exp)))
	noErr(t, "PutFastToken B", s.Fast.PutFastToken(ctx, alice, clientB, fastToken(2, exp)))
	noErr(t, "PutFastToken bob", s.Fast.PutFastToken(ctx, bob, clientA, fastToken(3, exp)))
	wantErr(t, "UseFastToken(other client's)", s.Fast.UseFastToken(ctx, alice, clientA, fastToken(2, exp).ID, 0), storage.ErrNotFound)
	wantErr(t, "UseFastToken(other user's)", s.Fast.UseFastToken(ctx, alice, clientA, fastToken(3, exp).ID, 0), storage.ErrNotFound)
	noErr(t, "DeleteFastTokens", s.Fast.DeleteFastTokens(ctx, alice))
	if got := slots(t, s, clientA); len(got) != 0 {
		t.Fatalf("alice's tokens after DeleteFastTokens: %+v", got)
	}
	list, err := s.Fast.FastTokens(ctx, bob, clientA)
	noErr(t, "FastTokens(bob)", err)
	if len(list) != 1 {
		t.Fatalf("bob's tokens: %+v", list)
	}
}

func testFastPasswordChange(t *testing.T, s storage.Stores) {
	ctx := t.Context()
	create(t, s, alice)
	noErr(t, "PutFastToken", s.Fast.PutFastToken(ctx, alice, clientA, fastToken(1, time.Now().Add(time.Hour))))
	noErr(t, "SetKeys", s.Accounts.SetKeys(ctx, alice, []storage.SCRAMKey{key("SHA-256", 9)}))
	if got := slots(t, s, clientA); len(got) != 0 {
		t.Fatalf("tokens survived a password change: %+v", got)
	}
}

func testFastAccountDeletion(t *testing.T, s storage.Stores) {
	ctx := t.Context()
	create(t, s, alice)
	noErr(t, "PutFastToken", s.Fast.PutFastToken(ctx, alice, clientA, fastToken(1, time.Now().Add(time.Hour))))
	noErr(t, "DeleteAccount", s.Accounts.DeleteAccount(ctx, alice))
	create(t, s, alice)
	if got := slots(t, s, clientA); len(got) != 0 {
		t.Fatalf("tokens survived the account: %+v", got)
	}
}

func testFastUnknownAccount(t *testing.T, s storage.Stores) {
	wantErr(t, "PutFastToken", s.Fast.PutFastToken(t.Context(), alice, clientA, fastToken(1, time.Now())), storage.ErrNotFound)
}
