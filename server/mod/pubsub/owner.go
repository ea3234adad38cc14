package pubsub

import (
	"context"
	"errors"
	"fmt"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/form"
	"github.com/parley-xmpp/parley/xmpp/jid"
	xpubsub "github.com/parley-xmpp/parley/xmpp/pubsub"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// handleOwner dispatches a pubsub#owner request (XEP-0060 §8).
func (m *Module) handleOwner(ctx context.Context, rq *request, typ string, el *stanza.Element) (*stanza.Element, error) {
	if typ+" "+el.Name.Local == "get default" {
		f := m.defaults(rq.pep).Form(xpubsub.NSNodeConfig, form.TypeForm)
		return ownerResult(stanza.New(xpubsub.NSOwner, "default").Append(f.Element())), nil
	}
	name, err := nodeAttr(el)
	if err != nil {
		return nil, err
	}
	unlock := m.lock(rq.svc)
	defer unlock()
	n, err := m.loadNode(ctx, rq, name)
	if err != nil {
		return nil, err
	}
	if rq.affiliation(n, rq.from) != affOwner {
		return nil, stanza.Errorf(stanza.Forbidden, "not an owner of node %q", name)
	}
	switch typ + " " + el.Name.Local {
	case "get configure":
		f := n.cfg.Form(xpubsub.NSNodeConfig, form.TypeForm)
		return ownerResult(stanza.New(xpubsub.NSOwner, "configure", "node", name).Append(f.Element())), nil
	case "set configure":
		return nil, m.setConfig(ctx, rq, n, el)
	case "set delete":
		// Recipients are computed first: deletion drops the subscriptions.
		recipients, _ := m.recipients(ctx, rq, n)
		if err := m.stores.PubSub.DeleteNode(ctx, rq.svc, name); err != nil {
			return nil, fmt.Errorf("pubsub: delete %q of %s: %w", name, rq.svc, err)
		}
		if n.cfg.NotifyDelete {
			// Sent once the service's lock is released (never route
			// under a lock), after the reply.
			rq.after = append(rq.after, func(ctx context.Context) {
				for _, to := range recipients {
					m.send(ctx, rq.svc, n, to, xpubsub.Event{Node: name, Delete: true})
				}
			})
		}
		if rq.pep {
			m.afterRetract(ctx, rq.svc, name)
		}
		return nil, nil
	case "set purge":
		if !n.cfg.PersistItems {
			return nil, xpubsub.Unsupported("persistent-items")
		}
		if err := m.stores.PubSub.TrimItems(ctx, rq.svc, name, 0); err != nil {
			return nil, fmt.Errorf("pubsub: purge %q of %s: %w", name, rq.svc, err)
		}
		if n.cfg.NotifyRetract {
			rq.after = append(rq.after, func(ctx context.Context) {
				m.notify(ctx, rq, n, xpubsub.Event{Node: name, Purge: true})
			})
		}
		if rq.pep {
			m.afterRetract(ctx, rq.svc, name)
		}
		return nil, nil
	case "get subscriptions":
		subs, err := m.stores.PubSub.Subscriptions(ctx, rq.svc, name)
		if err != nil {
			return nil, fmt.Errorf("pubsub: subscriptions of %q: %w", name, err)
		}
		res := stanza.New(xpubsub.NSOwner, "subscriptions", "node", name)
		for _, s := range subs {
			el := subscriptionEl(xpubsub.NSOwner, s)
			el.Set("node", "")
			res.Append(el)
		}
		return ownerResult(res), nil
	case "set subscriptions":
		return nil, m.setSubscriptions(ctx, rq, name, el)
	case "get affiliations":
		res := stanza.New(xpubsub.NSOwner, "affiliations", "node", name)
		if rq.pep {
			res.Append(stanza.New(xpubsub.NSOwner, "affiliation", "jid", rq.svc.String(), "affiliation", affOwner))
		}
		affs, err := m.stores.PubSub.Affiliations(ctx, rq.svc, name)
		if err != nil {
			return nil, fmt.Errorf("pubsub: affiliations of %q: %w", name, err)
		}
		for _, a := range affs {
			res.Append(stanza.New(xpubsub.NSOwner, "affiliation", "jid", a.JID.String(), "affiliation", a.Affiliation))
		}
		return ownerResult(res), nil
	case "set affiliations":
		return nil, m.setAffiliations(ctx, rq, n, el)
	}
	return nil, stanza.Errorf(stanza.BadRequest, "unsupported pubsub#owner %s %s", typ, el.Name.Local)
}

func ownerResult(children ...*stanza.Element) *stanza.Element {
	return stanza.New(xpubsub.NSOwner, "pubsub").Append(children...)
}

// setConfig handles a configuration submission (XEP-0060 §8.2.4).
func (m *Module) setConfig(ctx context.Context, rq *request, n *node, el *stanza.Element) error {
	x := el.Child(form.NS, "x")
	if x == nil {
		return stanza.Errorf(stanza.BadRequest, "a data form is required")
	}
	f, err := form.Parse(x)
	if err != nil {
		return stanza.Errorf(stanza.NotAcceptable, "%v", err)
	}
	if f.Type == form.TypeCancel {
		return nil
	}
	if f.Type != form.TypeSubmit || (f.FormType() != "" && f.FormType() != xpubsub.NSNodeConfig) {
		return stanza.Errorf(stanza.NotAcceptable, "a submitted %s form is required", xpubsub.NSNodeConfig)
	}
	cfg := n.cfg
	if err := configure(&cfg, f); err != nil {
		return err
	}
	if err := m.stores.PubSub.SetNodeConfig(ctx, rq.svc, n.name, cfg.Values()); err != nil {
		return fmt.Errorf("pubsub: configure %q of %s: %w", n.name, rq.svc, err)
	}
	if err := m.stores.PubSub.TrimItems(ctx, rq.svc, n.name, m.maxItems(cfg)); err != nil {
		return fmt.Errorf("pubsub: trim %q of %s: %w", n.name, rq.svc, err)
	}
	n.cfg = cfg
	return nil
}

// setSubscriptions handles the owner's subscription changes (§8.8.2).
func (m *Module) setSubscriptions(ctx context.Context, rq *request, name string, el *stanza.Element) error {
	type change struct {
		j     jid.JID
		state string
		subid string
	}
	var changes []change
	for _, s := range el.ChildrenNamed(xpubsub.NSOwner, "subscription") {
		j, err := jid.Parse(s.Get("jid"))
		if err != nil {
			return stanza.Errorf(stanza.BadRequest, "invalid jid %q", s.Get("jid"))
		}
		switch st := s.Get("subscription"); st {
		case affNone, stateSubscribed:
			changes = append(changes, change{j, st, s.Get("subid")})
		default:
			return stanza.Errorf(stanza.NotAcceptable, "unsupported subscription state %q", st)
		}
	}
	subs, err := m.stores.PubSub.Subscriptions(ctx, rq.svc, name)
	if err != nil {
		return fmt.Errorf("pubsub: subscriptions of %q: %w", name, err)
	}
	for _, c := range changes {
		done := false
		for _, s := range subs {
			if s.JID == c.j && (c.subid == "" || c.subid == s.SubID) {
				s.State = c.state
				if err := m.stores.PubSub.SetSubscription(ctx, rq.svc, s); err != nil {
					return fmt.Errorf("pubsub: set subscription of %s: %w", c.j, err)
				}
				done = true
			}
		}
		if !done && c.state == stateSubscribed {
			s := storage.PubSubSubscription{Node: name, JID: c.j, SubID: newID(), State: stateSubscribed}
			if err := m.stores.PubSub.SetSubscription(ctx, rq.svc, s); err != nil {
				return fmt.Errorf("pubsub: set subscription of %s: %w", c.j, err)
			}
		}
	}
	return nil
}

// setAffiliations handles the owner's affiliation changes (§8.9.2); an
// owner cannot remove the node's last owner (<not-acceptable/>).
func (m *Module) setAffiliations(ctx context.Context, rq *request, n *node, el *stanza.Element) error {
	next := map[jid.JID]string{}
	for j, a := range n.affs {
		next[j] = a
	}
	var changes []storage.PubSubAffiliation
	for _, a := range el.ChildrenNamed(xpubsub.NSOwner, "affiliation") {
		j, err := jid.Parse(a.Get("jid"))
		if err != nil {
			return stanza.Errorf(stanza.BadRequest, "invalid jid %q", a.Get("jid"))
		}
		j = j.Bare()
		aff := a.Get("affiliation")
		switch aff {
		case affOwner, affPublisher, affPublishOnly, affMember, affNone, affOutcast:
		default:
			return xpubsub.Unsupported("modify-affiliations")
		}
		if rq.pep && j == rq.svc {
			return stanza.Errorf(stanza.NotAcceptable, "the account always owns its PEP nodes")
		}
		if rq.pep && aff == affOwner {
			return stanza.Errorf(stanza.NotAcceptable, "a PEP node has one owner")
		}
		next[j] = aff
		changes = append(changes, storage.PubSubAffiliation{Node: n.name, JID: j, Affiliation: aff})
	}
	if !rq.pep {
		owners := 0
		for _, a := range next {
			if a == affOwner {
				owners++
			}
		}
		if owners == 0 {
			return stanza.Errorf(stanza.NotAcceptable, "a node needs an owner")
		}
	}
	for _, c := range changes {
		if err := m.stores.PubSub.SetAffiliation(ctx, rq.svc, c); err != nil {
			return fmt.Errorf("pubsub: affiliation of %s with %q: %w", c.JID, n.name, err)
		}
	}
	return nil
}

// errNotFound reports whether err is a storage miss.
func errNotFound(err error) bool { return errors.Is(err, storage.ErrNotFound) }
