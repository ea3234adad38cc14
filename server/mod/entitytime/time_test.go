package entitytime

import (
	"testing"
	"time"
)

func TestElement(t *testing.T) {
	zone := time.FixedZone("CST", -6*3600)
	at := time.Date(2006, 12, 19, 11, 58, 35, 0, zone)
	el := Element(at)
	if got := el.ChildText(NS, "tzo"); got != "-06:00" {
		t.Errorf("tzo = %q", got)
	}
	if got := el.ChildText(NS, "utc"); got != "2006-12-19T17:58:35.000Z" {
		t.Errorf("utc = %q", got)
	}
	east := Element(time.Date(2020, 1, 1, 0, 0, 0, 0, time.FixedZone("", 5*3600+30*60)))
	if got := east.ChildText(NS, "tzo"); got != "+05:30" {
		t.Errorf("tzo = %q", got)
	}
	if got := Element(at.UTC()).ChildText(NS, "tzo"); got != "+00:00" {
		t.Errorf("utc tzo = %q", got)
	}
}
