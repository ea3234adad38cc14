package storage

import (
	"context"
	"time"

	"github.com/parley-xmpp/parley/xmpp/jid"
)

// PushRegistration is an app server's push node a user enabled
// notifications to (XEP-0357 §5), identified by the service JID and node.
type PushRegistration struct {
	// Service is the JID of the XMPP Push Service.
	Service jid.JID
	// Node is the provisioned node ("" when the client gave none).
	Node string
	// Resource is the resource of the session that enabled it: the
	// device the notifications stand in for.
	Resource string
	// Options is the publish-options data form given at enable, in the
	// standalone serialisation (see the package doc); nil when none.
	Options []byte
	// IncludeBody says the user allowed the message body in the
	// notification summary.
	IncludeBody bool
	// Created is when it was (last) enabled.
	Created time.Time
}

// Push stores push notification registrations (XEP-0357).
type Push interface {
	// PutPush enables (or re-enables, replacing the options) a service and
	// node for user; ErrNotFound when there is no such account.
	PutPush(ctx context.Context, user jid.JID, reg PushRegistration) error
	// DeletePush disables one service and node, or every node of the
	// service when node is empty. Absent registrations are no error.
	DeletePush(ctx context.Context, user, service jid.JID, node string) error
	// PushRegistrations lists user's registrations, sorted by service then
	// node.
	PushRegistrations(ctx context.Context, user jid.JID) ([]PushRegistration, error)
}
