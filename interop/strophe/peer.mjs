// strophe.js in a real browser, remote-controlled like slixmpp/peer.py:
// Debian's chromium, driven by playwright-core, opens peer.html (strophe's
// UMD build and a small client) from an HTTP server of this script on
// 127.0.0.1 — a page of another origin than the XMPP server, as a web
// application's page would be — and connects it to --service:
//
//   node peer.mjs --service https://127.0.0.1:5443/http-bind \
//     --jid alice@localhost --password secret
//
// (wss://…/xmpp-websocket for WebSocket). Strophe runs at its default
// settings: its own choice of SASL mechanism, and BOSH or WebSocket by
// the URL's scheme. The browser ignores certificate errors (the test
// server's certificate is self-signed).
//
// It reads peer.py's JSON commands on stdin (send, presence, roster,
// quit) and writes its events on stdout (online, message, presence,
// roster, wrong_namespace, error), one JSON object a line. quit sends
// unavailable presence and ends the session (strophe's disconnect());
// the script exits 0 once strophe reports the session ended cleanly —
// without its disconnect timeout and without a connection failure — and
// 1 otherwise. The end of stdin ends the script.
import { chromium } from "playwright-core";
import { parseArgs } from "node:util";
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { createInterface } from "node:readline";
import path from "node:path";
import { fileURLToPath } from "node:url";

const { values: args } = parseArgs({
  options: {
    service: { type: "string" },
    jid: { type: "string" },
    password: { type: "string" },
    chromium: { type: "string", default: "/usr/bin/chromium" },
    debug: { type: "boolean", default: false },
  },
});
const here = path.dirname(fileURLToPath(import.meta.url));
const emit = (ev) => process.stdout.write(JSON.stringify(ev) + "\n");
let browser;
let finished = false;
// finish closes the browser and exits with code.
const finish = async (code) => {
  finished = true;
  await browser?.close().catch(() => {});
  server.close();
  process.exit(code);
};
const fail = (text) => {
  if (finished) return;
  emit({ event: "error", text });
  return finish(1);
};

// The page's origin: only the two files of the page are served.
const files = {
  "/": ["peer.html", "text/html; charset=utf-8"],
  "/strophe.umd.min.js": ["node_modules/strophe.js/dist/strophe.umd.min.js", "text/javascript"],
};
const server = createServer(async (req, res) => {
  if (req.url === "/favicon.ico") {
    res.writeHead(204).end();
    return;
  }
  const f = files[req.url];
  if (!f) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { "Content-Type": f[1] }).end(await readFile(path.join(here, f[0])));
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const origin = `http://127.0.0.1:${server.address().port}`;

try {
  browser = await chromium.launch({
    executablePath: args.chromium,
    // Root in CI needs no sandbox.
    args: ["--no-sandbox", "--ignore-certificate-errors"],
  });
} catch (e) {
  await fail(`launching chromium: ${e}`);
}
const page = await browser.newPage({ ignoreHTTPSErrors: true });
// Strophe logs each request at debug level: shown with --debug only.
page.on("console", (m) => (args.debug || m.type() !== "debug") && process.stderr.write(`console ${m.type()}: ${m.text()}\n`));
page.on("pageerror", (e) => process.stderr.write(`page error: ${e}\n`));
page.on("requestfailed", (r) => process.stderr.write(`request failed: ${r.method()} ${r.url()}: ${r.failure()?.errorText}\n`));
page.on("close", () => fail("the page closed"));

let quitting = false;
await page.exposeFunction("emitEvent", async (ev) => {
  if (ev.event !== "disconnected") {
    emit(ev);
    return;
  }
  if (!quitting) {
    await fail(`the session ended before quit: ${ev.text}`);
  } else if (!ev.clean) {
    await fail(`the session did not end cleanly: ${ev.text}`);
  }
  await finish(0);
});
try {
  await page.goto(origin + "/");
  await page.evaluate(([s, j, p, d]) => window.start(s, j, p, d), [args.service, args.jid, args.password, args.debug]);
} catch (e) {
  await fail(`opening the page: ${e}`);
}

// Commands run one after the other, in the order read.
let queue = Promise.resolve();
const lines = createInterface({ input: process.stdin });
lines.on("line", (line) => {
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch {
    process.stderr.write(`not a command: ${line}\n`);
    return;
  }
  if (cmd.cmd === "quit") quitting = true;
  queue = queue.then(() => page.evaluate((c) => window.command(c), cmd)).catch((e) => fail(`${cmd.cmd}: ${e}`));
});
lines.on("close", async () => {
  await queue;
  if (!quitting) await finish(0);
});
