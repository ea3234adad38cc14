package module

import (
	"context"

	"github.com/parley-xmpp/parley/server/session"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// Bind2Func enables a session feature a client requested inline in its
// Bind 2 request (XEP-0386), for a session that is bound but not yet
// announced to the client: req is the request element (e.g. XEP-0280's
// <enable/>). It returns the element to include in <bound/>, or nil when
// the feature defines no answer.
type Bind2Func func(ctx context.Context, s *session.Session, req *stanza.Element) *stanza.Element

// Bind2Feature is a session feature modules offer inline in Bind 2.
type Bind2Feature struct {
	// NS is the namespace of the request elements, advertised as the
	// inline feature's var.
	NS string
	Fn Bind2Func
}
