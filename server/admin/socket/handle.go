package socket

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/parley-xmpp/parley/server/admin"
)

// Args are the arguments of every operation; each uses some.
type Args struct {
	// Domain filters sessions and users.
	Domain string `json:"domain,omitempty"`
	// JID is the target of kick and of the user operations.
	JID string `json:"jid,omitempty"`
	// Reason is a kick's stream error text.
	Reason string `json:"reason,omitempty"`
	// Password is the password of user_add and user_passwd.
	Password string `json:"password,omitempty"`
	// Module and Level are log_level's: an empty Level only reads the
	// levels.
	Module string `json:"module,omitempty"`
	Level  string `json:"level,omitempty"`
	// Text is the announcement.
	Text string `json:"text,omitempty"`
}

// ops maps operation names to admin.Ops methods.
var ops = map[string]func(ctx context.Context, o *admin.Ops, a Args) (any, error){
	"status":   func(ctx context.Context, o *admin.Ops, _ Args) (any, error) { return o.Status(ctx), nil },
	"sessions": func(ctx context.Context, o *admin.Ops, a Args) (any, error) { return o.Sessions(ctx, a.Domain) },
	"kick":     func(ctx context.Context, o *admin.Ops, a Args) (any, error) { return o.Kick(ctx, a.JID, a.Reason) },
	"user_add": func(ctx context.Context, o *admin.Ops, a Args) (any, error) {
		return nil, o.AddUser(ctx, a.JID, a.Password)
	},
	"user_passwd": func(ctx context.Context, o *admin.Ops, a Args) (any, error) {
		return nil, o.SetPassword(ctx, a.JID, a.Password)
	},
	"user_del":     func(ctx context.Context, o *admin.Ops, a Args) (any, error) { return o.DeleteUser(ctx, a.JID) },
	"user_disable": func(ctx context.Context, o *admin.Ops, a Args) (any, error) { return o.DisableUser(ctx, a.JID) },
	"user_enable":  func(ctx context.Context, o *admin.Ops, a Args) (any, error) { return nil, o.EnableUser(ctx, a.JID) },
	"user_list":    func(ctx context.Context, o *admin.Ops, a Args) (any, error) { return o.ListUsers(ctx, a.Domain) },
	"reload":       func(ctx context.Context, o *admin.Ops, _ Args) (any, error) { return o.Reload(ctx) },
	"log_level": func(ctx context.Context, o *admin.Ops, a Args) (any, error) {
		if a.Level == "" {
			return o.LogLevels(), nil
		}
		return o.SetLogLevel(ctx, a.Module, a.Level)
	},
	"announce": func(ctx context.Context, o *admin.Ops, a Args) (any, error) { return o.Announce(ctx, a.Text) },
	"rooms":    func(ctx context.Context, o *admin.Ops, _ Args) (any, error) { return o.Rooms(ctx) },
}

// Handle runs one request: the operations are status, sessions, kick,
// user_add, user_passwd, user_del, user_disable, user_enable, user_list,
// reload, log_level, announce and rooms, with the Args they use.
func (s *Server) Handle(ctx context.Context, req Request) Response {
	fn, ok := ops[req.Op]
	if !ok {
		return Response{Error: fmt.Sprintf("admin socket: unknown operation %q", req.Op), Code: "unknown_op"}
	}
	var a Args
	if len(req.Args) > 0 {
		if err := json.Unmarshal(req.Args, &a); err != nil {
			return Response{Error: fmt.Sprintf("admin socket: the arguments of %s: %v", req.Op, err), Code: "invalid"}
		}
	}
	res, err := fn(ctx, s.ops, a)
	if err != nil {
		return Response{Error: err.Error(), Code: code(err)}
	}
	b, err := json.Marshal(res)
	if err != nil {
		return Response{Error: fmt.Sprintf("admin socket: encoding the result of %s: %v", req.Op, err), Code: "internal"}
	}
	return Response{OK: true, Result: b}
}

// code classifies err for Response.Code.
func code(err error) string {
	switch {
	case errors.Is(err, admin.ErrInvalid):
		return "invalid"
	case errors.Is(err, admin.ErrUnavailable):
		return "unavailable"
	case errors.Is(err, admin.ErrNoAccount):
		return "no_account"
	case errors.Is(err, admin.ErrAccountExists):
		return "exists"
	}
	return "internal"
}
