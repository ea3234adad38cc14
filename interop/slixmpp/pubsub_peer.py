#!/usr/bin/python3
"""A slixmpp client for the PEP scenarios of pubsub_test.go.

Run with Debian's /usr/bin/python3 (python3-slixmpp). Like peer.py it logs
in, then reads JSON commands from stdin and writes JSON events to stdout,
one per line. It uses slixmpp's own plugins: xep_0060 and xep_0163 (PEP,
with +notify interests advertised through xep_0115), xep_0118 (tune),
xep_0084 (avatars) and xep_0048/xep_0049 (legacy bookmarks). slixmpp 1.8
has no XEP-0402 plugin: Bookmarks 2 items go through xep_0060 with
publish-options, as XEP-0402 §3 shows.

Commands:
  {"cmd": "subscribe", "to": JID}    presence subscription request
  {"cmd": "tune", "title": T}        xep_0118 publish_tune, answered by "published"
  {"cmd": "avatar"}                  xep_0084 data then metadata, answered by "published" with the id
  {"cmd": "bookmark_pep", "jid": ROOM, "name": N}
                                     XEP-0402 item via xep_0060 publish with options
  {"cmd": "bookmarks_get"}           xep_0048 over xep_0049, answered by "bookmarks"
  {"cmd": "bookmarks_set", "rooms": [{"jid", "name"}]}
                                     xep_0048 over xep_0049, answered by "stored"
  {"cmd": "pep_items", "node": N}    xep_0060 get_items on the own account, answered by "items"
  {"cmd": "quit"}

Events:
  {"event": "online", "jid", "mech", "tls_version"}
  {"event": "presence", "from", "type", "xml"}
  {"event": "pep", "from", "node", "id", "retract", "xml"}
  {"event": "published", "ok", "id", "error"}
  {"event": "bookmarks", "ok", "rooms": [{"jid", "name"}], "error"}
  {"event": "stored", "ok", "error"}
  {"event": "items", "ok", "ids", "error"}
  {"event": "error", "text"}
"""

import argparse
import asyncio
import hashlib
import json
import logging
import ssl
import sys

import slixmpp
from slixmpp.xmlstream import ET
from slixmpp.plugins.xep_0048.stanza import Bookmarks

