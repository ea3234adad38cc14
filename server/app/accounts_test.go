package app

import (
	"context"
	"testing"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// TestAccountsPasswordPolicy: the account service (XEP-0077 password
// change, registration through modules) applies the same password policy
// as registration on the stream (auth.CheckPassword): a password SCRAM's
// preparation refuses, or that is short once prepared, is not acceptable.
func TestAccountsPasswordPolicy(t *testing.T) {
	a := &accounts{policy: config.Registration{MinPasswordLength: 4}}
	for _, pw := range []string{"", "abc", "pass\u0007word", "e\u0301t\u00e9"} {
		err := a.AcceptablePassword(pw)
		if se, ok := err.(*stanza.Error); !ok || se.Condition != stanza.NotAcceptable {
			t.Errorf("AcceptablePassword(%q) = %v, want <not-acceptable/>", pw, err)
		}
	}
	if err := a.AcceptablePassword("\u00e9t\u00e9\u00e9t\u00e9"); err != nil {
		t.Errorf("a four-character password: %v", err)
	}
}

// TestAccountsUsernamePolicy: registration through the account service
// and account creation by an administrator (XEP-0133 add-user) apply the
// username policy of in-band registration (auth.CheckUsername): a JID
// without a localpart is <not-acceptable/>, before anything is stored.
func TestAccountsUsernamePolicy(t *testing.T) {
	a := &accounts{domains: []string{"localhost"}, policy: config.Registration{Enabled: true, MinPasswordLength: 4}}
	domainOnly := jid.MustParse("localhost")
	for name, err := range map[string]error{
		"register": a.Register(context.Background(), module.Registration{User: domainOnly, Password: "long enough"}),
		"create":   a.Create(context.Background(), domainOnly, "long enough"),
	} {
		if se, ok := err.(*stanza.Error); !ok || se.Condition != stanza.NotAcceptable {
			t.Errorf("%s %s: %v, want <not-acceptable/>", name, domainOnly, err)
		}
	}
}
