package admin_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/admin"
	"github.com/parley-xmpp/parley/server/loglevel"
	"github.com/parley-xmpp/parley/xmpptest"
)

// newOps returns the operations over an in-process server.
func newOps(t *testing.T) (*xmpptest.Server, *admin.Ops) {
	s := xmpptest.NewServer(t)
	a := s.App
	return s, admin.New(admin.Options{
		Version: "test", Started: time.Now(), Domains: a.Config().Domains,
		Sessions: a.Router().Sessions(), Route: a.Router().Route, Accounts: a.Accounts(),
		ListAccounts: a.Stores().Accounts.ListAccounts, Levels: loglevel.New(slog.LevelInfo),
	})
}

// TestArgumentErrors: bad arguments are ErrInvalid, missing accounts
// ErrNoAccount, duplicates ErrAccountExists, missing services
// ErrUnavailable; nothing changes.
func TestArgumentErrors(t *testing.T) {
	s, ops := newOps(t)
	ctx := context.Background()
	s.AddUser(t, "alice", "pw")
	for name, err := range map[string]error{
		"kick of a domain":          second(ops.Kick(ctx, "localhost", "")),
		"kick elsewhere":            second(ops.Kick(ctx, "a@elsewhere.example", "")),
		"sessions elsewhere":        second(ops.Sessions(ctx, "elsewhere.example")),
		"add with a resource":       ops.AddUser(ctx, "bob@localhost/r", "pw"),
		"add without a password":    ops.AddUser(ctx, "bob@localhost", ""),
		"add a bad username":        ops.AddUser(ctx, "bad user@localhost", "pw"),
		"add a bad password":        ops.AddUser(ctx, "bob@localhost", "\u0007"),
		"an empty announcement":     second(ops.Announce(ctx, " ")),
		"an unknown level":          second(ops.SetLogLevel(ctx, "", "loud")),
		"users of another domain":   second(ops.ListUsers(ctx, "elsewhere.example")),
		"delete an unparsable user": second(ops.DeleteUser(ctx, "@@")),
	} {
		if !errors.Is(err, admin.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if _, err := ops.DeleteUser(ctx, "nobody@localhost"); !errors.Is(err, admin.ErrNoAccount) {
		t.Errorf("delete a missing account: %v", err)
	}
	if err := ops.EnableUser(ctx, "nobody@localhost"); !errors.Is(err, admin.ErrNoAccount) {
		t.Errorf("enable a missing account: %v", err)
	}
	if err := ops.AddUser(ctx, "alice@localhost", "pw"); !errors.Is(err, admin.ErrAccountExists) {
		t.Errorf("add an existing account: %v", err)
	}
	if _, err := ops.Rooms(ctx); !errors.Is(err, admin.ErrUnavailable) {
		t.Errorf("rooms without a MUC service: %v", err)
	}
	if _, err := ops.Reload(ctx); !errors.Is(err, admin.ErrUnavailable) {
		t.Errorf("reload without a reload function: %v", err)
	}
	users, err := ops.ListUsers(ctx, "")
	if err != nil || len(users) != 1 || users[0] != (admin.User{JID: "alice@localhost"}) {
		t.Errorf("users: %v, %v", users, err)
	}
}

// TestKickOneResource: a full JID ends that session only.
func TestKickOneResource(t *testing.T) {
	s, ops := newOps(t)
	ctx := context.Background()
	s.AddUser(t, "alice", "pw")
	phone := s.Client(t, "alice", "pw", "phone")
	pc := s.Client(t, "alice", "pw", "pc")
	ended, err := ops.Kick(ctx, "alice@localhost/phone", "bye")
	if err != nil || len(ended) != 1 || ended[0] != "alice@localhost/phone" {
		t.Fatalf("kick: %v, %v", ended, err)
	}
	s.WaitSessionEnded(t, phone.JID())
	xmpptest.Sync(t, pc)
	ss, err := ops.Sessions(ctx, "localhost")
	if err != nil || len(ss) != 1 || ss[0].JID != "alice@localhost/pc" || ss[0].Transport != "tcp" {
		t.Errorf("sessions: %+v, %v", ss, err)
	}
}

func second[T any](_ T, err error) error { return err }
