#!/usr/bin/python3
"""A slixmpp client for the multi-user chat scenario of muc_test.go.

Run with Debian's /usr/bin/python3 (python3-slixmpp). Like peer.py it logs
in, then reads JSON commands from stdin and writes JSON events to stdout,
one per line. Rooms are handled by slixmpp's own xep_0045 plugin
(join_muc_wait, get_room_config/set_room_config, set_subject, leave_muc).
slixmpp 1.8 prints to stdout while joining, so events go to the original
stdout and everything else printed goes to stderr.

Commands:
  {"cmd": "join", "room": ROOM, "nick": N}   answered by "joined"
  {"cmd": "configure", "room": ROOM}         fetch the form, submit it unchanged; answered by "configured"
  {"cmd": "say", "room": ROOM, "body": B}    groupchat message
  {"cmd": "subject", "room": ROOM, "subject": S}
  {"cmd": "leave", "room": ROOM, "nick": N}
  {"cmd": "quit"}

Events:
  {"event": "online", "jid", "mech", "tls_version"}
  {"event": "presence", "from", "type", "xml"}
  {"event": "joined", "ok", "codes", "affiliation", "role", "occupants", "error"}
  {"event": "configured", "ok", "fields", "error"}
  {"event": "muc_presence", "from", "type", "codes", "role", "affiliation", "xml"}
  {"event": "groupchat", "from", "body", "id", "delayed"}
  {"event": "subject", "from", "subject"}
  {"event": "raw_presence", "from", "type", "xml"}   every presence, before plugins
  {"event": "error", "text"}
"""

import argparse
import asyncio
import json
import logging
import ssl
import sys

import slixmpp
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import StanzaPath

OUT = sys.stdout
sys.stdout = sys.stderr


def emit(**ev):
    OUT.write(json.dumps(ev) + "\n")
    OUT.flush()


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
    for plugin in ("xep_0004", "xep_0030", "xep_0045", "xep_0203"):
        xmpp.register_plugin(plugin)

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

    async def join(room, nick):
        try:
            pres, _subject, occupants, _history = await xmpp["xep_0045"].join_muc_wait(
                slixmpp.JID(room), nick, maxstanzas=0, timeout=10)
            emit(event="joined", ok=True, codes=sorted(pres["muc"]["status_codes"]),
                 affiliation=pres["muc"]["affiliation"], role=pres["muc"]["role"],
                 occupants=[str(o["from"]) for o in occupants])
        except Exception as e:  # PresenceError, TimeoutError
            emit(event="joined", ok=False, error=repr(e), codes=[])

    async def configure(room):
        try:
            form = await xmpp["xep_0045"].get_room_config(slixmpp.JID(room), timeout=10)
            fields = sorted(form.get_fields().keys())
            await xmpp["xep_0045"].set_room_config(slixmpp.JID(room), form, timeout=10)
            emit(event="configured", ok=True, fields=fields)
        except Exception as e:
            emit(event="configured", ok=False, error=repr(e))

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
        if cmd == "join":
            asyncio.ensure_future(join(c["room"], c["nick"]))
        elif cmd == "configure":
            asyncio.ensure_future(configure(c["room"]))
        elif cmd == "say":
            xmpp.send_message(mto=c["room"], mbody=c["body"], mtype="groupchat")
        elif cmd == "subject":
            xmpp["xep_0045"].set_subject(slixmpp.JID(c["room"]), c["subject"])
        elif cmd == "leave":
            xmpp["xep_0045"].leave_muc(slixmpp.JID(c["room"]), c["nick"])
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

    def on_muc_presence(p):
        emit(event="muc_presence", **{"from": str(p["from"])}, type=p["type"],
             codes=sorted(p["muc"]["status_codes"]), role=p["muc"]["role"],
             affiliation=p["muc"]["affiliation"], xml=str(p))

    def on_groupchat(m):
        if m["body"]:
            emit(event="groupchat", **{"from": str(m["from"])}, body=m["body"], id=m["id"],
                 delayed=bool(m["delay"]["stamp"]))

    xmpp.add_event_handler("session_start", session_start)
    # Every presence as received: xep_0045 drops what comes from a room it
    # no longer tracks (its own unavailable presence after leave_muc).
    xmpp.register_handler(Callback("raw presence", StanzaPath("presence"), lambda p: emit(
        event="raw_presence", **{"from": str(p["from"])}, type=p["type"], xml=str(p))))
    xmpp.add_event_handler("groupchat_presence", on_muc_presence)
    xmpp.add_event_handler("groupchat_message", on_groupchat)
    xmpp.add_event_handler("groupchat_subject", lambda m: emit(
        event="subject", **{"from": str(m["from"])}, subject=m["subject"]))
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
