// An @xmpp/client peer for the stream management scenario of sm_test.go,
// speaking the JSON-lines protocol of peer.js. @xmpp/client enables
// XEP-0198 on its own; this peer reports it and the acks it receives.
//
//   node sm_peer.js --service xmpp://127.0.0.1:5222 --domain localhost \
//     --username alice --password secret
//
// Commands: {"cmd": "send", "to", "body"}, {"cmd": "quit"}.
// Events: online (with sm_enabled and sm_id), message, presence,
// acked {body} for each of our messages the server acknowledged,
// error, offline.
import { client, xml } from "@xmpp/client";
import {
  emit, exitWhenOffline, emitStanzas, peerArgs,
  readCommands, sendMessage, setup, start,
} from "./peerlib.js";

const args = peerArgs({
  resource: { type: "string", default: "xmppjs-sm" },
});

const xmpp = client({
  service: args.service,
  domain: args.domain,
  resource: args.resource,
  username: args.username,
  password: args.password,
  timeout: args.timeout,
});
setup(xmpp, args);

const sm = xmpp.streamManagement;
// Ask for acks soon after sending, so the scenario does not wait 30 s.
sm.requestAckInterval = 1000;
sm.requestAckDebounce = 100;
sm.on("ack", (st) => {
  if (st.is("message")) emit({ event: "acked", body: st.getChildText("body") ?? "" });
});

exitWhenOffline(xmpp);
emitStanzas(xmpp);
xmpp.on("online", async (address) => {
  emit({ event: "online", jid: address.toString(), mech: "", sm_enabled: sm.enabled, sm_id: sm.id ?? "" });
  await xmpp.send(xml("presence"));
});

readCommands(xmpp, {
  send: (c) => sendMessage(xmpp, c),
});
start(xmpp);
