package sasl2

import (
	"errors"
	"testing"

	"github.com/parley-xmpp/parley/xmpp/stanza"
)

func TestAuthenticateRoundTrip(t *testing.T) {
	ua := &UserAgent{ID: "d4565fa7-4d72-4749-b3d3-740edbf87770", Software: "Parley", Device: "Desk"}
	in := Authenticate{Mechanism: "SCRAM-SHA-256", Initial: []byte("n,,n=u,r=x"), HasInitial: true, UserAgent: ua,
		Extensions: []*stanza.Element{stanza.New("urn:xmpp:bind:0", "bind")}}
	got, err := ParseAuthenticate(in.Element())
	if err != nil {
		t.Fatal(err)
	}
	if got.Mechanism != in.Mechanism || string(got.Initial) != string(in.Initial) || !got.HasInitial || *got.UserAgent != *ua || got.Extension("urn:xmpp:bind:0", "bind") == nil {
		t.Fatalf("round trip: %+v", got)
	}
	// An empty <initial-response/> is an empty response, not none.
	got, err = ParseAuthenticate(stanza.New(NS, "authenticate", "mechanism", "PLAIN").Append(stanza.New(NS, "initial-response")))
	if err != nil || !got.HasInitial || len(got.Initial) != 0 {
		t.Fatalf("empty initial response: %+v %v", got, err)
	}
}

func TestAuthenticateInvalid(t *testing.T) {
	cases := map[string]*stanza.Element{
		"no mechanism": stanza.New(NS, "authenticate"),
		"bad base64":   stanza.New(NS, "authenticate", "mechanism", "PLAIN").Append(stanza.New(NS, "initial-response").AppendText("!!")),
		"bad ua id":    stanza.New(NS, "authenticate", "mechanism", "PLAIN").Append(stanza.New(NS, "user-agent", "id", "not-a-uuid")),
		"unknown":      stanza.New(NS, "authenticate", "mechanism", "PLAIN").Append(stanza.New(NS, "bogus")),
	}
	for name, el := range cases {
		if _, err := ParseAuthenticate(el); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: accepted (%v)", name, err)
		}
	}
}

func TestOutcomes(t *testing.T) {
	s, err := ParseSuccess(Success{AdditionalData: []byte("v=x"), AuthorizationIdentifier: "a@b/c"}.Element())
	if err != nil || string(s.AdditionalData) != "v=x" || s.AuthorizationIdentifier != "a@b/c" {
		t.Fatalf("success: %+v %v", s, err)
	}
	f := ParseFailure(Failure{Condition: "not-authorized", Text: "no"}.Element())
	if f.Condition != "not-authorized" || f.Text != "no" {
		t.Fatalf("failure: %+v", f)
	}
	if d, err := DecodeData("\n  dj14\n"); err != nil || string(d) != "v=x" {
		t.Fatalf("whitespace around base64: %q %v", d, err)
	}
}
