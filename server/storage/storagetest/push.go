package storagetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// pushTests check storage.Push (XEP-0357 registrations).
var pushTests = []subtest{
	{"EnableReplaceDisable", testPushEnableReplaceDisable},
	{"DisableAllNodesOfService", testPushDisableService},
	{"UsersApart", testPushUsersApart},
	{"UnknownAccount", testPushUnknownAccount},
	{"AccountDeletion", testPushAccountDeletion},
}

var (
	pushA = jid.MustParse("push.example.com")
	pushB = jid.MustParse("push-5.client.example")
)

func pushReg(service jid.JID, node string, opts []byte) storage.PushRegistration {
	return storage.PushRegistration{Service: service, Node: node, Resource: "phone", Options: opts,
		Created: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)}
}

func pushList(t *testing.T, s storage.Stores, user jid.JID) []storage.PushRegistration {
	t.Helper()
	l, err := s.Push.PushRegistrations(t.Context(), user)
	noErr(t, "PushRegistrations", err)
	return l
}

func testPushEnableReplaceDisable(t *testing.T, s storage.Stores) {
	create(t, s, alice)
	ctx := t.Context()
	noErr(t, "PutPush", s.Push.PutPush(ctx, alice, pushReg(pushB, "n2", nil)))
	first := pushReg(pushA, "n1", []byte(`<x xmlns="jabber:x:data"/>`))
	noErr(t, "PutPush", s.Push.PutPush(ctx, alice, first))
	l := pushList(t, s, alice)
	// "push-5.client.example" sorts before "push.example.com".
	if len(l) != 2 || l[0].Service != pushB || l[1].Service != pushA {
		t.Fatalf("registrations = %+v, want sorted by service", l)
	}
	if !bytes.Equal(l[1].Options, first.Options) || l[1].Resource != "phone" || !l[1].Created.Equal(first.Created) || len(l[0].Options) != 0 {
		t.Fatalf("stored registration = %+v, want %+v", l[1], first)
	}
	// The same service and node again: the last options win.
	again := pushReg(pushA, "n1", []byte(`<x xmlns="jabber:x:data" type="submit"/>`))
	again.IncludeBody, again.Resource = true, "tablet"
	noErr(t, "PutPush", s.Push.PutPush(ctx, alice, again))
	l = pushList(t, s, alice)
	if len(l) != 2 || !bytes.Equal(l[1].Options, again.Options) || !l[1].IncludeBody || l[1].Resource != "tablet" {
		t.Fatalf("after re-enabling: %+v", l)
	}
	noErr(t, "DeletePush", s.Push.DeletePush(ctx, alice, pushA, "n1"))
	noErr(t, "DeletePush absent", s.Push.DeletePush(ctx, alice, pushA, "n1"))
	if l = pushList(t, s, alice); len(l) != 1 || l[0].Service != pushB {
		t.Fatalf("after disabling: %+v", l)
	}
}

func testPushDisableService(t *testing.T, s storage.Stores) {
	create(t, s, alice)
	ctx := t.Context()
	for _, n := range []string{"a", "b", ""} {
		noErr(t, "PutPush", s.Push.PutPush(ctx, alice, pushReg(pushA, n, nil)))
	}
	noErr(t, "PutPush", s.Push.PutPush(ctx, alice, pushReg(pushB, "a", nil)))
	noErr(t, "DeletePush", s.Push.DeletePush(ctx, alice, pushA, ""))
	if l := pushList(t, s, alice); len(l) != 1 || l[0].Service != pushB {
		t.Fatalf("after disabling the service: %+v", l)
	}
}

func testPushUsersApart(t *testing.T, s storage.Stores) {
	create(t, s, alice)
	create(t, s, unicode)
	noErr(t, "PutPush", s.Push.PutPush(t.Context(), unicode, pushReg(pushA, "n", nil)))
	if l := pushList(t, s, alice); len(l) != 0 {
		t.Fatalf("alice sees %+v", l)
	}
	if l := pushList(t, s, unicode); len(l) != 1 {
		t.Fatalf("registrations of %s: %+v", unicode, l)
	}
}

func testPushUnknownAccount(t *testing.T, s storage.Stores) {
	wantErr(t, "PutPush without account", s.Push.PutPush(t.Context(), bob, pushReg(pushA, "n", nil)), storage.ErrNotFound)
}

func testPushAccountDeletion(t *testing.T, s storage.Stores) {
	create(t, s, alice)
	noErr(t, "PutPush", s.Push.PutPush(t.Context(), alice, pushReg(pushA, "n", nil)))
	noErr(t, "DeleteAccount", s.Accounts.DeleteAccount(t.Context(), alice))
	create(t, s, alice)
	if l := pushList(t, s, alice); len(l) != 0 {
		t.Fatalf("registrations survived the account: %+v", l)
	}
}
