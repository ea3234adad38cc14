package roster

import (
	"fmt"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// parseState reads the short state names of the tables below: N, T, F or B
// for none/to/from/both, then +PO (pending out), +PI (pending in), +POI
// (both pending) and +A (pre-approved).
func parseState(t *testing.T, name string) State {
	t.Helper()
	parts := strings.Split(name, "+")
	var s State
	switch parts[0] {
	case "N":
		s.Sub = storage.SubNone
	case "T":
		s.Sub = storage.SubTo
	case "F":
		s.Sub = storage.SubFrom
	case "B":
		s.Sub = storage.SubBoth
	default:
		t.Fatalf("bad state name %q", name)
	}
	for _, p := range parts[1:] {
		switch p {
		case "PO":
			s.PendingOut = true
		case "PI":
			s.PendingIn = true
		case "POI":
			s.PendingOut, s.PendingIn = true, true
		case "A":
			s.PreApproved = true
		default:
			t.Fatalf("bad state name %q", name)
		}
	}
	return s
}

// The nine states of RFC 6121 Appendix A.1, and the three in which a
// pre-approval can be recorded (§3.4.1).
var allStates = []string{"N", "N+PO", "N+PI", "N+POI", "T", "T+PI", "F", "F+PO", "B", "N+A", "N+PO+A", "T+A"}

var events = []struct {
	inbound bool
	typ     string
}{
	{false, stanza.TypeSubscribe}, {false, stanza.TypeUnsubscribe}, {false, stanza.TypeSubscribed}, {false, stanza.TypeUnsubscribed},
	{true, stanza.TypeSubscribe}, {true, stanza.TypeUnsubscribe}, {true, stanza.TypeSubscribed}, {true, stanza.TypeUnsubscribed},
}

// expected is transcribed from RFC 6121 Appendix A.2 (outbound: Route?)
// and A.3 (inbound: Deliver?), with the pre-approval rules of §3.4 and the
// presence side effects of §3.1.5, §3.2.2 and §3.3.3. Each cell reads
// "route-or-deliver new-state flags", '=' meaning no state change; flags
// are push, auto (auto-reply subscribed), pres (send presence) and unav
// (send unavailable). Columns follow events.
var expected = map[string][8]string{
	//        out subscribe     out unsubscribe   out subscribed            out unsubscribed    in subscribe                 in unsubscribe      in subscribed     in unsubscribed
	"N":      {"y N+PO push", "y =", "n N+A push", "n =", "y N+PI", "n =", "n =", "n ="},
	"N+PO":   {"y =", "y N push", "n N+PO+A push", "n =", "y N+POI", "n =", "y T push", "y N push"},
	"N+PI":   {"y N+POI push", "y =", "y F push pres", "y N", "n =", "y N", "n =", "n ="},
	"N+POI":  {"y =", "y N+PI push", "y F+PO push pres", "y N+PO", "n =", "y N+PO", "y T+PI push", "y N+PI push"},
	"T":      {"n =", "y N push", "n T+A push", "n =", "y T+PI", "n =", "n =", "y N push"},
	"T+PI":   {"n =", "y N+PI push", "y B push pres", "y T", "n =", "y T", "n =", "y N+PI push"},
	"F":      {"y F+PO push", "y =", "n =", "y N push unav", "n = auto", "y N push unav", "n =", "n ="},
	"F+PO":   {"y =", "y F push", "n =", "y N+PO push unav", "n = auto", "y N+PO push unav", "y B push", "y F push"},
	"B":      {"n =", "y F push", "n =", "y T push unav", "n = auto", "y T push unav", "n =", "y F push"},
	"N+A":    {"y N+PO+A push", "y =", "n =", "n N push", "n F push auto pres", "n =", "n =", "n ="},
	"N+PO+A": {"y =", "y N+A push", "n =", "n N+PO push", "n F+PO push auto pres", "n =", "y T+A push", "y N+A push"},
	"T+A":    {"n =", "y N+A push", "n =", "n T push", "n B push auto pres", "n =", "n =", "y N+A push"},
}

func TestMachineExhaustive(t *testing.T) {
	if len(expected) != len(allStates) {
		t.Fatalf("table has %d states, want %d", len(expected), len(allStates))
	}
	for _, name := range allStates {
		row, ok := expected[name]
		if !ok {
			t.Fatalf("no expectations for state %s", name)
		}
		from := parseState(t, name)
		for i, ev := range events {
			dir := "out"
			if ev.inbound {
				dir = "in"
			}
			t.Run(fmt.Sprintf("%s/%s-%s", name, dir, ev.typ), func(t *testing.T) {
				f := strings.Fields(row[i])
				want := Outcome{Route: f[0] == "y", State: from}
				if f[1] != "=" {
					want.State = parseState(t, f[1])
				}
				for _, flag := range f[2:] {
					switch flag {
					case "push":
						want.Push = true
					case "auto":
						want.AutoReply = stanza.TypeSubscribed
					case "pres":
						want.SendPresence = true
					case "unav":
						want.SendUnavailable = true
					default:
						t.Fatalf("bad flag %q", flag)
					}
				}
				var got Outcome
				if ev.inbound {
					got, ok = Inbound(from, ev.typ)
				} else {
					got, ok = Outbound(from, ev.typ)
				}
				if !ok {
					t.Fatalf("type %s not recognised", ev.typ)
				}
				if got != want {
					t.Errorf("got %+v\nwant %+v", got, want)
				}
			})
		}
	}
}

func TestMachineRejectsOtherTypes(t *testing.T) {
	for _, typ := range []string{"", stanza.TypeUnavailable, stanza.TypeProbe, stanza.TypeError} {
		if _, ok := Outbound(State{}, typ); ok {
			t.Errorf("Outbound accepted %q", typ)
		}
		if _, ok := Inbound(State{}, typ); ok {
			t.Errorf("Inbound accepted %q", typ)
		}
		if IsSubscriptionType(typ) {
			t.Errorf("IsSubscriptionType(%q) = true", typ)
		}
	}
}

// TestHandshake runs the full mutual subscription of RFC 6121 §3.1 through
// both machines, the user's and the contact's, and checks both end in both.
func TestHandshake(t *testing.T) {
	var user, contact State
	step := func(fromUser bool, typ string) {
		t.Helper()
		sender, receiver := &user, &contact
		if !fromUser {
			sender, receiver = &contact, &user
		}
		o, _ := Outbound(*sender, typ)
		*sender = o.State
		if !o.Route {
			t.Fatalf("%s not routed", typ)
		}
		in, _ := Inbound(*receiver, typ)
		*receiver = in.State
	}
	step(true, stanza.TypeSubscribe)
	step(false, stanza.TypeSubscribed)
	step(false, stanza.TypeSubscribe)
	step(true, stanza.TypeSubscribed)
	want := State{Sub: storage.SubBoth}
	if user != want || contact != want {
		t.Errorf("after the handshake user=%+v contact=%+v, want both", user, contact)
	}
}
