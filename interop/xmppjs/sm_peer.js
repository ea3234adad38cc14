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
import { parseArgs } from "node:util";
import readline from "node:readline";

const { values: args } = parseArgs({
  options: {
    service: { type: "string" },
    domain: { type: "string", default: "localhost" },
    username: { type: "string" },
    password: { type: "string" },
    resource: { type: "string", default: "xmppjs-sm" },
    debug: { type: "boolean", default: false },
  },
});

function emit(ev) {
  process.stdout.write(JSON.stringify(ev) + "\n");
}

const xmpp = client({
  service: args.service,
  domain: args.domain,
  resource: args.resource,
  username: args.username,
  password: args.password,
});
if (args.debug || process.env.PARLEY_INTEROP_DEBUG) {
  xmpp.on("input", (data) => process.stderr.write(`IN  ${data}\n`));
  xmpp.on("output", (data) => process.stderr.write(`OUT ${data}\n`));
}
xmpp.reconnect.stop();

const sm = xmpp.streamManagement;
// Ask for acks soon after sending, so the scenario does not wait 30 s.
sm.requestAckInterval = 1000;
sm.requestAckDebounce = 100;
sm.on("ack", (st) => {
  if (st.is("message")) emit({ event: "acked", body: st.getChildText("body") ?? "" });
});

xmpp.on("error", (err) => {
  emit({ event: "error", text: String(err?.stack ?? err) });
  process.exitCode = 1;
});
xmpp.on("offline", () => {
  emit({ event: "offline" });
  process.exit(process.exitCode ?? 0);
});
xmpp.on("stanza", (st) => {
  const from = st.attrs.from ?? "";
  if (st.is("message")) {
    emit({ event: "message", from, type: st.attrs.type ?? "normal", body: st.getChildText("body") ?? "", xml: st.toString() });
  } else if (st.is("presence")) {
    emit({ event: "presence", from, type: st.attrs.type ?? "available", xml: st.toString() });
  }
});
xmpp.on("online", async (address) => {
  emit({ event: "online", jid: address.toString(), mech: "", sm_enabled: sm.enabled, sm_id: sm.id ?? "" });
  await xmpp.send(xml("presence"));
});

async function command(line) {
  const c = JSON.parse(line);
  switch (c.cmd) {
    case "send":
      await xmpp.send(xml("message", { to: c.to, type: c.type ?? "chat" }, xml("body", {}, c.body)));
      break;
    case "quit":
      await xmpp.stop();
      break;
    default:
      emit({ event: "error", text: "unknown command: " + line });
  }
}

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", (line) => {
  if (line.trim()) command(line).catch((err) => emit({ event: "error", text: String(err) }));
});
rl.on("close", () => {
  xmpp.stop().catch(() => {});
});
xmpp.start().catch((err) => {
  emit({ event: "error", text: "start: " + String(err?.stack ?? err) });
  process.exit(1);
});
