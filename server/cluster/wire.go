package cluster

import (
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// A frame is one NATS message from a node to another, on the subject of
// the receiving node (<cluster>.node.<node>). Its headers say what to do
// and with which session; its body is the stanza (wrapped, entry.go) or
// the stream error condition.
const (
	hdrOp    = "Parley-Op"
	hdrTo    = "Parley-To"
	hdrFrom  = "Parley-Node"
	hdrTopic = "Parley-Topic"
	hdrHops  = "Parley-Hops"

	// opDeliver: deliver the stanza of the body to the local session To.
	opDeliver = "deliver"
	// opClose: end the local session To with the stream error condition
	// of the body.
	opClose = "close"
	// opReply: route the IQ answer of the body, to an IQ this node sent
	// (router.ReplyForwarder).
	opReply = "reply"
	// opInvalidate: modules drop what they cache of the account To under
	// the topic of the header (module.Host.Invalidate).
	opInvalidate = "invalidate"
	// opLeave: the sending node leaves the cluster (it drains): forget
	// its sessions, send what is queued for it, then answer (a NATS
	// request).
	opLeave = "leave"
	// opComponent: hand the stanza of the body to the external component
	// of the domain To, connected to the receiving node.
	opComponent = "component"
	// opRoom: hand the stanza of the body to the chat room To (a bare
	// JID) the receiving node serves (rooms.go); Parley-Hops counts the
	// nodes it went through.
	opRoom = "room"
	// opSync: answer (a NATS request) once the frames received before
	// are handled and what they journaled is stored (sync.go).
	opSync = "sync"
)

// maxTopic bounds an invalidation's topic.
const maxTopic = 64

// frame is a decoded frame.
type frame struct {
	op    string
	node  string  // the sending node
	to    jid.JID // a full JID
	st    *stanza.Element
	cond  stream.Condition
	topic string
	hops  int // opRoom
}

// deliverMsg builds the frame delivering st to the session full.
func deliverMsg(subject, self string, full jid.JID, st *stanza.Element) *nats.Msg {
	return stanzaMsg(subject, self, opDeliver, full.String(), st)
}

// stanzaMsg builds a frame of operation op carrying st to to.
func stanzaMsg(subject, self, op, to string, st *stanza.Element) *nats.Msg {
	m := nats.NewMsg(subject)
	m.Header.Set(hdrOp, op)
	m.Header.Set(hdrTo, to)
	m.Header.Set(hdrFrom, self)
	m.Data = appendWrapped(make([]byte, 0, len(wrapOpen)+len(wrapClose)+len(st.Bytes())), st)
	return m
}

// closeMsg builds the frame ending the session full.
func closeMsg(subject, self string, full jid.JID, cond stream.Condition) *nats.Msg {
	m := nats.NewMsg(subject)
	m.Header.Set(hdrOp, opClose)
	m.Header.Set(hdrTo, full.String())
	m.Header.Set(hdrFrom, self)
	m.Data = []byte(cond)
	return m
}

// invalidateMsg builds the frame invalidating what modules cache of
// user under topic.
func invalidateMsg(subject, self string, user jid.JID, topic string) *nats.Msg {
	m := nats.NewMsg(subject)
	m.Header.Set(hdrOp, opInvalidate)
	m.Header.Set(hdrTo, user.String())
	m.Header.Set(hdrFrom, self)
	m.Header.Set(hdrTopic, topic)
	return m
}

// replyMsg builds the frame carrying an IQ answer back to the node that
// sent the IQ.
func replyMsg(subject, self string, st *stanza.Element) *nats.Msg {
	m := nats.NewMsg(subject)
	m.Header.Set(hdrOp, opReply)
	m.Header.Set(hdrFrom, self)
	m.Data = appendWrapped(make([]byte, 0, len(wrapOpen)+len(wrapClose)+len(st.Bytes())), st)
	return m
}

// leaveMsg builds the frame telling a node that this one leaves.
func leaveMsg(subject, self string) *nats.Msg {
	m := nats.NewMsg(subject)
	m.Header.Set(hdrOp, opLeave)
	m.Header.Set(hdrFrom, self)
	return m
}

// componentMsg builds the frame routing st to the component of domain.
func componentMsg(subject, self, domain string, st *stanza.Element) *nats.Msg {
	return stanzaMsg(subject, self, opComponent, domain, st)
}

// parseFrame decodes a frame; maxStanza bounds the stanza.
func parseFrame(m *nats.Msg, maxStanza int) (frame, error) {
	f := frame{op: m.Header.Get(hdrOp), node: m.Header.Get(hdrFrom)}
	if f.node == "" {
		return f, errors.New("cluster: frame without a sending node")
	}
	if f.op == opLeave || f.op == opSync {
		return f, nil
	}
	if f.op == opReply {
		st, err := parseStanza(m.Data, maxStanza)
		if err != nil {
			return f, err
		}
		if stanza.KindOf(st) != stanza.KindIQ || st.IsRequest() {
			return f, fmt.Errorf("cluster: reply frame carries a <%s type=%q/>", st.Name.Local, st.Type())
		}
		f.st = st
		return f, nil
	}
	to, err := jid.Parse(m.Header.Get(hdrTo))
	if f.op == opInvalidate {
		if err != nil || to.Local() == "" || to.Resource() != "" {
			return f, fmt.Errorf("cluster: invalidation of %q: not a bare JID", m.Header.Get(hdrTo))
		}
		f.to, f.topic = to, m.Header.Get(hdrTopic)
		if f.topic == "" || len(f.topic) > maxTopic {
			return f, fmt.Errorf("cluster: invalidation topic of %d bytes", len(f.topic))
		}
		return f, nil
	}
	if f.op == opRoom {
		return parseRoomFrame(f, m, to, err, maxStanza)
	}
	if f.op == opComponent {
		if err != nil || to.Local() != "" || to.Resource() != "" {
			return f, fmt.Errorf("cluster: component frame to %q: not a domain", m.Header.Get(hdrTo))
		}
		st, err := parseStanza(m.Data, maxStanza)
		if err != nil {
			return f, err
		}
		if stanza.KindOf(st) == stanza.KindOther {
			return f, fmt.Errorf("cluster: frame carries a <%s/>, not a stanza", st.Name.Local)
		}
		f.to, f.st = to, st
		return f, nil
	}
	if err != nil || to.Local() == "" || to.Resource() == "" {
		return f, fmt.Errorf("cluster: frame to %q: not a full JID", m.Header.Get(hdrTo))
	}
	f.to = to
	switch f.op {
	case opDeliver:
		st, err := parseStanza(m.Data, maxStanza)
		if err != nil {
			return f, err
		}
		if stanza.KindOf(st) == stanza.KindOther {
			return f, fmt.Errorf("cluster: frame carries a <%s/>, not a stanza", st.Name.Local)
		}
		f.st = st
	case opClose:
		c := stream.Condition(m.Data)
		if c != stream.Conflict && c != stream.PolicyViolation && c != stream.SystemShutdown && c != stream.NotAuthorized {
			return f, fmt.Errorf("cluster: close with condition %q", m.Data)
		}
		f.cond = c
	default:
		return f, fmt.Errorf("cluster: frame operation %q", f.op)
	}
	return f, nil
}
