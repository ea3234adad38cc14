package app_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"testing"

	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

// File transfer between two users goes end to end: the server routes
// XEP-0047 in-band bytestreams and XEP-0234 Jingle file transfer
// stanzas between full JIDs as they are, whatever their size within
// limits.max_stanza_bytes, and the IQ results flow back.

const (
	nsIBB        = "http://jabber.org/protocol/ibb"
	nsJingle     = "urn:xmpp:jingle:1"
	nsJingleFT   = "urn:xmpp:jingle:apps:file-transfer:5"
	nsJingleS5B  = "urn:xmpp:jingle:transports:s5b:1"
	nsJingleIBB  = "urn:xmpp:jingle:transports:ibb:1"
	nsHashes     = "urn:xmpp:hashes:2"
	ibbBlockSize = 4096
)

// iqInbox collects the IQ requests a client receives, unanswered.
func iqInbox(c *client.Client) <-chan *stanza.Element {
	ch := make(chan *stanza.Element, 16)
	c.Handle(stanza.KindIQ, xml.Name{}, func(el *stanza.Element) { ch <- el })
	return ch
}

// relayIQ sends a request from one client to another's full JID and
// checks that it arrives with the payload as sent, from the sender's
// full JID; the recipient's empty result comes back to the sender.
func relayIQ(t *testing.T, from, to *client.Client, inbox <-chan *stanza.Element, payload string) {
	t.Helper()
	ctx := xmpptest.Context(t, xmpptest.Wait)
	sent := xmpptest.Parse(t, payload)
	want := sent.String()
	type answer struct {
		res *stanza.Element
		err error
	}
	done := make(chan answer, 1)
	go func() {
		res, err := from.SendIQ(ctx, stanza.NewIQ(stanza.TypeSet, "", to.JID().String(), sent))
		done <- answer{res, err}
	}()
	var got *stanza.Element
	select {
	case got = <-inbox:
	case <-ctx.Done():
		t.Fatalf("%s: no IQ with %s", to.JID(), want)
	}
	if got.From() != from.JID().String() || got.Type() != stanza.TypeSet {
		t.Fatalf("%s got %s", to.JID(), got)
	}
	if p := got.Payload(); p == nil || p.String() != want {
		t.Fatalf("%s got the payload\n%s\nsent\n%s", to.JID(), got.Payload(), want)
	}
	xmpptest.Send(t, to, stanza.New(stanza.NSClient, "iq", "type", stanza.TypeResult, "id", got.ID(), "to", got.From()))
	a := <-done
	if a.err != nil || a.res.Type() != stanza.TypeResult || a.res.From() != to.JID().String() {
		t.Fatalf("%s: the result: %v, %v", from.JID(), a.res, a.err)
	}
}

