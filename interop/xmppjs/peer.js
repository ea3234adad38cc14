// An @xmpp/client peer remote-controlled by interop_test.go, speaking the
// same JSON-lines protocol as ../slixmpp/peer.py: commands on stdin,
// events on stdout, logs on stderr.
//
//   node peer.js --service xmpp://127.0.0.1:5222 --domain localhost \
//     --username alice --password secret [--mech SCRAM-SHA-1] \
//     [--timeout MS]
//
// With --mech, the peer insists on that SASL mechanism; with --mech "" it
// is the library at its defaults (its own choice of SASL or SASL2,
// mechanism, Bind 2, FAST and resource): only service, domain, username,
// password and timeout are given.
//
// The server's certificate is self-signed: run with
// NODE_TLS_REJECT_UNAUTHORIZED=0, or trust it with NODE_EXTRA_CA_CERTS.
import { client, xml } from "@xmpp/client";
import {
  emit, exitWhenOffline, messageEvent, peerArgs, presenceEvent,
  readCommands, sendMessage, setup, start,
} from "./peerlib.js";

const args = peerArgs({
  resource: { type: "string", default: "xmppjs" },
  mech: { type: "string", default: "SCRAM-SHA-1" },
});

let offered = [];
let used = null;

const xmpp = args.mech
  ? client({
      service: args.service,
      domain: args.domain,
      resource: args.resource,
      timeout: args.timeout,
      // A function lets us see what the server offered and insist on one
      // mechanism instead of the library's first choice.
      credentials: async (authenticate, mechanisms) => {
        offered = mechanisms;
        if (!mechanisms.includes(args.mech)) {
          throw new Error(
            `${args.mech} not offered (offered: ${mechanisms.join(", ")})`,
          );
        }
        used = args.mech;
        await authenticate(
          { username: args.username, password: args.password },
          args.mech,
        );
      },
    })
  : client({
      service: args.service,
      domain: args.domain,
      username: args.username,
      password: args.password,
      timeout: args.timeout,
    });
setup(xmpp, args, { status: true });
if (!args.mech) {
  // The library's choice, as sent: <auth/> (RFC 6120) or <authenticate/>
  // (SASL2).
  xmpp.on("send", (el) => {
    if (el.is("auth") || el.is("authenticate")) used = el.attrs.mechanism;
  });
}
exitWhenOffline(xmpp);

xmpp.on("stanza", (st) => {
  if (st.is("message")) {
    emit(messageEvent(st, { delayed: st.getChild("delay", "urn:xmpp:delay") != null }));
  } else if (st.is("presence")) {
    emit(presenceEvent(st));
  } else if (
    st.is("iq") &&
    st.attrs.type === "set" &&
    st.getChild("query", "jabber:iq:roster")
  ) {
    // A roster push: acknowledge it (RFC 6121 §2.1.6).
    xmpp.send(
      xml("iq", { type: "result", id: st.attrs.id, to: st.attrs.from }),
    );
  }
});

xmpp.on("online", async (address) => {
  const tls = xmpp.socket?.getProtocol?.() ?? xmpp.socket?.socket?.getProtocol?.();
  emit({
    event: "online",
    jid: address.toString(),
    mech: used,
    offered,
    // Over wss:// the TLS layer is the WebSocket's, which does not
    // report its version.
    tls_version: tls ?? (args.service.startsWith("wss:") ? "wss" : null),
    direct_tls: args.service.startsWith("xmpps:") || args.service.startsWith("wss:"),
  });
  await xmpp.send(xml("presence"));
});

async function roster() {
  try {
    const res = await xmpp.iqCaller.request(
      xml("iq", { type: "get" }, xml("query", { xmlns: "jabber:iq:roster" })),
      10000,
    );
    const items = {};
    for (const it of res.getChild("query", "jabber:iq:roster")?.getChildren("item") ?? []) {
      items[it.attrs.jid] = it.attrs.subscription ?? "none";
    }
    emit({ event: "roster", items, xml: res.toString() });
  } catch (err) {
    emit({ event: "roster", items: null, error: String(err), xml: String(err?.element ?? "") });
  }
}

readCommands(xmpp, {
  send: (c) => sendMessage(xmpp, c),
  presence: async (c) => {
    const attrs = {};
    if (c.to) attrs.to = c.to;
    if (c.type) attrs.type = c.type;
    await xmpp.send(xml("presence", attrs));
  },
  roster,
});

start(xmpp);
