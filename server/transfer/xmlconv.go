package transfer

import (
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/form"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/mam"
	xpubsub "github.com/parley-xmpp/parley/xmpp/pubsub"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stanzaid"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// Namespaces of XEP-0227 and of the extensions this package reads and
// writes.
const (
	NSPIE   = "urn:xmpp:pie:0"
	NSSCRAM = NSPIE + "#scram"
	NSMAM   = NSPIE + "#mam"
	// NSOldPIE is the namespace of XEP-0227 before version 1.0, still
	// written by some exporters.
	NSOldPIE = "http://www.xmpp.org/extensions/xep-0227.html#ns"
	// NS qualifies the data of Parley that XEP-0227 does not cover.
	NS = "https://parley-xmpp.github.io/ns/pie"

	nsRoster   = "jabber:iq:roster"
	nsPrivate  = "jabber:iq:private"
	nsVCard    = "vcard-temp"
	nsBlocking = "urn:xmpp:blocking"
	nsDelay    = "urn:xmpp:delay"
	nsForward  = "urn:xmpp:forward:0"
	nsXInclude = "http://www.w3.org/2001/XInclude"
)

// stamp formats a time exactly (XEP-0082 with nanoseconds).
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// parseStamp reads a XEP-0082 DateTime.
func parseStamp(s string) (time.Time, error) {
	t, err := mam.ParseTime(s)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}

// isPIE reports whether n is the XEP-0227 element local, in the current
// or the old namespace.
func isPIE(n xml.Name, local string) bool {
	return n.Local == local && (n.Space == NSPIE || n.Space == NSOldPIE)
}

// getNS returns the value of the attribute local in namespace space, or "".
func getNS(el *stanza.Element, space, local string) string {
	for _, a := range el.Attr {
		if a.Name.Space == space && a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// mechanism maps a SCRAM hash name to its SASL mechanism and back.
func mechanism(hash string) string { return "SCRAM-" + hash }

func scramElement(k storage.SCRAMKey) *stanza.Element {
	b64 := base64.StdEncoding.EncodeToString
	el := stanza.New(NSSCRAM, "scram-credentials", "mechanism", mechanism(k.Hash))
	el.Append(
		stanza.New(NSSCRAM, "iter-count").AppendText(strconv.Itoa(k.Iterations)),
		stanza.New(NSSCRAM, "salt").AppendText(b64(k.Salt)),
		stanza.New(NSSCRAM, "server-key").AppendText(b64(k.ServerKey)),
		stanza.New(NSSCRAM, "stored-key").AppendText(b64(k.StoredKey)),
	)
	return el
}

func parseSCRAM(el *stanza.Element) (storage.SCRAMKey, error) {
	var k storage.SCRAMKey
	mech := strings.TrimSuffix(el.Get("mechanism"), "-PLUS")
	hash, ok := strings.CutPrefix(mech, "SCRAM-")
	if !ok || (hash != "SHA-1" && hash != "SHA-256" && hash != "SHA-512") {
		return k, fmt.Errorf("unsupported SCRAM mechanism %q", el.Get("mechanism"))
	}
	k.Hash = hash
	n, err := strconv.Atoi(strings.TrimSpace(el.ChildText(NSSCRAM, "iter-count")))
	if err != nil || n <= 0 {
		return k, fmt.Errorf("%s: bad iter-count %q", mech, el.ChildText(NSSCRAM, "iter-count"))
	}
	k.Iterations = n
	for _, f := range []struct {
		name string
		dst  *[]byte
	}{{"salt", &k.Salt}, {"server-key", &k.ServerKey}, {"stored-key", &k.StoredKey}} {
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(el.ChildText(NSSCRAM, f.name)))
		if err != nil || len(b) == 0 {
			return k, fmt.Errorf("%s: bad %s", mech, f.name)
		}
		*f.dst = b
	}
	// ejabberd (23.01) base64-encodes its already base64-encoded stored
	// values once more: keys of the wrong size that decode again to the
	// right size are such, and so is their salt.
	size := map[string]int{"SHA-1": 20, "SHA-256": 32, "SHA-512": 64}[hash]
	if len(k.ServerKey) != size || len(k.StoredKey) != size {
		var inner [3][]byte
		for i, b := range [][]byte{k.Salt, k.ServerKey, k.StoredKey} {
			d, err := base64.StdEncoding.DecodeString(string(b))
			if err != nil || len(d) == 0 {
				return k, fmt.Errorf("%s: keys of %d and %d bytes, want %d", mech, len(k.ServerKey), len(k.StoredKey), size)
			}
			inner[i] = d
		}
		if len(inner[1]) != size || len(inner[2]) != size {
			return k, fmt.Errorf("%s: keys of %d and %d bytes, want %d", mech, len(k.ServerKey), len(k.StoredKey), size)
		}
		k.Salt, k.ServerKey, k.StoredKey = inner[0], inner[1], inner[2]
	}
	return k, nil
}

func rosterElement(items []storage.RosterItem, ver int64) *stanza.Element {
	q := stanza.New(nsRoster, "query")
	if ver > 0 {
		q.Set("ver", strconv.FormatInt(ver, 10))
	}
	for _, it := range items {
		el := stanza.New(nsRoster, "item", "jid", it.Contact.String(), "subscription", it.Subscription.String())
		if it.Name != "" {
			el.Set("name", it.Name)
		}
		if it.AskOut {
			el.Set("ask", "subscribe")
		}
		if it.PreApproved {
			el.Set("approved", "true")
		}
		for _, g := range it.Groups {
			el.Append(stanza.New(nsRoster, "group").AppendText(g))
		}
		q.Append(el)
	}
	return q
}

// parseRoster reads a roster query; items with an unusable JID are
// returned as errors in bad, the rest is kept.
func parseRoster(q *stanza.Element, user jid.JID) (items []storage.RosterItem, ver int64, bad []error) {
	for _, attr := range []string{"ver", "version"} {
		if v, err := strconv.ParseInt(q.Get(attr), 10, 64); err == nil && v > 0 {
			ver = v
			break
		}
	}
	seen := map[jid.JID]bool{}
	for _, el := range q.ChildrenNamed(nsRoster, "item") {
		c, err := jid.Parse(el.Get("jid"))
		if err != nil {
			bad = append(bad, fmt.Errorf("roster item %q: %w", el.Get("jid"), err))
			continue
		}
		c = c.Bare()
		if c == user || seen[c] {
			continue
		}
		seen[c] = true
		it := storage.RosterItem{Contact: c, Name: el.Get("name"), AskOut: el.Get("ask") == "subscribe"}
		switch el.Get("subscription") {
		case "to":
			it.Subscription = storage.SubTo
		case "from":
			it.Subscription = storage.SubFrom
		case "both":
			it.Subscription = storage.SubBoth
		}
		if b, err := form.ParseBool(el.Get("approved")); err == nil {
			it.PreApproved = b
		}
		for _, g := range el.ChildrenNamed(nsRoster, "group") {
			if t := g.Text(); t != "" && !contains(it.Groups, t) {
				it.Groups = append(it.Groups, t)
			}
		}
		items = append(items, it)
	}
	return items, ver, bad
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// parseStored parses a stanza as stored by a backend.
func parseStored(b []byte) (*stanza.Element, error) {
	lim := stream.DefaultLimits()
	if len(b)+1 > lim.MaxStanzaBytes {
		lim.MaxStanzaBytes = len(b) + 1
	}
	return stream.ParseElement(b, lim)
}

// requestElement is a stored subscription request with a delay giving
// its time.
func requestElement(r storage.SubscriptionRequest, domain string) *stanza.Element {
	el, err := parseStored(r.Stanza)
	if err != nil || el.Name.Local != "presence" {
		el = stanza.New(stanza.NSClient, "presence", "type", "subscribe")
	}
	el.Set("from", r.From.String())
	return el.Append(stanza.New(nsDelay, "delay", "from", domain, "stamp", stamp(r.At)))
}

// parseRequest reads a pending subscription request; the delay stamped
// by the host, if any, gives its time and is removed.
func parseRequest(el *stanza.Element, user jid.JID, now time.Time) (storage.SubscriptionRequest, error) {
	setContentNS(el)
	from, err := jid.Parse(el.Get("from"))
	if err != nil {
		return storage.SubscriptionRequest{}, fmt.Errorf("subscription request from %q: %w", el.Get("from"), err)
	}
	req := storage.SubscriptionRequest{From: from.Bare(), At: now}
	for _, d := range el.ChildrenNamed(nsDelay, "delay") {
		if d.Get("from") == user.Domain() {
			if t, err := parseStamp(d.Get("stamp")); err == nil {
				req.At = t
			}
		}
	}
	kept := &stanza.Element{Name: el.Name, Attr: el.Attr}
	for _, n := range el.Children {
		if n.Elem != nil && n.Elem.Name.Space == nsDelay && n.Elem.Get("from") == user.Domain() {
			continue
		}
		if n.Elem == nil && strings.TrimSpace(n.Text) == "" {
			continue
		}
		kept.Children = append(kept.Children, n)
	}
	kept.Set("from", req.From.String())
	kept.Set("to", user.String())
	req.Stanza = kept.AppendXML(nil, "")
	return req, nil
}

// setContentNS puts a stanza read from a dump into jabber:client when an
// exporter left it in the XEP-0227 namespace (or none).
func setContentNS(el *stanza.Element) {
	switch el.Name.Space {
	case NSPIE, NSOldPIE, "":
		old := el.Name.Space
		el.Name.Space = stanza.NSClient
		for _, n := range el.Children {
			if n.Elem != nil && n.Elem.Name.Space == old {
				setContentNS(n.Elem)
			}
		}
	}
}

// parseOffline reads an offline message: its time is the stamp of the
// host's delay, which is added (at now) if missing, as the server stores
// offline messages.
func parseOffline(el *stanza.Element, user jid.JID, now time.Time) storage.OfflineMessage {
	setContentNS(el)
	m := storage.OfflineMessage{At: now}
	found := false
	for _, d := range el.ChildrenNamed(nsDelay, "delay") {
		if t, err := parseStamp(d.Get("stamp")); err == nil && (d.Get("from") == user.Domain() || !found) {
			m.At = t
			found = found || d.Get("from") == user.Domain()
		}
	}
	if !found {
		el.Append(stanza.New(nsDelay, "delay", "from", user.Domain(), "stamp",
			m.At.UTC().Format("2006-01-02T15:04:05.000Z")).AppendText("Offline Storage"))
	}
	m.Stanza = el.AppendXML(nil, "")
	return m
}

// archiveResult is one archived message as a XEP-0313 result.
func archiveResult(m storage.ArchivedMessage) (*stanza.Element, error) {
	msg, err := parseStored(m.Stanza)
	if err != nil {
		return nil, fmt.Errorf("archived message %s: %w", m.ID, err)
	}
	fwd := stanza.New(nsForward, "forwarded").Append(stanza.New(nsDelay, "delay", "stamp", stamp(m.At)), msg)
	return stanza.New(mam.NS, "result", "id", m.ID).Append(fwd), nil
}

// parseResult reads an archived message of user's archive.
func parseResult(el *stanza.Element, user jid.JID) (storage.ArchivedMessage, error) {
	var m storage.ArchivedMessage
	m.ID = el.Get("id")
	fwd := el.Child(nsForward, "forwarded")
	if m.ID == "" || fwd == nil {
		return m, fmt.Errorf("archive result without id or <forwarded/>")
	}
	var msg *stanza.Element
	for _, c := range fwd.Elements() {
		if c.Name.Local == "message" {
			msg = c
		}
	}
	t, err := parseStamp(fwd.Child(nsDelay, "delay").Get("stamp"))
	if msg == nil || err != nil {
		return m, fmt.Errorf("archive result %s: no message or no valid delay stamp", m.ID)
	}
	setContentNS(msg)
	m.At = t
	from, ferr := jid.Parse(msg.From())
	to, terr := jid.Parse(msg.To())
	switch {
	case ferr == nil && from.Bare() == user.Bare() && terr == nil:
		m.Outgoing, m.With = true, to
	case ferr == nil && from.Bare() != user.Bare():
		m.With = from
	case msg.From() == "" && terr == nil:
		m.Outgoing, m.With = true, to
	default:
		return m, fmt.Errorf("archive result %s: cannot tell the other party (from %q, to %q)", m.ID, msg.From(), msg.To())
	}
	m.OriginID = stanzaid.OriginID(msg)
	m.Stanza = msg.AppendXML(nil, "")
	return m, nil
}

func privateElement(p map[string][]byte) (*stanza.Element, error) {
	q := stanza.New(nsPrivate, "query")
	for _, k := range sortedKeys(p) {
		el, err := parseStored(p[k])
		if err != nil {
			return nil, fmt.Errorf("private XML %q: %w", k, err)
		}
		q.Append(el)
	}
	return q, nil
}

func blocklistElement(bl []jid.JID) *stanza.Element {
	el := stanza.New(nsBlocking, "blocklist")
	for _, j := range bl {
		el.Append(stanza.New(nsBlocking, "item", "jid", j.String()))
	}
	return el
}

// nodesElements encodes nodes as XEP-0227 §3.9 does for PEP: a pubsub#owner
// element with each node's configuration, affiliations and subscriptions,
// and a pubsub element with its items, oldest first. Creation and
// publication times and publishers are kept in attributes.
func nodesElements(nodes []Node) (owner, items *stanza.Element, err error) {
	owner = stanza.New(xpubsub.NSOwner, "pubsub")
	items = stanza.New(xpubsub.NS, "pubsub")
	for _, n := range nodes {
		f := form.New(form.TypeSubmit, xpubsub.NSNodeConfig)
		for _, k := range sortedKeys(n.Config) {
			f.Add(form.Field{Var: k, Values: n.Config[k]})
		}
		cfg := stanza.New(xpubsub.NSOwner, "configure", "node", n.Node).Append(f.Element())
		cfg.SetNS(NS, "created", stamp(n.Created))
		owner.Append(cfg)
		if len(n.Affiliations) > 0 {
			affs := stanza.New(xpubsub.NSOwner, "affiliations", "node", n.Node)
			for _, a := range n.Affiliations {
				affs.Append(stanza.New(xpubsub.NSOwner, "affiliation", "jid", a.JID.String(), "affiliation", a.Affiliation))
			}
			owner.Append(affs)
		}
		if len(n.Subscriptions) > 0 {
			subs := stanza.New(xpubsub.NSOwner, "subscriptions", "node", n.Node)
			for _, s := range n.Subscriptions {
				el := stanza.New(xpubsub.NSOwner, "subscription", "jid", s.JID.String(), "subscription", s.State)
				if s.SubID != "" {
					el.Set("subid", s.SubID)
				}
				subs.Append(el)
			}
			owner.Append(subs)
		}
		its := stanza.New(xpubsub.NS, "items", "node", n.Node)
		for _, it := range n.Items {
			el := stanza.New(xpubsub.NS, "item", "id", it.ID)
			if !it.Publisher.IsZero() {
				el.Set("publisher", it.Publisher.String())
			}
			el.SetNS(NS, "published", stamp(it.Published))
			if len(it.Payload) > 0 {
				p, err := parseStored(it.Payload)
				if err != nil {
					return nil, nil, fmt.Errorf("item %q of %q: %w", it.ID, n.Node, err)
				}
				el.Append(p)
			}
			its.Append(el)
		}
		items.Append(its)
	}
	return owner, items, nil
}

// knownConfig is the set of node configuration fields Parley interprets;
// other fields of foreign exports are dropped (XEP-0227 §3.9.1).
func knownConfig() map[string]bool {
	out := map[string]bool{}
	for k := range xpubsub.DefaultPEP().Values() {
		out[k] = true
	}
	return out
}

// nodeSet collects the nodes of one service as its elements are read.
type nodeSet struct {
	service jid.JID
	now     time.Time
	known   map[string]bool
	byName  map[string]*Node
	order   []string
}

func newNodeSet(service jid.JID, now time.Time) *nodeSet {
	return &nodeSet{service: service, now: now, known: knownConfig(), byName: map[string]*Node{}}
}

func (s *nodeSet) node(name string) *Node {
	n, ok := s.byName[name]
	if !ok {
		n = &Node{PubSubNode: storage.PubSubNode{Service: s.service, Node: name, Created: s.now, Config: map[string][]string{}}}
		s.byName[name] = n
		s.order = append(s.order, name)
	}
	return n
}

// owner reads a pubsub#owner element.
func (s *nodeSet) owner(el *stanza.Element) []error {
	var bad []error
	for _, c := range el.Elements() {
		name := c.Get("node")
		if name == "" {
			bad = append(bad, fmt.Errorf("pubsub <%s/> without a node", c.Name.Local))
			continue
		}
		n := s.node(name)
		switch c.Name.Local {
		case "configure":
			if t, err := parseStamp(getNS(c, NS, "created")); err == nil {
				n.Created = t
			}
			if x := c.Child(form.NS, "x"); x != nil {
				f, err := form.Parse(x)
				if err != nil {
					bad = append(bad, fmt.Errorf("configuration of %q: %w", name, err))
					continue
				}
				for _, fl := range f.Fields {
					if s.known[fl.Var] {
						n.Config[fl.Var] = fl.Values
					}
				}
			}
		case "affiliations":
			for _, a := range c.ChildrenNamed(xpubsub.NSOwner, "affiliation") {
				j, err := jid.Parse(a.Get("jid"))
				if err != nil || a.Get("affiliation") == "" {
					bad = append(bad, fmt.Errorf("affiliation %q with %q: %v", a.Get("jid"), name, err))
					continue
				}
				n.Affiliations = append(n.Affiliations, storage.PubSubAffiliation{Node: name, JID: j.Bare(), Affiliation: a.Get("affiliation")})
			}
		case "subscriptions":
			for _, sub := range c.ChildrenNamed(xpubsub.NSOwner, "subscription") {
				j, err := jid.Parse(sub.Get("jid"))
				if err != nil {
					bad = append(bad, fmt.Errorf("subscription %q to %q: %w", sub.Get("jid"), name, err))
					continue
				}
				state := sub.Get("subscription")
				if state == "" {
					state = "subscribed"
				}
				n.Subscriptions = append(n.Subscriptions, storage.PubSubSubscription{Node: name, JID: j, SubID: sub.Get("subid"), State: state})
			}
		default:
			bad = append(bad, fmt.Errorf("unknown pubsub#owner element <%s/>", c.Name.Local))
		}
	}
	return bad
}

// items reads a pubsub element with items.
func (s *nodeSet) items(el *stanza.Element, publisher jid.JID) []error {
	var bad []error
	for _, c := range el.ChildrenNamed(xpubsub.NS, "items") {
		name := c.Get("node")
		if name == "" {
			bad = append(bad, fmt.Errorf("pubsub <items/> without a node"))
			continue
		}
		n := s.node(name)
		for _, it := range c.ChildrenNamed(xpubsub.NS, "item") {
			item := storage.PubSubItem{ID: it.Get("id"), Publisher: publisher, Published: s.now}
			if item.ID == "" {
				bad = append(bad, fmt.Errorf("item without an id in %q", name))
				continue
			}
			if p, err := jid.Parse(it.Get("publisher")); err == nil {
				item.Publisher = p
			}
			if t, err := parseStamp(getNS(it, NS, "published")); err == nil {
				item.Published = t
			}
			if p := it.FirstElement(); p != nil {
				item.Payload = p.AppendXML(nil, "")
			}
			n.Items = append(n.Items, item)
		}
	}
	return bad
}

// nodes returns the collected nodes, sorted by name.
func (s *nodeSet) nodes() []Node {
	out := make([]Node, 0, len(s.order))
	for _, k := range sortedKeys(s.byName) {
		out = append(out, *s.byName[k])
	}
	return out
}
