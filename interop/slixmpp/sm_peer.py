#!/usr/bin/python3
"""A slixmpp client for the stream management scenario of sm_test.go.

Run with Debian's /usr/bin/python3 (python3-slixmpp). Like peer.py it logs
in, then reads JSON commands from stdin and writes JSON events to stdout,
one per line; stream management is slixmpp's own xep_0198 plugin, which
enables SM with resumption after binding and resumes on reconnection.

Commands:
  {"cmd": "send", "to": JID, "body": TEXT}
  {"cmd": "cut"}      drops the TCP connection without closing the stream
                      (no closing tag, no TLS alert), then reconnects: the
                      plugin resumes the session
  {"cmd": "ack"}      requests an ack from the server (<r/>)
  {"cmd": "quit"}

Events:
  {"event": "online", "jid", "mech", "tls_version"}
  {"event": "sm_enabled", "id", "resume"}
  {"event": "resumed"}
  {"event": "sm_failed"}
  {"event": "acked", "body"}     the server acknowledged a message we sent
  {"event": "presence", "from", "type", "xml"}
  {"event": "message", "from", "type", "body", "xml"}
  {"event": "error", "text"}
"""

import argparse
import asyncio
import json
import logging
import socket
import ssl
import struct
import sys

import slixmpp


def emit(**ev):
    sys.stdout.write(json.dumps(ev) + "\n")
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jid", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--debug", action="store_true")
    args = ap.parse_args()

    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING,
                        stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")

    xmpp = slixmpp.ClientXMPP(args.jid, args.password, plugin_config={
        "feature_mechanisms": {"use_mech": "SCRAM-SHA-256"}})
    xmpp.ssl_context.check_hostname = False
    xmpp.ssl_context.verify_mode = ssl.CERT_NONE
    # As in peer.py: no channel-binding data, so slixmpp sends gs2 flag "n".
    mechs = xmpp["feature_mechanisms"]
    default_cb = mechs.sasl_callback

    def no_cb(required, optional):
        creds = default_cb(required, optional)
        creds.pop("channel_binding", None)
        return creds
    mechs.sasl_callback = no_cb
    for plugin in ("xep_0030", "xep_0198", "xep_0199"):
        xmpp.register_plugin(plugin)
    xmpp.auto_authorize = None
    xmpp.auto_subscribe = False

    loop = asyncio.get_event_loop()
    done = loop.create_future()
    state = {"cutting": False, "quitting": False}

    def finish(code, text=None):
        if text is not None:
            emit(event="error", text=text)
        if not done.done():
            done.set_result(code)

    async def session_start(_):
        xmpp.send_presence()
        ssl_obj = xmpp.transport.get_extra_info("ssl_object") if xmpp.transport else None
        emit(event="online", jid=str(xmpp.boundjid),
             mech=xmpp["feature_mechanisms"].mech.name,
             tls_version=ssl_obj.version() if ssl_obj else None)

    def on_message(msg):
        emit(event="message", **{"from": str(msg["from"])}, type=msg["type"],
             body=msg["body"], xml=str(msg))

    def on_acked(st):
        if st.name == "message":
            emit(event="acked", body=st["body"])

    def cut():
        # Reset the TCP connection under TLS: the server sees the
        # connection die without </stream:stream>.
        sock = xmpp.transport.get_extra_info("socket") if xmpp.transport else None
        if sock is None:
            emit(event="error", text="no socket to cut")
            return
        state["cutting"] = True
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        xmpp.transport.abort()

    def on_disconnected(_):
        if state["cutting"] and not state["quitting"]:
            state["cutting"] = False
            loop.call_later(0.5, lambda: xmpp.connect((args.host, args.port), force_starttls=True))
            return
        finish(0)

    async def quit_():
        state["quitting"] = True
        xmpp.send_presence(ptype="unavailable")
        xmpp.disconnect(wait=2.0)

    def on_command(line):
        try:
            c = json.loads(line)
        except ValueError:
            emit(event="error", text="bad command: " + line)
            return
        cmd = c.get("cmd")
        if cmd == "send":
            xmpp.send_message(mto=c["to"], mbody=c["body"], mtype=c.get("type", "chat"))
        elif cmd == "cut":
            cut()
        elif cmd == "ack":
            xmpp["xep_0198"].request_ack()
        elif cmd == "quit":
            asyncio.ensure_future(quit_())
        else:
            emit(event="error", text="unknown command: " + line)

    buf = bytearray()

    def on_stdin():
        data = sys.stdin.buffer.raw.read(65536)
        if not data:
            loop.remove_reader(sys.stdin.fileno())
            asyncio.ensure_future(quit_())
            return
        buf.extend(data)
        while b"\n" in buf:
            i = buf.index(b"\n")
            line = buf[:i].decode()
            del buf[: i + 1]
            if line.strip():
                on_command(line)

    xmpp.add_event_handler("session_start", session_start)
    xmpp.add_event_handler("session_resumed", lambda _: emit(event="resumed"))
    xmpp.add_event_handler("sm_enabled", lambda st: emit(event="sm_enabled", id=st["id"], resume=bool(st["resume"])))
    xmpp.add_event_handler("sm_failed", lambda _: emit(event="sm_failed"))
    xmpp.add_event_handler("stanza_acked", on_acked)
    xmpp.add_event_handler("message", on_message)
    xmpp.add_event_handler("presence", lambda p: emit(event="presence", **{"from": str(p["from"])},
                                                      type=p["type"], xml=str(p)))
    xmpp.add_event_handler("failed_all_auth", lambda _: finish(1, "authentication failed"))
    xmpp.add_event_handler("connection_failed", lambda e: finish(1, "connection failed: %r" % (e,)))
    xmpp.add_event_handler("disconnected", on_disconnected)
    loop.add_reader(sys.stdin.fileno(), on_stdin)

    xmpp.connect((args.host, args.port), force_starttls=True)
    sys.exit(loop.run_until_complete(done))


if __name__ == "__main__":
    main()
