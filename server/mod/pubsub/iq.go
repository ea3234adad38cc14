package pubsub

import (
	"context"
	"errors"

	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/xmpp/disco"
	"github.com/parley-xmpp/parley/xmpp/jid"
	xpubsub "github.com/parley-xmpp/parley/xmpp/pubsub"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// pepIQ serves a <pubsub/> request to an account's bare JID.
func (m *Module) pepIQ(ctx context.Context, q *module.IQ) (*stanza.Element, error) {
	rq := &request{svc: q.To.Bare(), pep: true, from: q.From}
	res, err := m.handle(ctx, rq, q.Stanza.Type(), q.Payload)
	if err != nil || len(rq.after) == 0 {
		return res, err
	}
	reply := stanza.Result(q.Stanza, res)
	reply.Set("to", q.From.String())
	if q.Session != nil && q.Session.JID() == q.From {
		if err := q.Session.Deliver(reply); err != nil {
			m.log.WarnContext(ctx, "pubsub: reply not delivered", "to", q.From, "err", err)
		}
	} else {
		if reply.From() == "" {
			reply.Set("from", q.To.Bare().String())
		}
		m.host.Route(ctx, reply)
	}
	for _, fn := range rq.after {
		fn(ctx)
	}
	return nil, module.ErrNoReply
}

// serviceHook serves every stanza addressed to a pubsub service domain.
func (m *Module) serviceHook(svc jid.JID) module.Hook {
	return func(ctx context.Context, p *module.Packet) module.Verdict {
		switch p.Kind {
		case stanza.KindPresence:
			return module.Handled
		case stanza.KindMessage:
			// Errors bounced by notification recipients are dropped; other
			// messages are refused by the router.
			if p.Stanza.MessageType() == stanza.TypeError {
				return module.Handled
			}
			return module.Continue
		}
		st := p.Stanza
		if !st.IsRequest() {
			return module.Handled
		}
		if p.To.Local() != "" || p.To.Resource() != "" {
			return module.Continue
		}
		payload := st.Payload()
		if payload == nil {
			m.replyErr(ctx, st, stanza.Errorf(stanza.BadRequest, "an IQ request needs one payload element"))
			return module.Handled
		}
		rq := &request{svc: svc, from: p.From}
		var res *stanza.Element
		var err error
		switch {
		case payload.Name.Local == "query" && payload.Name.Space == disco.NSInfo && st.Type() == stanza.TypeGet:
			res, err = m.serviceInfo(ctx, rq, payload)
		case payload.Name.Local == "query" && payload.Name.Space == disco.NSItems && st.Type() == stanza.TypeGet:
			res, err = m.serviceItems(ctx, rq, payload)
		case payload.Name.Local == "pubsub" && (payload.Name.Space == xpubsub.NS || payload.Name.Space == xpubsub.NSOwner):
			res, err = m.handle(ctx, rq, st.Type(), payload)
		default:
			return module.Continue
		}
		if err != nil {
			m.replyErr(ctx, st, err)
			return module.Handled
		}
		m.host.Route(ctx, stanza.Result(st, res))
		for _, fn := range rq.after {
			fn(ctx)
		}
		return module.Handled
	}
}

// replyErr answers a request to the service with an error; errors other
// than *stanza.Error are logged and sent as <internal-server-error/>.
func (m *Module) replyErr(ctx context.Context, st *stanza.Element, err error) {
	var se *stanza.Error
	if !errors.As(err, &se) {
		m.log.ErrorContext(ctx, "pubsub: request failed", "from", st.From(), "err", err)
		se = stanza.Err(stanza.InternalServerError)
	}
	m.host.Route(ctx, stanza.ErrorReply(st, se))
}

// handle dispatches a <pubsub/> payload (XEP-0060 §§6–8).
func (m *Module) handle(ctx context.Context, rq *request, typ string, ps *stanza.Element) (*stanza.Element, error) {
	kids := ps.Elements()
	if len(kids) == 0 {
		return nil, stanza.Errorf(stanza.BadRequest, "empty pubsub request")
	}
	action := kids[0]
	if action.Name.Space != ps.Name.Space {
		return nil, stanza.Errorf(stanza.BadRequest, "unexpected %s", action.Name.Local)
	}
	if ps.Name.Space == xpubsub.NSOwner {
		return m.handleOwner(ctx, rq, typ, action)
	}
	switch typ + " " + action.Name.Local {
	case "set create":
		return m.create(ctx, rq, action, ps.Child(xpubsub.NS, "configure"))
	case "set publish":
		return m.publish(ctx, rq, action, ps.Child(xpubsub.NS, "publish-options"))
	case "set retract":
		return m.retract(ctx, rq, action)
	case "set subscribe":
		return m.subscribe(ctx, rq, action)
	case "set unsubscribe":
		return m.unsubscribe(ctx, rq, action)
	case "get items":
		return m.items(ctx, rq, action)
	case "get subscriptions":
		return m.ownSubscriptions(ctx, rq, action)
	case "get affiliations":
		return m.ownAffiliations(ctx, rq, action)
	case "get options", "set options":
		return nil, xpubsub.Unsupported("subscription-options")
	case "get default":
		return nil, xpubsub.Unsupported("retrieve-default-sub")
	}
	return nil, stanza.Errorf(stanza.BadRequest, "unsupported pubsub %s %s", typ, action.Name.Local)
}

// nodeAttr returns the required 'node' attribute of an element.
func nodeAttr(el *stanza.Element) (string, error) {
	name := el.Get("node")
	if name == "" {
		return "", xpubsub.Error(stanza.BadRequest, xpubsub.CondNodeIDRequired, "")
	}
	return name, nil
}

func pubsubResult(children ...*stanza.Element) *stanza.Element {
	return stanza.New(xpubsub.NS, "pubsub").Append(children...)
}
