// An external component (XEP-0114) written with @xmpp/component, for
// interop_test.go: it connects, prints {"event":"online"}, and answers
// every chat message with "echo: " and its body; it prints
// {"event":"message","from":…,"body":…} for each. Errors print
// {"event":"error","text":…}.
//
//   node component.cjs --service xmpp://127.0.0.1:5347 \
//     --domain echo.localhost --password secret
"use strict";

const { component, xml } = require("@xmpp/component");
const { parseArgs } = require("node:util");

const { values: args } = parseArgs({
  options: {
    service: { type: "string" },
    domain: { type: "string" },
    password: { type: "string" },
  },
});
const emit = (ev) => process.stdout.write(JSON.stringify(ev) + "\n");

const xmpp = component({ service: args.service, domain: args.domain, password: args.password });
xmpp.on("error", (err) => emit({ event: "error", text: String(err) }));
xmpp.on("online", (address) => emit({ event: "online", jid: address.toString() }));
xmpp.on("stanza", async (st) => {
  if (!st.is("message") || !st.getChildText("body")) return;
  emit({ event: "message", from: st.attrs.from, body: st.getChildText("body") });
  await xmpp.send(xml("message", { type: "chat", to: st.attrs.from, from: st.attrs.to },
    xml("body", {}, "echo: " + st.getChildText("body"))));
});
// On failure, report and let node end by itself: process.exit could drop
// what is still being written to a pipe.
xmpp.start().catch((err) => {
  emit({ event: "error", text: String(err) });
  process.exitCode = 1;
  xmpp.stop().catch(() => {});
});
