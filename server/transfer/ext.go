package transfer

import (
	"encoding/base64"
	"fmt"
	"strconv"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/form"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// accountElement encodes the data of a that XEP-0227 does not cover, in
// an <account xmlns=NS/>; nil when there is none.
func accountElement(a *Account) (*stanza.Element, error) {
	el := stanza.New(NS, "account")
	if a.Disabled {
		el.Set("disabled", "true")
	}
	if a.Last != nil {
		el.Append(stanza.New(NS, "last", "stamp", stamp(a.Last.At)).AppendText(a.Last.Status))
	}
	for _, p := range a.Push {
		pe := stanza.New(NS, "push", "service", p.Service.String(), "node", p.Node, "resource", p.Resource,
			"include-body", strconv.FormatBool(p.IncludeBody), "created", stamp(p.Created))
		if len(p.Options) > 0 {
			o, err := parseStored(p.Options)
			if err != nil {
				return nil, fmt.Errorf("push options: %w", err)
			}
			pe.Append(o)
		}
		el.Append(pe)
	}
	b64 := base64.StdEncoding.EncodeToString
	for _, c := range a.Fast {
		for _, t := range c.Tokens {
			slot := "new"
			if t.Slot == storage.FastCurrent {
				slot = "current"
			}
			el.Append(stanza.New(NS, "fast-token", "client", c.Client, "id", b64(t.ID), "key", b64(t.Key),
				"mechanism", t.Mechanism, "expiry", stamp(t.Expiry), "count", strconv.FormatUint(t.Count, 10), "slot", slot))
		}
	}
	if len(el.Attr) == 0 && len(el.Children) == 0 {
		return nil, nil
	}
	return el, nil
}

// parseAccountElement reads an <account xmlns=NS/> into a.
func parseAccountElement(el *stanza.Element, a *Account) []error {
	var bad []error
	if b, err := form.ParseBool(el.Get("disabled")); err == nil {
		a.Disabled = b
	}
	for _, c := range el.Elements() {
		if c.Name.Space != NS {
			continue
		}
		switch c.Name.Local {
		case "last":
			t, err := parseStamp(c.Get("stamp"))
			if err != nil {
				bad = append(bad, fmt.Errorf("last activity: %w", err))
				continue
			}
			a.Last = &LastActivity{At: t, Status: c.Text()}
		case "push":
			p, err := parsePush(c)
			if err != nil {
				bad = append(bad, err)
				continue
			}
			a.Push = append(a.Push, p)
		case "fast-token":
			client, t, err := parseFast(c)
			if err != nil {
				bad = append(bad, err)
				continue
			}
			if n := len(a.Fast); n > 0 && a.Fast[n-1].Client == client {
				a.Fast[n-1].Tokens = append(a.Fast[n-1].Tokens, t)
			} else {
				a.Fast = append(a.Fast, FastClient{Client: client, Tokens: []storage.FastToken{t}})
			}
		}
	}
	return bad
}

func parsePush(c *stanza.Element) (storage.PushRegistration, error) {
	var p storage.PushRegistration
	svc, err := jid.Parse(c.Get("service"))
	if err != nil {
		return p, fmt.Errorf("push registration: service: %w", err)
	}
	created, err := parseStamp(c.Get("created"))
	if err != nil {
		return p, fmt.Errorf("push registration: %w", err)
	}
	p = storage.PushRegistration{Service: svc, Node: c.Get("node"), Resource: c.Get("resource"), Created: created}
	p.IncludeBody, _ = form.ParseBool(c.Get("include-body"))
	if o := c.FirstElement(); o != nil {
		p.Options = o.AppendXML(nil, "")
	}
	return p, nil
}

func parseFast(c *stanza.Element) (string, storage.FastToken, error) {
	var t storage.FastToken
	var err error
	dec := base64.StdEncoding.DecodeString
	if t.ID, err = dec(c.Get("id")); err != nil {
		return "", t, fmt.Errorf("FAST token: id: %w", err)
	}
	if len(t.ID) == 0 {
		return "", t, fmt.Errorf("FAST token: empty id")
	}
	if t.Key, err = dec(c.Get("key")); err != nil {
		return "", t, fmt.Errorf("FAST token: key: %w", err)
	}
	if t.Expiry, err = parseStamp(c.Get("expiry")); err != nil {
		return "", t, fmt.Errorf("FAST token: %w", err)
	}
	if t.Count, err = strconv.ParseUint(c.Get("count"), 10, 64); err != nil {
		return "", t, fmt.Errorf("FAST token: count: %w", err)
	}
	t.Mechanism = c.Get("mechanism")
	t.Slot = storage.FastNew
	if c.Get("slot") == "current" {
		t.Slot = storage.FastCurrent
	}
	return c.Get("client"), t, nil
}

// inviteElement encodes an invitation as <invite xmlns=NS/>.
func inviteElement(inv storage.Invite) *stanza.Element {
	el := stanza.New(NS, "invite", "token", inv.Token, "domain", inv.Domain, "max-uses", strconv.Itoa(inv.MaxUses),
		"uses", strconv.Itoa(inv.Uses), "created", stamp(inv.Created))
	if inv.Username != "" {
		el.Set("username", inv.Username)
	}
	if !inv.Expires.IsZero() {
		el.Set("expires", stamp(inv.Expires))
	}
	return el
}

func parseInvite(el *stanza.Element) (storage.Invite, error) {
	inv := storage.Invite{Token: el.Get("token"), Domain: el.Get("domain"), Username: el.Get("username")}
	var err error
	if inv.MaxUses, err = strconv.Atoi(el.Get("max-uses")); err != nil || inv.Token == "" || inv.Domain == "" {
		return inv, fmt.Errorf("invitation: missing token, domain or max-uses")
	}
	if u := el.Get("uses"); u != "" {
		// An unreadable count must not silently become 0: that would make
		// a used-up invitation usable again.
		if inv.Uses, err = strconv.Atoi(u); err != nil || inv.Uses < 0 {
			return inv, fmt.Errorf("invitation: uses %q is not a non-negative integer", u)
		}
	}
	if inv.Created, err = parseStamp(el.Get("created")); err != nil {
		return inv, fmt.Errorf("invitation: %w", err)
	}
	if e := el.Get("expires"); e != "" {
		if inv.Expires, err = parseStamp(e); err != nil {
			return inv, fmt.Errorf("invitation: %w", err)
		}
	}
	return inv, nil
}
