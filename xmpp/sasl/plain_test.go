package sasl

import (
	"errors"
	"strings"
	"testing"
)

func plainCfg(got *[2]string) ServerConfig {
	return ServerConfig{CheckPLAIN: func(u, p string) error {
		got[0], got[1] = u, p
		switch {
		case u == "disabled":
			return &Failure{Condition: AccountDisabled}
		case u == "juliet" && p == "r0m30myr0m30":
			return nil
		}
		return errors.New("bad password")
	}}
}

func TestPLAINServer(t *testing.T) {
	var got [2]string
	s, err := NewServer(Plain, plainCfg(&got))
	if err != nil {
		t.Fatal(err)
	}
	out, done, err := s.Next([]byte("romeo@example.net\x00juliet\x00r0m30myr0m30"))
	if err != nil || !done || out != nil {
		t.Fatalf("out=%q done=%v err=%v", out, done, err)
	}
	if s.Username() != "juliet" || s.Authzid() != "romeo@example.net" {
		t.Fatalf("identity %q/%q", s.Username(), s.Authzid())
	}
	if got != [2]string{"juliet", "r0m30myr0m30"} {
		t.Fatalf("CheckPLAIN got %q", got)
	}
	if _, _, err := s.Next([]byte("\x00juliet\x00r0m30myr0m30")); err == nil {
		t.Fatal("second message accepted")
	}

	s, _ = NewServer(Plain, plainCfg(&got))
	_, _, err = s.Next([]byte("\x00juliet\x00wrong"))
	wantFailure(t, err, NotAuthorized)
	if s.Username() != "" {
		t.Fatal("username after failure")
	}

	s, _ = NewServer(Plain, plainCfg(&got))
	_, _, err = s.Next([]byte("\x00disabled\x00x"))
	wantFailure(t, err, AccountDisabled)

	// Empty initial response: empty challenge, then the credentials.
	s, _ = NewServer(Plain, plainCfg(&got))
	if out, done, err := s.Next(nil); err != nil || done || len(out) != 0 {
		t.Fatalf("empty initial: out=%q done=%v err=%v", out, done, err)
	}
	if _, done, err := s.Next([]byte("\x00juliet\x00r0m30myr0m30")); err != nil || !done {
		t.Fatalf("after challenge: done=%v err=%v", done, err)
	}
}

func TestPLAINMalformed(t *testing.T) {
	long := strings.Repeat("a", 256)
	for _, msg := range []string{
		"", "juliet", "juliet\x00pw", "\x00\x00pw", "\x00juliet\x00", "a\x00b\x00c\x00d",
		"\x00" + long + "\x00pw", "\x00juliet\x00\xff", long + "\x00juliet\x00pw",
	} {
		var got [2]string
		s, _ := NewServer(Plain, plainCfg(&got))
		if msg == "" {
			s.Next(nil) // consume the empty-initial-response allowance
		}
		_, _, err := s.Next([]byte(msg))
		var f *Failure
		if !errors.As(err, &f) || f.Condition != MalformedRequest {
			t.Errorf("%q: err = %v, want malformed-request", msg, err)
		}
		if got[0] != "" {
			t.Errorf("%q: CheckPLAIN called", msg)
		}
	}
}

func TestPLAINClient(t *testing.T) {
	c, err := NewClient(Plain, ClientConfig{Username: "juliet", Password: "r0m30myr0m30"})
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := c.Start()
	if string(msg) != "\x00juliet\x00r0m30myr0m30" {
		t.Fatalf("msg = %q", msg)
	}
	if c.Done() {
		t.Fatal("Done before success")
	}
	if _, err := c.Next(nil); err != nil || !c.Done() {
		t.Fatalf("success: err=%v done=%v", err, c.Done())
	}
	c, _ = NewClient(Plain, ClientConfig{Username: "juliet", Password: "x", Authzid: "romeo"})
	msg, _ = c.Start()
	if string(msg) != "romeo\x00juliet\x00x" {
		t.Fatalf("msg = %q", msg)
	}
	if _, err := c.Next([]byte("unexpected")); !errors.Is(err, ErrProtocol) || c.Done() {
		t.Fatalf("non-empty success data: err=%v", err)
	}
	if _, err := NewClient(Plain, ClientConfig{Username: "a\x00b", Password: "x"}); err == nil {
		t.Fatal("NUL in username accepted")
	}
	// Round trip against the server.
	var got [2]string
	s, _ := NewServer(Plain, plainCfg(&got))
	c, _ = NewClient(Plain, ClientConfig{Username: "juliet", Password: "r0m30myr0m30"})
	if err := run(t, c, s); err != nil {
		t.Fatal(err)
	}
}

func TestEXTERNALAndANONYMOUS(t *testing.T) {
	cfg := ServerConfig{
		CheckEXTERNAL: func(authzid string) (string, error) {
			if authzid != "" && authzid != "juliet@example.com" {
				return "", &Failure{Condition: InvalidAuthzid}
			}
			return "juliet", nil
		},
		AllowAnonymous: true,
	}
	s, _ := NewServer(External, cfg)
	if _, done, err := s.Next(nil); err != nil || !done || s.Username() != "juliet" {
		t.Fatalf("EXTERNAL: done=%v err=%v user=%q", done, err, s.Username())
	}
	s, _ = NewServer(External, cfg)
	_, _, err := s.Next([]byte("romeo@example.net"))
	wantFailure(t, err, InvalidAuthzid)

	c, _ := NewClient(External, ClientConfig{Authzid: "juliet@example.com"})
	s, _ = NewServer(External, cfg)
	if err := run(t, c, s); err != nil || s.Authzid() != "juliet@example.com" {
		t.Fatalf("EXTERNAL round trip: %v %q", err, s.Authzid())
	}

	s, _ = NewServer(Anonymous, cfg)
	c, _ = NewClient(Anonymous, ClientConfig{Username: "trace"})
	if err := run(t, c, s); err != nil || s.Username() != "" {
		t.Fatalf("ANONYMOUS: %v", err)
	}
	_, err = NewServer(Anonymous, ServerConfig{})
	wantFailure(t, err, InvalidMechanism)
}
