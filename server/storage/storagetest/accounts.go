package storagetest

import (
	"reflect"
	"slices"
	"testing"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

var accountTests = []subtest{
	{"IterationCounts", func(t *testing.T, s storage.Stores) {
		ic, ok := s.Accounts.(storage.IterationCounter)
		if !ok {
			t.Skip("the backend does not count iterations")
		}
		ctx := t.Context()
		got, err := ic.IterationCounts(ctx)
		noErr(t, "IterationCounts", err)
		if len(got) != 0 {
			t.Fatalf("IterationCounts of an empty store = %v", got)
		}
		withIter := func(n int, hashes ...string) []storage.SCRAMKey {
			var ks []storage.SCRAMKey
			for i, h := range hashes {
				k := key(h, byte(i+1))
				k.Iterations = n
				ks = append(ks, k)
			}
			return ks
		}
		noErr(t, "CreateAccount", s.Accounts.CreateAccount(ctx, alice, withIter(4096, "SHA-1", "SHA-256")))
		noErr(t, "CreateAccount", s.Accounts.CreateAccount(ctx, bob, withIter(4096, "SHA-256")))
		noErr(t, "CreateAccount", s.Accounts.CreateAccount(ctx, carol, withIter(10000, "SHA-1", "SHA-256")))
		got, err = ic.IterationCounts(ctx)
		noErr(t, "IterationCounts", err)
		if !reflect.DeepEqual(got, map[int]int{4096: 2, 10000: 1}) {
			t.Fatalf("IterationCounts = %v, want accounts per count {4096: 2, 10000: 1}", got)
		}
	}},
	{"CreateAndKeys", func(t *testing.T, s storage.Stores) {
		ctx := t.Context()
		a := s.Accounts
		if ok, err := a.AccountExists(ctx, alice); err != nil || ok {
			t.Fatalf("AccountExists before create = %v, %v; want false, nil", ok, err)
		}
		keys := []storage.SCRAMKey{key("SHA-1", 10), key("SHA-256", 20)}
		keys[0].StoredKey, keys[0].ServerKey = keys[0].StoredKey[:20], keys[0].ServerKey[:20]
		noErr(t, "CreateAccount", a.CreateAccount(ctx, alice, keys))
		if ok, err := a.AccountExists(ctx, alice); err != nil || !ok {
			t.Fatalf("AccountExists after create = %v, %v; want true, nil", ok, err)
		}
		got, err := a.Keys(ctx, alice)
		noErr(t, "Keys", err)
		if !reflect.DeepEqual(got, keys) {
			t.Fatalf("Keys = %+v, want %+v", got, keys)
		}
		// Other accounts are unaffected.
		if ok, err := a.AccountExists(ctx, bob); err != nil || ok {
			t.Fatalf("AccountExists(bob) = %v, %v; want false, nil", ok, err)
		}
	}},
	{"CreateDuplicate", func(t *testing.T, s storage.Stores) {
		ctx := t.Context()
		create(t, s, alice)
		err := s.Accounts.CreateAccount(ctx, alice, []storage.SCRAMKey{key("SHA-256", 99)})
		wantErr(t, "CreateAccount twice", err, storage.ErrExists)
		got, err := s.Accounts.Keys(ctx, alice)
		noErr(t, "Keys", err)
		if len(got) != 1 || !reflect.DeepEqual(got[0], key("SHA-256", 1)) {
			t.Fatalf("failed duplicate create changed keys: %+v", got)
		}
	}},
	{"NotFound", func(t *testing.T, s storage.Stores) {
		ctx := t.Context()
		_, err := s.Accounts.Keys(ctx, alice)
		wantErr(t, "Keys of unknown user", err, storage.ErrNotFound)
		err = s.Accounts.SetKeys(ctx, alice, []storage.SCRAMKey{key("SHA-1", 3)})
		wantErr(t, "SetKeys of unknown user", err, storage.ErrNotFound)
		err = s.Accounts.DeleteAccount(ctx, alice)
		wantErr(t, "DeleteAccount of unknown user", err, storage.ErrNotFound)
		if ok, _ := s.Accounts.AccountExists(ctx, alice); ok {
			t.Fatal("SetKeys of unknown user created an account")
		}
	}},
	{"SetKeysReplaces", func(t *testing.T, s storage.Stores) {
		ctx := t.Context()
		create(t, s, alice)
		create(t, s, bob)
		repl := []storage.SCRAMKey{key("SHA-512", 50), key("SHA-1", 60)}
		noErr(t, "SetKeys", s.Accounts.SetKeys(ctx, alice, repl))
		got, err := s.Accounts.Keys(ctx, alice)
		noErr(t, "Keys", err)
		if !reflect.DeepEqual(got, repl) {
			t.Fatalf("Keys after SetKeys = %+v, want %+v", got, repl)
		}
		gotBob, err := s.Accounts.Keys(ctx, bob)
		noErr(t, "Keys(bob)", err)
		if !reflect.DeepEqual(gotBob, []storage.SCRAMKey{key("SHA-256", 1)}) {
			t.Fatalf("SetKeys(alice) changed bob's keys: %+v", gotBob)
		}
	}},
	{"KeysAreCopies", func(t *testing.T, s storage.Stores) {
		ctx := t.Context()
		k := key("SHA-256", 7)
		noErr(t, "CreateAccount", s.Accounts.CreateAccount(ctx, alice, []storage.SCRAMKey{k}))
		k.Salt[0] ^= 0xff // the caller reuses its buffer
		got, err := s.Accounts.Keys(ctx, alice)
		noErr(t, "Keys", err)
		if !reflect.DeepEqual(got[0], key("SHA-256", 7)) {
			t.Fatal("store kept a reference to the caller's salt")
		}
		got[0].StoredKey[0] ^= 0xff
		again, err := s.Accounts.Keys(ctx, alice)
		noErr(t, "Keys", err)
		if !reflect.DeepEqual(again[0], key("SHA-256", 7)) {
			t.Fatal("mutating returned keys changed the store")
		}
	}},
	{"List", func(t *testing.T, s storage.Stores) {
		ctx := t.Context()
		for _, u := range []jid.JID{carol, bob, unicode, alice, juliet} {
			create(t, s, u)
		}
		got, err := s.Accounts.ListAccounts(ctx, "example.org")
		noErr(t, "ListAccounts(example.org)", err)
		if want := []string{"alice@example.org", "bob@example.org"}; !slices.Equal(jidStrings(got), want) {
			t.Fatalf("ListAccounts(example.org) = %v, want %v", jidStrings(got), want)
		}
		got, err = s.Accounts.ListAccounts(ctx, "例え.jp")
		noErr(t, "ListAccounts(例え.jp)", err)
		if want := []string{unicode.String()}; !slices.Equal(jidStrings(got), want) {
			t.Fatalf("ListAccounts(例え.jp) = %v, want %v", jidStrings(got), want)
		}
		got, err = s.Accounts.ListAccounts(ctx, "")
		noErr(t, "ListAccounts(all)", err)
		all := jidStrings(got)
		want := jidStrings([]jid.JID{alice, bob, carol, juliet, unicode})
		slices.Sort(want)
		if !slices.Equal(all, want) {
			t.Fatalf("ListAccounts(all) = %v, want %v", all, want)
		}
		got, err = s.Accounts.ListAccounts(ctx, "nowhere.example")
		noErr(t, "ListAccounts(nowhere)", err)
		if len(got) != 0 {
			t.Fatalf("ListAccounts(nowhere) = %v, want none", got)
		}
	}},
	{"Unicode", func(t *testing.T, s storage.Stores) {
		ctx := t.Context()
		create(t, s, unicode)
		create(t, s, greek)
		for _, u := range []jid.JID{unicode, greek} {
			if ok, err := s.Accounts.AccountExists(ctx, u); err != nil || !ok {
				t.Fatalf("AccountExists(%s) = %v, %v", u, ok, err)
			}
		}
		// The same address spelled in upper case enforces to the same JID
		// and finds the account.
		upper := jid.MustParse("ĴÜRGEN@例え.jp")
		if ok, err := s.Accounts.AccountExists(ctx, upper); err != nil || !ok {
			t.Fatalf("AccountExists(%s) (case-folded form of %s) = %v, %v", upper, unicode, ok, err)
		}
		noErr(t, "DeleteAccount", s.Accounts.DeleteAccount(ctx, unicode))
		if ok, _ := s.Accounts.AccountExists(ctx, unicode); ok {
			t.Fatal("unicode account still exists after delete")
		}
		if ok, _ := s.Accounts.AccountExists(ctx, greek); !ok {
			t.Fatal("deleting one unicode account deleted another")
		}
	}},
}
