package pubsub

import (
	"context"
	"errors"
	"fmt"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/form"
	xpubsub "github.com/parley-xmpp/parley/xmpp/pubsub"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// mayCreate reports whether the requester may create nodes on the
// service: the account itself on PEP, any local account on a service.
func (m *Module) mayCreate(rq *request) error {
	if rq.pep && rq.from.Bare() != rq.svc {
		return stanza.Errorf(stanza.Forbidden, "only the account creates nodes on its PEP service")
	}
	if !rq.pep && (rq.from.Local() == "" || !m.host.IsLocal(rq.from.Domain())) {
		return stanza.Errorf(stanza.Forbidden, "only local accounts create nodes")
	}
	return nil
}

// parseForm reads the data form inside el (configure, publish-options);
// nil when el or its form is absent. A form with another FORM_TYPE is a
// <bad-request/> with <invalid-options/>.
func parseForm(el *stanza.Element, formType string) (*form.Form, error) {
	if el == nil {
		return nil, nil
	}
	x := el.Child(form.NS, "x")
	if x == nil {
		return nil, nil
	}
	f, err := form.Parse(x)
	if err != nil {
		return nil, xpubsub.Error(stanza.BadRequest, xpubsub.CondInvalidOptions, err.Error())
	}
	if ft := f.FormType(); ft != "" && ft != formType {
		return nil, xpubsub.Error(stanza.BadRequest, xpubsub.CondInvalidOptions, "FORM_TYPE must be "+formType)
	}
	return f, nil
}

// configure applies a node_config form to cfg with the errors of
// XEP-0060 §8.1.3 and §8.2.5.
func configure(cfg *xpubsub.Config, f *form.Form) error {
	if f == nil || f.Type == form.TypeCancel {
		return nil
	}
	if am := f.Field("pubsub#access_model"); am != nil && len(am.Values) == 1 {
		switch am.Values[0] {
		case xpubsub.AccessOpen, xpubsub.AccessPresence, xpubsub.AccessRoster, xpubsub.AccessWhitelist:
		default:
			return xpubsub.Error(stanza.NotAcceptable, xpubsub.CondUnsupportedAccessModel, "")
		}
	}
	if err := cfg.Apply(f); err != nil {
		return stanza.Errorf(stanza.NotAcceptable, "%v", err)
	}
	return checkConfig(*cfg)
}

// create handles <create/> with an optional <configure/> (XEP-0060 §8.1).
func (m *Module) create(ctx context.Context, rq *request, el, conf *stanza.Element) (*stanza.Element, error) {
	if err := m.mayCreate(rq); err != nil {
		return nil, err
	}
	name := el.Get("node")
	instant := name == ""
	if instant {
		name = newID()
	}
	cfg := m.defaults(rq.pep)
	f, err := parseForm(conf, xpubsub.NSNodeConfig)
	if err != nil {
		return nil, err
	}
	if err := configure(&cfg, f); err != nil {
		return nil, err
	}
	unlock := m.lock(rq.svc)
	defer unlock()
	if err := m.createNode(ctx, rq, name, cfg); err != nil {
		return nil, err
	}
	if instant {
		return pubsubResult(stanza.New(xpubsub.NS, "create", "node", name)), nil
	}
	return nil, nil
}

// publish handles <publish/> with optional <publish-options/> (XEP-0060
// §7.1, XEP-0223).
func (m *Module) publish(ctx context.Context, rq *request, el, opts *stanza.Element) (*stanza.Element, error) {
	name, err := nodeAttr(el)
	if err != nil {
		return nil, err
	}
	items := el.ChildrenNamed(xpubsub.NS, "item")
	if len(items) > 1 {
		return nil, xpubsub.Error(stanza.BadRequest, xpubsub.CondInvalidPayload, "one item per publish")
	}
	if len(items) == 0 {
		return nil, xpubsub.Error(stanza.BadRequest, xpubsub.CondItemRequired, "")
	}
	it, err := xpubsub.ParseItem(items[0])
	if err != nil {
		return nil, xpubsub.Error(stanza.BadRequest, xpubsub.CondInvalidPayload, err.Error())
	}
	if it.Payload != nil && len(it.Payload.Bytes()) > m.opts.MaxPayload {
		return nil, xpubsub.Error(stanza.NotAcceptable, xpubsub.CondPayloadTooBig, "")
	}
	f, err := parseForm(opts, xpubsub.NSPublishOptions)
	if err != nil {
		return nil, err
	}
	id, err := m.doPublish(ctx, rq, name, it, f)
	if err != nil {
		return nil, err
	}
	return pubsubResult(stanza.New(xpubsub.NS, "publish", "node", name).
		Append(stanza.New(xpubsub.NS, "item", "id", id))), nil
}

// doPublish stores an item (auto-creating the node), notifies and runs
// the PEP conversions; it returns the item id.
func (m *Module) doPublish(ctx context.Context, rq *request, name string, it xpubsub.Item, opts *form.Form) (string, error) {
	unlock := m.lock(rq.svc)
	n, err := m.loadNode(ctx, rq, name)
	var se *stanza.Error
	switch {
	case errors.As(err, &se) && se.Condition == stanza.ItemNotFound:
		// Auto-create (XEP-0060 §7.1.4) with the preconditions as config.
		if err := m.mayCreate(rq); err != nil {
			unlock()
			return "", err
		}
		cfg := m.defaults(rq.pep)
		if opts != nil {
			if err := cfg.Apply(opts); err != nil {
				unlock()
				return "", xpubsub.Error(stanza.Conflict, xpubsub.CondPreconditionNotMet, err.Error())
			}
			if err := checkConfig(cfg); err != nil {
				unlock()
				return "", err
			}
		}
		if err := m.createNode(ctx, rq, name, cfg); err != nil {
			unlock()
			return "", err
		}
		if n, err = m.loadNode(ctx, rq, name); err != nil {
			unlock()
			return "", err
		}
	case err != nil:
		unlock()
		return "", err
	case opts != nil:
		if field, ok := n.cfg.Meets(opts); !ok {
			unlock()
			return "", xpubsub.Error(stanza.Conflict, xpubsub.CondPreconditionNotMet, "precondition "+field+" not met")
		}
	}
	if err := m.mayPublish(ctx, rq, n); err != nil {
		unlock()
		return "", err
	}
	if it.Payload == nil && n.cfg.DeliverPayloads {
		unlock()
		return "", xpubsub.Error(stanza.BadRequest, xpubsub.CondPayloadRequired, "")
	}
	if it.ID == "" {
		it.ID = newID()
	}
	var payload []byte
	if it.Payload != nil {
		payload = it.Payload.Bytes()
	}
	owners := rq.owners(n)
	err = m.stores.PubSub.PutItemWithin(ctx, rq.svc, name, storage.PubSubItem{
		ID: it.ID, Publisher: rq.from.Bare(), Payload: payload, Published: m.host.Now(),
	}, m.maxItems(n.cfg), owners, m.opts.MaxBytes)
	unlock()
	if errors.Is(err, storage.ErrQuota) {
		// XEP-0060 names no condition for an owner's storage being full:
		// the service lacks the room the request needs (RFC 6120
		// §8.3.3.18).
		m.log.InfoContext(ctx, "pubsub: storage quota reached, item refused", "service", rq.svc, "node", name,
			"owners", owners, "bytes", len(payload), "max_bytes", m.opts.MaxBytes)
		return "", stanza.Errorf(stanza.ResourceConstraint, "publish-subscribe storage full: at most %d bytes of items per account", m.opts.MaxBytes)
	}
	if err != nil {
		return "", fmt.Errorf("pubsub: publish to %q of %s: %w", name, rq.svc, err)
	}
	ev := xpubsub.Event{Node: name, Items: []xpubsub.Item{{ID: it.ID}}}
	if n.cfg.DeliverPayloads {
		ev.Items[0].Payload = it.Payload
	}
	if n.cfg.DeliverNotifications {
		m.notify(ctx, rq, n, ev)
	}
	if rq.pep {
		m.afterPublish(ctx, rq.svc, name, it)
	}
	return it.ID, nil
}

// mayPublish applies the publish model, reading the requester's
// subscriptions only for the "subscribers" model.
func (m *Module) mayPublish(ctx context.Context, rq *request, n *node) error {
	subscribed := false
	if !rq.pep && n.cfg.PublishModel == xpubsub.PublishSubscribers {
		subs, err := m.stores.PubSub.Subscriptions(ctx, rq.svc, n.name)
		if err != nil {
			return fmt.Errorf("pubsub: subscriptions of %q: %w", n.name, err)
		}
		for _, s := range subs {
			if s.JID.Bare() == rq.from.Bare() && s.State == stateSubscribed {
				subscribed = true
			}
		}
	}
	return m.canPublish(rq, n, rq.from, subscribed)
}

// retract handles <retract/> (XEP-0060 §7.2).
func (m *Module) retract(ctx context.Context, rq *request, el *stanza.Element) (*stanza.Element, error) {
	name, err := nodeAttr(el)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, it := range el.ChildrenNamed(xpubsub.NS, "item") {
		if id := it.Get("id"); id != "" {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil, xpubsub.Error(stanza.BadRequest, xpubsub.CondItemRequired, "")
	}
	notifyAttr, _ := form.ParseBool(el.Get("notify"))
	unlock := m.lock(rq.svc)
	n, err := m.loadNode(ctx, rq, name)
	if err != nil {
		unlock()
		return nil, err
	}
	if err := m.mayPublish(ctx, rq, n); err != nil {
		unlock()
		return nil, err
	}
	for _, id := range ids {
		if _, err := m.stores.PubSub.PubSubItem(ctx, rq.svc, name, id); errors.Is(err, storage.ErrNotFound) {
			unlock()
			return nil, stanza.Errorf(stanza.ItemNotFound, "no item %q", id)
		}
	}
	for _, id := range ids {
		if err := m.stores.PubSub.DeleteItem(ctx, rq.svc, name, id); err != nil && !errors.Is(err, storage.ErrNotFound) {
			unlock()
			return nil, fmt.Errorf("pubsub: retract %q from %q: %w", id, name, err)
		}
	}
	unlock()
	if notifyAttr || n.cfg.NotifyRetract {
		m.notify(ctx, rq, n, xpubsub.Event{Node: name, Retract: ids})
	}
	if rq.pep {
		m.afterRetract(ctx, rq.svc, name)
	}
	return nil, nil
}
