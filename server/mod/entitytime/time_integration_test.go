package entitytime_test

import (
	"errors"
	"regexp"
	"testing"
	"time"

	entitytime "github.com/parley-xmpp/parley/server/mod/entitytime"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

func TestTimeIntegration(t *testing.T) {
	s := xmpptest.NewServer(t)
	alice := s.AddUser(t, "alice", "pw")
	c := s.Client(t, "alice", "pw", "desk")
	ctx := xmpptest.Context(t, 10*time.Second)

	before := time.Now().Add(-time.Second)
	res, err := c.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", s.Domain(), stanza.New(entitytime.NS, "time")))
	if err != nil {
		t.Fatalf("time query: %v", err)
	}
	el := res.Child(entitytime.NS, "time")
	if el == nil {
		t.Fatalf("no <time/> in %s", res)
	}
	if tzo := el.ChildText(entitytime.NS, "tzo"); !regexp.MustCompile(`^[+-]\d\d:\d\d$`).MatchString(tzo) {
		t.Errorf("tzo = %q", tzo)
	}
	utc, err := time.Parse(time.RFC3339Nano, el.ChildText(entitytime.NS, "utc"))
	if err != nil {
		t.Fatalf("utc: %v", err)
	}
	if utc.Location() != time.UTC || utc.Before(before) || utc.After(time.Now().Add(time.Second)) {
		t.Errorf("utc = %v, not now in UTC", utc)
	}

	_, err = c.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", alice.String(), stanza.New(entitytime.NS, "time")))
	var se *stanza.Error
	if !errors.As(err, &se) || se.Condition != stanza.ServiceUnavailable {
		t.Errorf("time to bare JID: err = %v, want service-unavailable", err)
	}
}