BOOKMARKS = "urn:xmpp:bookmarks:1"
# Any bytes do: XEP-0084 ids are their SHA-1.
AVATAR = bytes.fromhex("89504e470d0a1a0a") + b"parley interop avatar"


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
    for plugin in ("xep_0004", "xep_0030", "xep_0115", "xep_0060", "xep_0163",
                   "xep_0118", "xep_0084", "xep_0049", "xep_0048"):
        xmpp.register_plugin(plugin)
    xmpp.auto_authorize = True
    xmpp.auto_subscribe = True

    loop = asyncio.get_event_loop()
    done = loop.create_future()

    def finish(code, text=None):
        if text is not None:
            emit(event="error", text=text)
        if not done.done():
            done.set_result(code)

    def session_bind(_):
        xmpp["xep_0163"].add_interest(BOOKMARKS)

    async def session_start(_):
        xmpp.send_presence()
        ssl_obj = xmpp.transport.get_extra_info("ssl_object") if xmpp.transport else None
        emit(event="online", jid=str(xmpp.boundjid),
             mech=xmpp["feature_mechanisms"].mech.name,
             tls_version=ssl_obj.version() if ssl_obj else None)

    def on_pep(retract):
        def handler(msg):
            items = msg["pubsub_event"]["items"]
            node = items["node"]
            # A list first: iterating the ElementBase itself while reading
            # it does not terminate in slixmpp 1.8.
            for it in list(items["substanzas"]):
                emit(event="pep", **{"from": str(msg["from"])}, node=node,
                     id=it["id"], retract=retract, xml=str(msg))
        return handler

    def options(fields):
        form = xmpp["xep_0004"].make_form(ftype="submit")
        form.add_field(var="FORM_TYPE", ftype="hidden",
                       value="http://jabber.org/protocol/pubsub#publish-options")
        for var, value in fields.items():
            form.add_field(var=var, value=value)
        return form

    async def tune(title):
        try:
            await xmpp["xep_0118"].publish_tune(artist="Parley", title=title, timeout=10)
            emit(event="published", ok=True)
        except Exception as e:  # IqError, IqTimeout
            emit(event="published", ok=False, error=repr(e))

    async def avatar():
        aid = hashlib.sha1(AVATAR).hexdigest()
        try:
            await xmpp["xep_0084"].publish_avatar(AVATAR, timeout=10)
            await xmpp["xep_0084"].publish_avatar_metadata(
                [{"id": aid, "type": "image/png", "bytes": len(AVATAR)}], timeout=10)
            emit(event="published", ok=True, id=aid)
        except Exception as e:
            emit(event="published", ok=False, error=repr(e))

    async def bookmark_pep(room, name):
        conf = ET.Element("{%s}conference" % BOOKMARKS, {"name": name, "autojoin": "true"})
        ET.SubElement(conf, "{%s}nick" % BOOKMARKS).text = "interop"
        try:
            await xmpp["xep_0060"].publish(
                xmpp.boundjid.bare, BOOKMARKS, id=room, payload=conf,
                options=options({"pubsub#persist_items": "true", "pubsub#max_items": "max",
                                 "pubsub#send_last_published_item": "never",
                                 "pubsub#access_model": "whitelist"}),
                timeout=10)
            emit(event="published", ok=True, id=room)
        except Exception as e:
            emit(event="published", ok=False, error=repr(e))

    async def bookmarks_get():
        try:
            iq = await xmpp["xep_0048"].get_bookmarks(timeout=10)
            rooms = [{"jid": str(c["jid"]), "name": c["name"]}
                     for c in iq["private"]["bookmarks"]["conferences"]]
            emit(event="bookmarks", ok=True, rooms=rooms)
        except Exception as e:
            emit(event="bookmarks", ok=False, error=repr(e), rooms=[])

    async def bookmarks_set(rooms):
        bm = Bookmarks()
        for r in rooms:
            bm.add_conference(r["jid"], "interop", name=r["name"])
        try:
            await xmpp["xep_0048"].set_bookmarks(bm, timeout=10)
            emit(event="stored", ok=True)
        except Exception as e:
            emit(event="stored", ok=False, error=repr(e))

    async def pep_items(node):
        try:
            iq = await xmpp["xep_0060"].get_items(xmpp.boundjid.bare, node, timeout=10)
            emit(event="items", ok=True, ids=sorted(it["id"] for it in iq["pubsub"]["items"]))
        except Exception as e:
            emit(event="items", ok=False, error=repr(e), ids=[])

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
        if cmd == "subscribe":
            xmpp.send_presence(pto=c["to"], ptype="subscribe")
        elif cmd == "tune":
            asyncio.ensure_future(tune(c["title"]))
        elif cmd == "avatar":
            asyncio.ensure_future(avatar())
        elif cmd == "bookmark_pep":
            asyncio.ensure_future(bookmark_pep(c["jid"], c["name"]))
        elif cmd == "bookmarks_get":
            asyncio.ensure_future(bookmarks_get())
        elif cmd == "bookmarks_set":
            asyncio.ensure_future(bookmarks_set(c["rooms"]))
        elif cmd == "pep_items":
            asyncio.ensure_future(pep_items(c["node"]))
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

    xmpp.add_event_handler("session_bind", session_bind)
    xmpp.add_event_handler("session_start", session_start)
    for name in ("pubsub_publish", "user_tune_publish", "avatar_metadata_publish"):
        xmpp.add_event_handler(name, on_pep(False))
    for name in ("pubsub_retract", "user_tune_retract", "avatar_metadata_retract"):
        xmpp.add_event_handler(name, on_pep(True))
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
