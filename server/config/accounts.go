package config

import (
	"fmt"
	"net/url"

	"go.yaml.in/yaml/v3"

	"github.com/parley-xmpp/parley/xmpp/jid"
)

// Registration configures in-band registration (XEP-0077) and the
// password policy for passwords users choose themselves.
type Registration struct {
	// Enabled lets anyone register an account on the c2s stream; when
	// false only holders of an invitation (`parley invite`, XEP-0401)
	// can. Key "enabled".
	Enabled bool
	// MinPasswordLength is the shortest password a user may choose when
	// registering or changing it in-band. Key "min_password_length".
	MinPasswordLength int
	// RequireInvite makes every in-band registration need an invitation,
	// even when Enabled. Key "require_invite".
	RequireInvite bool
	// MaxPerIPPerHour bounds the accounts registered in-band from one
	// address (an IPv6 /64) per hour; 0 means no limit. Key
	// "max_per_ip_per_hour".
	MaxPerIPPerHour int
}

// ContactAddresses are the XEP-0157 contact addresses advertised in the
// server's disco#info, as URIs (mailto:, xmpp:, https:). Keys "abuse",
// "admin", "feedback", "sales", "security", "status" and "support".
type ContactAddresses struct {
	Abuse, Admin, Feedback, Sales, Security, Status, Support []string
}

// Fields returns the addresses as fields named by their XEP-0157 var
// ("abuse-addresses", ...), in the order of the XEP's registry, leaving
// out empty ones.
func (c ContactAddresses) Fields() []InfoField {
	var out []InfoField
	for _, f := range []InfoField{
		{"abuse-addresses", c.Abuse}, {"admin-addresses", c.Admin}, {"feedback-addresses", c.Feedback},
		{"sales-addresses", c.Sales}, {"security-addresses", c.Security}, {"status-addresses", c.Status},
		{"support-addresses", c.Support},
	} {
		if len(f.Values) > 0 {
			out = append(out, f)
		}
	}
	return out
}

// InfoForm is an extra XEP-0128 extended information form of the
// server's disco#info.
type InfoForm struct {
	// FormType is the value of the hidden FORM_TYPE field. Key
	// "form_type".
	FormType string
	// Fields are the fields, in order. Key "fields": a list of mappings
	// with "var" and "values".
	Fields []InfoField
}

// InfoField is one field of an InfoForm.
type InfoField struct {
	Var    string
	Values []string
}

// Default values of the account settings.
const (
	defaultMinPasswordLength  = 8
	defaultRegistrationsPerIP = 5
)

// admins decodes the list of administrator JIDs.
func (d *decoder) admins(at, n *yaml.Node, key string, c *Config) {
	var list []string
	before := len(d.errs)
	d.stringList(at, n, key, &list)
	if len(d.errs) > before {
		return
	}
	c.Admins = c.Admins[:0]
	for i, s := range list {
		j, err := jid.Parse(s)
		if err != nil || j.Local() == "" || j.Resource() != "" {
			d.fail(n.Content[i], fmt.Sprintf("%s[%d]", key, i), "%q must be a bare JID user@domain", s)
			continue
		}
		c.Admins = append(c.Admins, j)
	}
}

// registration decodes the registration section.
func (d *decoder) registration(at, n *yaml.Node, key string, r *Registration) {
	d.mapping(at, n, key, map[string]field{
		"enabled":             func(at, v *yaml.Node, k string) { d.boolean(at, v, k, &r.Enabled) },
		"min_password_length": func(at, v *yaml.Node, k string) { d.integer(at, v, k, &r.MinPasswordLength) },
		"require_invite":      func(at, v *yaml.Node, k string) { d.boolean(at, v, k, &r.RequireInvite) },
		"max_per_ip_per_hour": func(at, v *yaml.Node, k string) { d.integer(at, v, k, &r.MaxPerIPPerHour) },
	})
}

// contactAddresses decodes the contact_addresses section; every address
// must be an absolute URI (XEP-0157 §3).
func (d *decoder) contactAddresses(at, n *yaml.Node, key string, c *ContactAddresses) {
	uris := func(at, v *yaml.Node, k string, out *[]string) {
		var list []string
		before := len(d.errs)
		d.stringList(at, v, k, &list)
		if len(d.errs) > before {
			return
		}
		for i, s := range list {
			if u, err := url.Parse(s); err != nil || u.Scheme == "" {
				d.fail(v.Content[i], fmt.Sprintf("%s[%d]", k, i), "%q must be a URI such as mailto:abuse@example.org or xmpp:admin@example.org", s)
				return
			}
		}
		*out = list
	}
	d.mapping(at, n, key, map[string]field{
		"abuse":    func(at, v *yaml.Node, k string) { uris(at, v, k, &c.Abuse) },
		"admin":    func(at, v *yaml.Node, k string) { uris(at, v, k, &c.Admin) },
		"feedback": func(at, v *yaml.Node, k string) { uris(at, v, k, &c.Feedback) },
		"sales":    func(at, v *yaml.Node, k string) { uris(at, v, k, &c.Sales) },
		"security": func(at, v *yaml.Node, k string) { uris(at, v, k, &c.Security) },
		"status":   func(at, v *yaml.Node, k string) { uris(at, v, k, &c.Status) },
		"support":  func(at, v *yaml.Node, k string) { uris(at, v, k, &c.Support) },
	})
}

// serverInfo decodes the server_info list of extra XEP-0128 forms.
func (d *decoder) serverInfo(at, n *yaml.Node, key string, c *Config) {
	list, before := []InfoForm{}, len(d.errs)
	ok := d.sequence(at, n, key, func(_ int, it *yaml.Node, ik string) {
		var f InfoForm
		d.required(it, ik, []string{"form_type", "fields"}, map[string]field{
			"form_type": func(at, v *yaml.Node, k string) { d.str(at, v, k, &f.FormType) },
			"fields": func(at, v *yaml.Node, k string) {
				d.sequence(at, v, k, func(_ int, fit *yaml.Node, fk string) {
					var fl InfoField
					d.required(fit, fk, []string{"var"}, map[string]field{
						"var":    func(at, v *yaml.Node, k string) { d.str(at, v, k, &fl.Var) },
						"values": func(at, v *yaml.Node, k string) { d.stringList(at, v, k, &fl.Values) },
					})
					if fl.Var == "FORM_TYPE" {
						d.fail(fit, fk+".var", "FORM_TYPE is set by form_type")
					}
					f.Fields = append(f.Fields, fl)
				})
			},
		})
		list = append(list, f)
	})
	if ok && len(d.errs) == before {
		c.ServerInfo = list
	}
}

// accountProblems validates the account and server information settings.
func (c *Config) accountProblems(add func(key, format string, args ...any)) {
	if c.Registration.MinPasswordLength < 1 {
		add("registration.min_password_length", "must be at least 1")
	}
	if c.Registration.MaxPerIPPerHour < 0 {
		add("registration.max_per_ip_per_hour", "must not be negative")
	}
	for i, f := range c.ServerInfo {
		if f.FormType == "" {
			add(fmt.Sprintf("server_info[%d].form_type", i), "must not be empty")
		}
		if f.FormType == "http://jabber.org/network/serverinfo" {
			add(fmt.Sprintf("server_info[%d].form_type", i), "the XEP-0157 form is made from contact_addresses")
		}
	}
}
