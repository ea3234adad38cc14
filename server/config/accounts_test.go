package config

import (
	"strings"
	"testing"
)

func TestAccountSettings(t *testing.T) {
	c, err := Parse("t.yaml", []byte(`
admins: [admin@localhost]
registration:
  enabled: true
  min_password_length: 12
contact_addresses:
  abuse: ["mailto:abuse@localhost", "xmpp:abuse@localhost"]
  status: ["https://status.localhost"]
server_info:
  - form_type: "urn:example:info"
    fields:
      - var: motto
        values: [hello]
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Admins) != 1 || c.Admins[0].String() != "admin@localhost" {
		t.Errorf("admins = %v", c.Admins)
	}
	if !c.Registration.Enabled || c.Registration.MinPasswordLength != 12 {
		t.Errorf("registration = %+v", c.Registration)
	}
	f := c.ContactAddresses.Fields()
	if len(f) != 2 || f[0].Var != "abuse-addresses" || len(f[0].Values) != 2 || f[1].Var != "status-addresses" {
		t.Errorf("contact fields = %+v", f)
	}
	if len(c.ServerInfo) != 1 || c.ServerInfo[0].FormType != "urn:example:info" || c.ServerInfo[0].Fields[0].Var != "motto" {
		t.Errorf("server_info = %+v", c.ServerInfo)
	}
	if d := Default(); d.Registration.Enabled || d.Registration.MinPasswordLength != 8 {
		t.Errorf("default registration = %+v", d.Registration)
	}
}

func TestAccountSettingsErrors(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"admins: [localhost]", "admins[0]"},
		{"admins: [a@localhost/res]", "admins[0]"},
		{"contact_addresses:\n  abuse: [abuse]", "contact_addresses.abuse[0]"},
		{"contact_addresses:\n  nope: [x:y]", "nope"},
		{"registration:\n  min_password_length: 0", "registration.min_password_length"},
		{"server_info:\n  - fields: []", "form_type"},
		{"server_info:\n  - form_type: x\n    fields:\n      - var: FORM_TYPE", "FORM_TYPE"},
	} {
		_, err := Parse("t.yaml", []byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one mentioning %q", tc.yaml, err, tc.want)
		}
	}
}
