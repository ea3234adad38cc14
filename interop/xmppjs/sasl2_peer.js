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
import {
  emit, emitStanzas, peerArgs, readCommands, sendMessage,
  setup, start,
} from "./peerlib.js";

const args = peerArgs({
  uaid: { type: "string" },
  tag: { type: "string", default: "parley-interop" },
});

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
  timeout: args.timeout,
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
setup(xmpp, args);

xmpp.on("offline", () => {
  if (!restarting) process.exit(process.exitCode ?? 0);
});
emitStanzas(xmpp);
xmpp.on("online", async (address) => {
  const token = await xmpp.fast.fetch();
  emit({ event: "online", jid: address.toString(), mech: used, offered, token: !!token });
  await xmpp.send(xml("presence"));
});

readCommands(xmpp, {
  restart: async () => {
    restarting = true;
    await xmpp.stop();
    restarting = false;
    await start(xmpp, "");
  },
  send: (c) => sendMessage(xmpp, c),
});

start(xmpp, "");
