// Code shared by the @xmpp/client peers of the interop tests: the command
// line, the JSON events on stdout (one per line), the JSON commands on
// stdin (one per line), debug logging on stderr and start-up.
//
// The server's certificate is self-signed: run with
// NODE_TLS_REJECT_UNAUTHORIZED=0.
import { xml } from "@xmpp/client";
import { parseArgs } from "node:util";
import readline from "node:readline";

// The command line: the options every peer takes, plus options (a
// node:util parseArgs options object).
//
// --timeout (milliseconds) is the test's own login timeout: give it to
// client() as its timeout option, which bounds each wait for the server
// (stream open, STARTTLS, SASL, bind, stream close); the library's
// default, 2 s, is too short for a loaded CI machine.
export function peerArgs(options = {}) {
  const { values } = parseArgs({
    options: {
      service: { type: "string" },
      domain: { type: "string", default: "localhost" },
      username: { type: "string" },
      password: { type: "string" },
      timeout: { type: "string" },
      debug: { type: "boolean", default: false },
      ...options,
    },
  });
  if (values.timeout !== undefined) {
    values.timeout = Number(values.timeout);
    if (!Number.isInteger(values.timeout) || values.timeout <= 0) {
      throw new Error(`--timeout: want milliseconds, got ${values.timeout}`);
    }
  }
  return values;
}

export function emit(ev) {
  process.stdout.write(JSON.stringify(ev) + "\n");
}

// Logs the XML (and, with status, the connection status) on stderr with
// --debug or PARLEY_INTEROP_DEBUG, stops reconnection (one connection per
// run: a failure must fail the test, not reconnect) and reports errors.
export function setup(xmpp, args, { status = false } = {}) {
  if (args.debug || process.env.PARLEY_INTEROP_DEBUG) {
    xmpp.on("input", (data) => process.stderr.write(`IN  ${data}\n`));
    xmpp.on("output", (data) => process.stderr.write(`OUT ${data}\n`));
    if (status) xmpp.on("status", (s) => process.stderr.write(`STATUS ${s}\n`));
  }
  xmpp.reconnect.stop();
  xmpp.on("error", (err) => {
    emit({ event: "error", text: String(err?.stack ?? err) });
    process.exitCode = 1;
  });
}

// Emits "offline" and exits when the connection ends.
export function exitWhenOffline(xmpp) {
  xmpp.on("offline", () => {
    emit({ event: "offline" });
    process.exit(process.exitCode ?? 0);
  });
}

// The "message" and "presence" events of a stanza; extra adds fields to
// the message event.
export function messageEvent(st, extra = {}) {
  return {
    event: "message",
    from: st.attrs.from ?? "",
    type: st.attrs.type ?? "normal",
    body: st.getChildText("body") ?? "",
    ...extra,
    xml: st.toString(),
  };
}

export function presenceEvent(st) {
  return {
    event: "presence",
    from: st.attrs.from ?? "",
    type: st.attrs.type ?? "available",
    xml: st.toString(),
  };
}

// Emits the message and presence events of every such stanza received.
export function emitStanzas(xmpp) {
  xmpp.on("stanza", (st) => {
    if (st.is("message")) {
      emit(messageEvent(st));
    } else if (st.is("presence")) {
      emit(presenceEvent(st));
    }
  });
}

// {"cmd": "send", "to", "body", "type" (chat)}
export function sendMessage(xmpp, c) {
  return xmpp.send(
    xml("message", { to: c.to, type: c.type ?? "chat" }, xml("body", {}, c.body)),
  );
}

// Reads JSON commands from stdin: commands maps a name to an async
// function of the command; "quit" stops the client, as does the end of
// stdin.
export function readCommands(xmpp, commands) {
  async function command(line) {
    let c;
    try {
      c = JSON.parse(line);
    } catch {
      emit({ event: "error", text: "bad command: " + line });
      return;
    }
    if (c.cmd === "quit") {
      await xmpp.stop();
    } else if (Object.hasOwn(commands, c.cmd)) {
      await commands[c.cmd](c);
    } else {
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
  return rl;
}

// Starts the client; a failure to start is an error event and exit 1.
export function start(xmpp, prefix = "start: ") {
  return xmpp.start().catch((err) => {
    emit({ event: "error", text: prefix + String(err?.stack ?? err) });
    process.exit(1);
  });
}
