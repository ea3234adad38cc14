package cluster

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/parley-xmpp/parley/server/session"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// resumeState is the value of a resumable session's key (its XEP-0198
// id) in the resume bucket: what another node needs to resume it.
type resumeState struct {
	// Full is the session's full JID; Node and Inc the node holding it
	// and that node's incarnation.
	Full string `json:"j"`
	Node string `json:"n"`
	Inc  string `json:"i"`
	// Timeout is the resumption timeout, in seconds.
	Timeout int `json:"t"`
	// InH is the server's count of the client's stanzas, as last told
	// to the client (Checkpoint).
	InH uint32 `json:"h"`
	// Presence, Priority and Flags as at the last checkpoint (the
	// sessions bucket has fresher ones while the entry lives).
	Presence string   `json:"x,omitempty"`
	Priority int      `json:"p,omitempty"`
	Flags    []string `json:"f,omitempty"`
	// Sync: the session synchronised from its archive (XEP-0313).
	Sync bool `json:"s,omitempty"`
}

// maxStateBytes bounds a resume state: a presence as in an entry.
const maxStateBytes = maxEntryBytes + 4096

func (s resumeState) marshal() []byte {
	b, _ := json.Marshal(s) // strings, ints and booleans: cannot fail
	return b
}

// stateOf describes a local session for the resume bucket.
func stateOf(s *session.Session, node, inc string, timeout time.Duration, inH uint32, sync bool) resumeState {
	st := resumeState{Full: s.JID().String(), Node: node, Inc: inc, Timeout: int(timeout / time.Second), InH: inH,
		Priority: s.Priority(), Flags: s.Flags(), Sync: sync}
	if p := s.Presence(); p != nil && s.Available() {
		st.Presence = string(p.Bytes())
	}
	return st
}

// parseState decodes a resume state, its full JID and presence (nil if
// none).
func parseState(b []byte) (resumeState, jid.JID, *stanza.Element, error) {
	var s resumeState
	if len(b) > maxStateBytes {
		return s, jid.JID{}, nil, fmt.Errorf("cluster: resume state of %d bytes", len(b))
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, jid.JID{}, nil, fmt.Errorf("cluster: resume state: %w", err)
	}
	if s.Node == "" || s.Inc == "" || s.Timeout <= 0 {
		return s, jid.JID{}, nil, errors.New("cluster: resume state without node or timeout")
	}
	full, err := jid.Parse(s.Full)
	if err != nil || full.Local() == "" || full.Resource() == "" {
		return s, jid.JID{}, nil, fmt.Errorf("cluster: resume state of %q: not a full JID", s.Full)
	}
	if len(s.Flags) > session.MaxFlags {
		return s, jid.JID{}, nil, fmt.Errorf("cluster: resume state with %d flags", len(s.Flags))
	}
	if s.Presence == "" {
		return s, full, nil, nil
	}
	p, err := parseStanza([]byte(s.Presence), maxEntryBytes)
	if err != nil {
		return s, jid.JID{}, nil, fmt.Errorf("cluster: resume state presence: %w", err)
	}
	if p.Name.Local != "presence" {
		return s, jid.JID{}, nil, fmt.Errorf("cluster: resume state presence is a <%s/>", p.Name.Local)
	}
	return s, full, p, nil
}

// Resumption ids are <node>.<random>: the node's name in base64url
// (without padding) and random base32 text, both valid in bucket keys
// and subjects.
func resumeID(node, random string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(node)) + "." + random
}

// maxIDBytes bounds a resumption id a client sends.
const maxIDBytes = 200

// nodeOfID returns the node a resumption id names, or fails on anything
// resumeID does not make.
func nodeOfID(id string) (string, error) {
	if len(id) > maxIDBytes {
		return "", fmt.Errorf("cluster: resumption id of %d bytes", len(id))
	}
	enc, random, ok := strings.Cut(id, ".")
	if !ok || random == "" {
		return "", fmt.Errorf("cluster: resumption id %q", id)
	}
	for _, r := range random {
		if !(r >= 'A' && r <= 'Z' || r >= '2' && r <= '7' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return "", fmt.Errorf("cluster: resumption id %q", id)
		}
	}
	b, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || len(b) == 0 || resumeID(string(b), random) != id {
		return "", fmt.Errorf("cluster: resumption id %q", id)
	}
	return string(b), nil
}
