package muc

import (
	"fmt"

	"golang.org/x/text/secure/precis"
)

// nickKey returns the form two nicknames are compared in: RFC 8266's
// Nickname profile (non-ASCII spaces mapped to ASCII space, leading and
// trailing spaces removed and inner runs collapsed, case folded, NFKC,
// which also maps full- and half-width forms). "Alice", "ALICE",
// "alice " and "ａｌｉｃｅ" share a key; a Cyrillic "а" is a different
// letter to RFC 8266 and keeps its own.
func nickKey(nick string) (string, error) {
	k, err := precis.Nickname.CompareKey(nick)
	if err != nil {
		return "", fmt.Errorf("nickname %q: %w", nick, err)
	}
	return k, nil
}

// enforceNick returns a nickname as the room shows it (RFC 8266
// enforcement: the mapping, trimming and NFKC of nickKey, case kept) and
// its comparison key.
func enforceNick(nick string) (shown, key string, err error) {
	shown, err = precis.Nickname.String(nick)
	if err != nil {
		return "", "", fmt.Errorf("nickname %q: %w", nick, err)
	}
	key, err = nickKey(shown)
	return shown, key, err
}
