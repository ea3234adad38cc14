#!/usr/bin/python3
"""A slixmpp client for the carbons and MAM scenarios of mam_test.go.

Run with Debian's /usr/bin/python3 (python3-slixmpp). Like peer.py it logs
in, then reads JSON commands from stdin and writes JSON events to stdout,
one per line; it uses slixmpp's own xep_0280 and xep_0313 plugins.

Commands:
  {"cmd": "send", "to": JID, "body": TEXT}
  {"cmd": "carbons"}                enables carbons (xep_0280), answered by "carbons"
  {"cmd": "mam", "max": N}          pages through the whole archive with
                                    xep_0313 (N per page), answered by "mam"
  {"cmd": "quit"}

Events:
  {"event": "online", "jid", "mech", "tls_version"}
  {"event": "presence", "from", "type", "xml"}
  {"event": "message", "from", "type", "body", "stanza_id", "xml"}
  {"event": "carbon", "direction": "sent"|"received", "from", "to", "body", "xml"}
  {"event": "carbons", "ok", "error"}
  {"event": "mam", "ok", "error", "results": [{"id", "from", "to", "body", "stamp"}]}
  {"event": "error", "text"}
"""

import argparse
import asyncio
import json
import logging
import ssl
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
    for plugin in ("xep_0030", "xep_0059", "xep_0203", "xep_0280", "xep_0297", "xep_0313", "xep_0359"):
        xmpp.register_plugin(plugin)
    xmpp.auto_authorize = None
    xmpp.auto_subscribe = False

    loop = asyncio.get_event_loop()
    done = loop.create_future()

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
        if msg.xml.find("{urn:xmpp:carbons:2}sent") is not None or \
           msg.xml.find("{urn:xmpp:carbons:2}received") is not None or \
           msg.xml.find("{urn:xmpp:mam:2}result") is not None:
            return  # carbons and archive results have their own events
        sid = msg.xml.find("{urn:xmpp:sid:0}stanza-id")
        emit(event="message", **{"from": str(msg["from"])}, type=msg["type"],
             body=msg["body"],
             stanza_id=sid.get("id") if sid is not None and sid.get("by") == xmpp.boundjid.bare else None,
             xml=str(msg))

    def on_carbon(direction):
        def handler(msg):
            inner = msg["carbon_%s" % direction]
            emit(event="carbon", direction=direction, **{"from": str(inner["from"])},
                 to=str(inner["to"]), body=inner["body"], xml=str(msg))
        return handler

    async def carbons():
        try:
            await xmpp["xep_0280"].enable(timeout=10)
            emit(event="carbons", ok=True)
        except Exception as e:  # IqError, IqTimeout
            emit(event="carbons", ok=False, error=repr(e))

    async def mam(page):
        results = []
        try:
            async for msg in xmpp["xep_0313"].iterate(rsm={"max": page}):
                res = msg["mam_result"]
                fwd = res["forwarded"]
                inner = fwd["stanza"]
                results.append({"id": res["id"], "from": str(inner["from"]), "to": str(inner["to"]),
                                "body": inner["body"], "stamp": str(fwd["delay"]["stamp"])})
            emit(event="mam", ok=True, results=results)
        except Exception as e:
            emit(event="mam", ok=False, error=repr(e), results=results)

    async def quit_():
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
        elif cmd == "carbons":
            asyncio.ensure_future(carbons())
        elif cmd == "mam":
            asyncio.ensure_future(mam(int(c.get("max", 10))))
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
    xmpp.add_event_handler("message", on_message)
    xmpp.add_event_handler("carbon_received", on_carbon("received"))
    xmpp.add_event_handler("carbon_sent", on_carbon("sent"))
    xmpp.add_event_handler("presence", lambda p: emit(event="presence", **{"from": str(p["from"])},
                                                      type=p["type"], xml=str(p)))
    xmpp.add_event_handler("failed_all_auth", lambda _: finish(1, "authentication failed"))
    xmpp.add_event_handler("connection_failed", lambda e: finish(1, "connection failed: %r" % (e,)))
    xmpp.add_event_handler("disconnected", lambda _: finish(0))
    loop.add_reader(sys.stdin.fileno(), on_stdin)

    xmpp.connect((args.host, args.port), force_starttls=True)
    sys.exit(loop.run_until_complete(done))


if __name__ == "__main__":
    main()
