// @xmpp/client logging in with SASL2 (XEP-0388), Bind 2 (XEP-0386) and
// FAST (XEP-0484), driven by ../sasl2_test.go. It logs in with the
// password, requesting a FAST token, then, on {"cmd": "restart"}, logs in
// again on a new connection with the token it got.
//
//   node sasl2_peer.js --service xmpp://127.0.0.1:5222 --domain localhost \
//     --username alice --password secret --uaid UUID --tag parley-interop
//
// Events: {"event": "online", "jid", "mech", "offered", "token"} (token:
// whether a FAST token is held), {"event": "error", "text"}.
import { client, xml } from "@xmpp/client";
import { parseArgs } from "node:util";
import readline from "node:readline";

const { values: args } = parseArgs({
  options: {
    service: { type: "string" },
    domain: { type: "string", default: "localhost" },
    username: { type: "string" },
    password: { type: "string" },
    uaid: { type: "string" },
    tag: { type: "string", default: "parley-interop" },
    debug: { type: "boolean", default: false },
  },
});

function emit(ev) {
  process.stdout.write(JSON.stringify(ev) + "\n");
}

let offered = [];
let used = null;
let restarting = false;
const userAgent = xml(
  "user-agent",
  { id: args.uaid },
  xml("software", {}, "parley-interop"),
  xml("device", {}, "CI"),
);

const xmpp = client({
  service: args.service,
  domain: args.domain,
  resource: args.tag, // the Bind 2 tag
  credentials: async (authenticate, mechanisms, fast) => {
    offered = mechanisms;
    const token = await fast?.fetch();
    used = token ? token.mechanism : mechanisms[0];
    await authenticate(
      { username: args.username, password: args.password, token },
      mechanisms[0],
      userAgent,
    );
  },
});
if (args.debug || process.env.PARLEY_INTEROP_DEBUG) {
  xmpp.on("input", (data) => process.stderr.write(`IN  ${data}\n`));
  xmpp.on("output", (data) => process.stderr.write(`OUT ${data}\n`));
}
xmpp.reconnect.stop();

xmpp.on("error", (err) => {
  emit({ event: "error", text: String(err?.stack ?? err) });
  process.exitCode = 1;
});
xmpp.on("offline", () => {
  if (!restarting) process.exit(process.exitCode ?? 0);
});
xmpp.on("stanza", (st) => {
  if (st.is("presence")) {
    emit({ event: "presence", from: st.attrs.from ?? "", type: st.attrs.type ?? "available", xml: st.toString() });
  } else if (st.is("message")) {
    emit({ event: "message", from: st.attrs.from ?? "", type: st.attrs.type ?? "normal", body: st.getChildText("body") ?? "", xml: st.toString() });
  }
});
xmpp.on("online", async (address) => {
  const token = await xmpp.fast.fetch();
  emit({ event: "online", jid: address.toString(), mech: used, offered, token: !!token });
  await xmpp.send(xml("presence"));
});

readline.createInterface({ input: process.stdin }).on("line", async (line) => {
  const c = JSON.parse(line);
  if (c.cmd === "restart") {
    restarting = true;
    await xmpp.stop();
    restarting = false;
    await xmpp.start().catch((err) => {
      emit({ event: "error", text: String(err?.stack ?? err) });
      process.exit(1);
    });
  } else if (c.cmd === "send") {
    await xmpp.send(xml("message", { to: c.to, type: "chat" }, xml("body", {}, c.body)));
  } else if (c.cmd === "quit") {
    await xmpp.stop();
  }
});

xmpp.start().catch((err) => {
  emit({ event: "error", text: String(err?.stack ?? err) });
  process.exit(1);
});
