// An @xmpp/client peer remote-controlled by interop_test.go, speaking the
// same JSON-lines protocol as ../slixmpp/peer.py: commands on stdin,
// events on stdout, logs on stderr.
//
//   node peer.js --service xmpp://127.0.0.1:5222 --domain localhost \
//     --username alice --password secret [--mech SCRAM-SHA-1]
//
// The server's certificate is self-signed: run with
// NODE_TLS_REJECT_UNAUTHORIZED=0.
import { client, xml } from "@xmpp/client";
import { parseArgs } from "node:util";
import readline from "node:readline";

const { values: args } = parseArgs({
  options: {
    service: { type: "string" },
    domain: { type: "string", default: "localhost" },
    username: { type: "string" },
    password: { type: "string" },
    resource: { type: "string", default: "xmppjs" },
    mech: { type: "string", default: "SCRAM-SHA-1" },
    debug: { type: "boolean", default: false },
  },
});

function emit(ev) {
  process.stdout.write(JSON.stringify(ev) + "\n");
}

let offered = [];
let used = null;

const xmpp = client({
  service: args.service,
  domain: args.domain,
  resource: args.resource,
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
});
if (args.debug || process.env.PARLEY_INTEROP_DEBUG) {
  xmpp.on("input", (data) => process.stderr.write(`IN  ${data}\n`));
  xmpp.on("output", (data) => process.stderr.write(`OUT ${data}\n`));
  xmpp.on("status", (s) => process.stderr.write(`STATUS ${s}\n`));
}

// One connection per run: a failure must fail the test, not reconnect.
xmpp.reconnect.stop();

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
    const body = st.getChildText("body");
    emit({
      event: "message",
      from,
      type: st.attrs.type ?? "normal",
      body: body ?? "",
      delayed: st.getChild("delay", "urn:xmpp:delay") != null,
      xml: st.toString(),
    });
  } else if (st.is("presence")) {
    emit({
      event: "presence",
      from,
      type: st.attrs.type ?? "available",
      xml: st.toString(),
    });
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
    tls_version: tls ?? null,
    direct_tls: args.service.startsWith("xmpps:"),
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

async function command(line) {
  let c;
  try {
    c = JSON.parse(line);
  } catch {
    emit({ event: "error", text: "bad command: " + line });
    return;
  }
  switch (c.cmd) {
    case "send":
      await xmpp.send(
        xml("message", { to: c.to, type: c.type ?? "chat" }, xml("body", {}, c.body)),
      );
      break;
    case "presence": {
      const attrs = {};
      if (c.to) attrs.to = c.to;
      if (c.type) attrs.type = c.type;
      await xmpp.send(xml("presence", attrs));
      break;
    }
    case "roster":
      await roster();
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