// block returns n random bytes base64-encoded, as an IBB block.
func block(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// twoUsers starts a server and logs alice and bob in.
func twoUsers(t *testing.T) (alice, bob *client.Client) {
	t.Helper()
	s := xmpptest.NewServer(t)
	s.AddUser(t, "alice", "pw")
	s.AddUser(t, "bob", "pw")
	return s.Client(t, "alice", "pw", "desk"), s.Client(t, "bob", "pw", "laptop")
}

func TestInBandBytestreamsRouteUntouched(t *testing.T) {
	alice, bob := twoUsers(t)
	inbox := iqInbox(bob)

	// XEP-0047 §2: open, data (IQ), close, with the largest block most
	// clients use.
	relayIQ(t, alice, bob, inbox, fmt.Sprintf("<open xmlns='%s' block-size='%d' sid='i781hf64' stanza='iq'/>", nsIBB, ibbBlockSize))
	for seq := range 3 {
		relayIQ(t, alice, bob, inbox, fmt.Sprintf("<data xmlns='%s' seq='%d' sid='i781hf64'>%s</data>", nsIBB, seq, block(t, ibbBlockSize)))
	}
	relayIQ(t, alice, bob, inbox, fmt.Sprintf("<close xmlns='%s' sid='i781hf64'/>", nsIBB))

	// §3: data in messages, to the full JID and to the bare JID (which
	// reaches an available resource: bob becomes one).
	xmpptest.Send(t, bob, stanza.New(stanza.NSClient, "presence"))
	relayIQ(t, alice, bob, inbox, fmt.Sprintf("<open xmlns='%s' block-size='%d' sid='msg1' stanza='message'/>", nsIBB, ibbBlockSize))
	for seq, to := range []string{bob.JID().String(), bob.JID().Bare().String()} {
		data := xmpptest.Parse(t, fmt.Sprintf("<data xmlns='%s' seq='%d' sid='msg1'>%s</data>", nsIBB, seq, block(t, ibbBlockSize)))
		want := data.String()
		m := stanza.New(stanza.NSClient, "message", "to", to, "id", fmt.Sprintf("ibb-%d", seq))
		xmpptest.Send(t, alice, m.Append(data))
		got := xmpptest.NextMessage(t, bob)
		if got.From() != alice.JID().String() || got.ID() != m.ID() {
			t.Fatalf("bob got %s", got)
		}
		if d := got.Child(nsIBB, "data"); d == nil || d.String() != want || len(got.Elements()) != 1 {
			t.Fatalf("bob got the message %s\nsent the data\n%s", got, want)
		}
	}
	relayIQ(t, alice, bob, inbox, fmt.Sprintf("<close xmlns='%s' sid='msg1'/>", nsIBB))
}

func TestJingleFileTransferRoutesUntouched(t *testing.T) {
	alice, bob := twoUsers(t)
	aliceInbox, bobInbox := iqInbox(alice), iqInbox(bob)
	a, b := alice.JID().String(), bob.JID().String()

	// XEP-0234 §3 with a XEP-0260 transport, then XEP-0261 as the
	// fallback (XEP-0260 §2.5), and the end of the session.
	relayIQ(t, alice, bob, bobInbox, `<jingle xmlns='`+nsJingle+`' action='session-initiate' initiator='`+a+`' sid='851ba2'>`+
		`<content creator='initiator' name='a-file-offer' senders='initiator'>`+
		`<description xmlns='`+nsJingleFT+`'><file><date>2015-07-26T21:46:00+01:00</date><media-type>text/plain</media-type>`+
		`<name>test.txt</name><desc>This is a test. If this were a real file...</desc><size>6144</size>`+
		`<range offset='0' length='6144'/><hash xmlns='`+nsHashes+`' algo='sha-1'>w0mcJylzCn+AfvuGdqkty2+KP48=</hash></file></description>`+
		`<transport xmlns='`+nsJingleS5B+`' mode='tcp' sid='vj3hs98y' dstaddr='972b7bf47291ca609517f67f86b5081086052dad'>`+
		`<candidate cid='hft54dqy' host='192.168.4.1' jid='`+a+`' port='5086' priority='8257636' type='direct'/>`+
		`<candidate cid='hutr46fe' host='24.24.24.1' jid='`+a+`' port='5087' priority='8258636' type='direct'/>`+
		`<candidate cid='xmdh4b7i' host='123.456.7.8' jid='streamer.example.com' port='7625' priority='7878787' type='proxy'/>`+
		`</transport></content></jingle>`)
	relayIQ(t, bob, alice, aliceInbox, `<jingle xmlns='`+nsJingle+`' action='transport-info' initiator='`+a+`' sid='851ba2'>`+
		`<content creator='initiator' name='a-file-offer'><transport xmlns='`+nsJingleS5B+`' sid='vj3hs98y'><candidate-error/></transport></content></jingle>`)
	relayIQ(t, alice, bob, bobInbox, `<jingle xmlns='`+nsJingle+`' action='transport-replace' initiator='`+a+`' sid='851ba2'>`+
		`<content creator='initiator' name='a-file-offer'><transport xmlns='`+nsJingleIBB+`' block-size='4096' sid='ch3d9s71'/></content></jingle>`)
	relayIQ(t, bob, alice, aliceInbox, `<jingle xmlns='`+nsJingle+`' action='session-accept' initiator='`+a+`' responder='`+b+`' sid='851ba2'>`+
		`<content creator='initiator' name='a-file-offer' senders='initiator'><description xmlns='`+nsJingleFT+`'><file><name>test.txt</name>`+
		`<size>6144</size><hash xmlns='`+nsHashes+`' algo='sha-1'>w0mcJylzCn+AfvuGdqkty2+KP48=</hash></file></description>`+
		`<transport xmlns='`+nsJingleIBB+`' block-size='4096' sid='ch3d9s71'/></content></jingle>`)
	relayIQ(t, alice, bob, bobInbox, `<jingle xmlns='`+nsJingle+`' action='session-terminate' sid='851ba2'><reason><success/></reason></jingle>`)
}
