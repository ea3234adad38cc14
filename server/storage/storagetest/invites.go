package storagetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/storage"
)

var inviteTests = []subtest{
	{"CreateAndGet", func(t *testing.T, s storage.Stores) {
		ctx := t.Context()
		created := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
		inv := storage.Invite{Token: "tok1", Domain: "example.org", Username: "alice", MaxUses: 2,
			Created: created, Expires: created.Add(time.Hour)}
		noErr(t, "CreateInvite", s.Invites.CreateInvite(ctx, inv))
		wantErr(t, "CreateInvite twice", s.Invites.CreateInvite(ctx, inv), storage.ErrExists)
		got, err := s.Invites.Invite(ctx, "tok1")
		noErr(t, "Invite", err)
		if got.Token != "tok1" || got.Domain != "example.org" || got.Username != "alice" || got.MaxUses != 2 ||
			got.Uses != 0 || !got.Created.Equal(created) || !got.Expires.Equal(created.Add(time.Hour)) {
			t.Fatalf("Invite = %+v, want %+v", got, inv)
		}
		_, err = s.Invites.Invite(ctx, "nope")
		wantErr(t, "Invite(unknown)", err, storage.ErrNotFound)
	}},
	{"UseCountsAndExhausts", func(t *testing.T, s storage.Stores) {
		ctx := t.Context()
		now := time.Now()
		noErr(t, "CreateInvite", s.Invites.CreateInvite(ctx, storage.Invite{Token: "t", Domain: "d", MaxUses: 2, Created: now}))
		for i := 1; i <= 2; i++ {
			got, err := s.Invites.UseInvite(ctx, "t", now)
			noErr(t, "UseInvite", err)
			if got.Uses != i {
				t.Fatalf("use %d: Uses = %d", i, got.Uses)
			}
		}
		_, err := s.Invites.UseInvite(ctx, "t", now)
		wantErr(t, "UseInvite(used up)", err, storage.ErrNotFound)
		_, err = s.Invites.UseInvite(ctx, "unknown", now)
		wantErr(t, "UseInvite(unknown)", err, storage.ErrNotFound)
		got, err := s.Invites.Invite(ctx, "t")
		noErr(t, "Invite", err)
		if got.Uses != 2 || got.Valid(now) {
			t.Fatalf("after use: %+v", got)
		}
	}},
	{"Expiry", func(t *testing.T, s storage.Stores) {
		ctx := t.Context()
		now := time.Now()
		noErr(t, "CreateInvite", s.Invites.CreateInvite(ctx, storage.Invite{Token: "e", Domain: "d", MaxUses: 1,
			Created: now, Expires: now.Add(time.Minute)}))
		_, err := s.Invites.UseInvite(ctx, "e", now.Add(2*time.Minute))
		wantErr(t, "UseInvite(expired)", err, storage.ErrNotFound)
		_, err = s.Invites.UseInvite(ctx, "e", now)
		noErr(t, "UseInvite(in time)", err)
	}},
	{"DeleteAndList", func(t *testing.T, s storage.Stores) {
		ctx := t.Context()
		base := time.Now()
		for i, tok := range []string{"b", "a", "c"} {
			noErr(t, "CreateInvite", s.Invites.CreateInvite(ctx, storage.Invite{Token: tok, Domain: "d", MaxUses: 1,
				Created: base.Add(time.Duration(i) * time.Second)}))
		}
		noErr(t, "DeleteInvite", s.Invites.DeleteInvite(ctx, "a"))
		wantErr(t, "DeleteInvite twice", s.Invites.DeleteInvite(ctx, "a"), storage.ErrNotFound)
		list, err := s.Invites.ListInvites(ctx)
		noErr(t, "ListInvites", err)
		if len(list) != 2 || list[0].Token != "b" || list[1].Token != "c" {
			t.Fatalf("ListInvites = %+v", list)
		}
	}},
}

var statusTests = []subtest{
	{"DisableAndEnable", func(t *testing.T, s storage.Stores) {
		ctx := t.Context()
		create(t, s, alice)
		d, err := s.Status.Disabled(ctx, alice)
		noErr(t, "Disabled", err)
		if d {
			t.Fatal("a new account is disabled")
		}
		noErr(t, "SetDisabled(true)", s.Status.SetDisabled(ctx, alice, true))
		if d, err = s.Status.Disabled(ctx, alice); err != nil || !d {
			t.Fatalf("Disabled after disabling = %v, %v", d, err)
		}
		// The account and its keys stay.
		if _, err := s.Accounts.Keys(ctx, alice); err != nil {
			t.Fatalf("Keys of a disabled account: %v", err)
		}
		noErr(t, "SetDisabled(false)", s.Status.SetDisabled(ctx, alice, false))
		if d, err = s.Status.Disabled(ctx, alice); err != nil || d {
			t.Fatalf("Disabled after enabling = %v, %v", d, err)
		}
	}},
	{"LoginKeys", func(t *testing.T, s storage.Stores) {
		ctx := t.Context()
		lr, ok := s.Accounts.(storage.LoginReader)
		if !ok {
			t.Log("the backend reads keys and status with separate queries")
			return
		}
		_, _, err := lr.LoginKeys(ctx, bob)
		wantErr(t, "LoginKeys(unknown)", err, storage.ErrNotFound)
		keys := []storage.SCRAMKey{key("SHA-1", 10), key("SHA-256", 20)}
		noErr(t, "CreateAccount", s.Accounts.CreateAccount(ctx, alice, keys))
		for _, disabled := range []bool{false, true, false} {
			noErr(t, "SetDisabled", s.Status.SetDisabled(ctx, alice, disabled))
			got, d, err := lr.LoginKeys(ctx, alice)
			noErr(t, "LoginKeys", err)
			if d != disabled || !reflect.DeepEqual(got, keys) {
				t.Fatalf("LoginKeys = %+v, disabled %v; want %+v, %v", got, d, keys, disabled)
			}
		}
		// An account without keys: found, no keys, its flag.
		noErr(t, "CreateAccount", s.Accounts.CreateAccount(ctx, greek, nil))
		noErr(t, "SetDisabled", s.Status.SetDisabled(ctx, greek, true))
		if got, d, err := lr.LoginKeys(ctx, greek); err != nil || len(got) != 0 || !d {
			t.Fatalf("LoginKeys of an account without keys = %+v, %v, %v", got, d, err)
		}
	}},
	{"UnknownAccount", func(t *testing.T, s storage.Stores) {
		ctx := t.Context()
		wantErr(t, "SetDisabled(unknown)", s.Status.SetDisabled(ctx, bob, true), storage.ErrNotFound)
		_, err := s.Status.Disabled(ctx, bob)
		wantErr(t, "Disabled(unknown)", err, storage.ErrNotFound)
	}},
	{"RecreatedAccountIsEnabled", func(t *testing.T, s storage.Stores) {
		ctx := t.Context()
		create(t, s, greek)
		noErr(t, "SetDisabled", s.Status.SetDisabled(ctx, greek, true))
		noErr(t, "DeleteAccount", s.Accounts.DeleteAccount(ctx, greek))
		create(t, s, greek)
		if d, err := s.Status.Disabled(ctx, greek); err != nil || d {
			t.Fatalf("Disabled of a re-created account = %v, %v", d, err)
		}
	}},
}
